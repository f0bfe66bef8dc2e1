"""Tests for runtime.timing: the engine's one definition of waits, send windows and zones.

Three kinds of evidence, from most to least independent of the implementation:

1. a brute-force oracle that walks UTC minute by minute and asks "is this local minute open?",
   driven by Hypothesis around the DST transitions of 2024-2027 in zones with odd offsets;
2. pandas' CustomBusinessHour / CustomBusinessDay on local dates away from DST transitions;
3. the worked examples users rely on (spec §3), written out by hand.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from time import perf_counter
from zoneinfo import ZoneInfo

import holidays
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pandas.tseries.offsets import CustomBusinessDay, CustomBusinessHour

from runtime.timing import (
    DEFAULT_OPEN_HOURS,
    OpenHours,
    add_business_days,
    add_business_hours,
    add_calendar,
    add_elapsed,
    add_open_time,
    is_open,
    local_moment,
    next_open,
    resolve_zone,
)

ZONES = (
    "America/New_York",
    "Europe/London",
    "Europe/Paris",
    "Australia/Sydney",
    "Asia/Kolkata",
    "America/St_Johns",
    "Pacific/Chatham",
    "Asia/Kathmandu",
    "UTC",
)
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
OFFICE_US = OpenHours(frozenset(range(5)), ((time(9), time(17)),), ("US",))

# The oracle gives up after this much time; beyond it the test only checks that the
# implementation agrees the answer lies further out (sparse schedules would make it slow).
ORACLE_HORIZON_MINUTES = 14 * 24 * 60


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def wall(moment: datetime, tz: tzinfo) -> datetime:
    """What the clock on the wall shows at `moment`.

    Going through UTC matters: `astimezone` to the tzinfo a datetime already has returns it
    as is, so a wall time that does not exist (in a gap) would come back unchanged.
    """
    return moment.astimezone(UTC).astimezone(tz).replace(tzinfo=None)


# --- DST transitions, to cluster generated instants where bugs live --------------------------


@functools.cache
def transitions(zone: str) -> tuple[datetime, ...]:
    """UTC instants in 2024-2027 where the offset changes: daily scan, then per minute.

    Daily steps are safe because no zone here changes its offset twice within a day.
    """
    tz = ZoneInfo(zone)
    found = []
    day = datetime(2024, 1, 1, tzinfo=UTC)
    while day < datetime(2028, 1, 1, tzinfo=UTC):
        before = day.astimezone(tz).utcoffset()
        if (day + timedelta(days=1)).astimezone(tz).utcoffset() != before:
            minute = next(
                m
                for m in range(1, 24 * 60 + 1)
                if (day + m * MINUTE).astimezone(tz).utcoffset() != before
            )
            found.append(day + minute * MINUTE)
        day += timedelta(days=1)
    return tuple(found)


ALL_TRANSITIONS = tuple(sorted({t for zone in ZONES for t in transitions(zone)}))
HOLIDAY_ANCHORS = tuple(
    datetime(y, m, d, tzinfo=UTC)
    for y, m, d in [
        (2024, 3, 29),  # Good Friday (GB, DE), also the EU spring-forward weekend
        (2024, 12, 24),
        (2025, 5, 1),  # Labour Day (DE, FR)
        (2025, 12, 31),
        (2026, 11, 25),  # Thanksgiving eve (US)
        (2027, 4, 2),  # Good Friday
    ]
)


def test_transition_scan_finds_known_dates() -> None:
    assert datetime(2026, 3, 8, 7, tzinfo=UTC) in transitions("America/New_York")
    assert datetime(2026, 11, 1, 6, tzinfo=UTC) in transitions("America/New_York")
    assert len(transitions("Pacific/Chatham")) == 8
    assert transitions("Asia/Kolkata") == transitions("UTC") == ()


# --- Hypothesis strategies --------------------------------------------------------------------

# Boundaries near the 01:00-03:45 local hours where transitions happen, office hours, and
# 24:00 (1440), which OpenHours spells time.max.
MINUTE_OF_DAY = st.one_of(
    st.integers(0, 24 * 60),
    st.sampled_from([0, 60, 90, 105, 120, 150, 165, 180, 225, 540, 1020, 1440]),
)


def clock_time(minute_of_day: int) -> time:
    return time.max if minute_of_day == 24 * 60 else time(minute_of_day // 60, minute_of_day % 60)


HOLIDAY_SETS = st.sampled_from([(), ("US",), ("GB",), ("DE",), ("FR",), ("US-CA",), ("US", "FR")])


@st.composite
def open_hours(draw: st.DrawFn) -> OpenHours:
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    points = sorted(draw(st.lists(MINUTE_OF_DAY, min_size=2, max_size=6, unique=True)))
    points = points[: len(points) // 2 * 2]
    windows = tuple(
        (clock_time(a), clock_time(b)) for a, b in zip(points[::2], points[1::2], strict=True)
    )
    return OpenHours(days, windows, draw(HOLIDAY_SETS))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ZoneInfo, datetime, OpenHours]:
    """A zone, a minute-aligned UTC instant within 3 days of a transition or holiday, a schedule."""
    zone = draw(st.sampled_from(ZONES))
    anchors = transitions(zone) or ALL_TRANSITIONS
    use_transition = draw(st.integers(0, 3)) > 0  # three in four
    anchor = draw(st.sampled_from(anchors if use_transition else HOLIDAY_ANCHORS))
    near = st.integers(-12 * 60, 2 * 60)  # mostly waits that run over the change
    start = anchor + timedelta(minutes=draw(near | st.integers(-3 * 24 * 60, 3 * 24 * 60)))
    return ZoneInfo(zone), start, draw(open_hours())


# --- The brute-force oracle -------------------------------------------------------------------
# Minute steps are exact here: every window edge, UTC offset and transition of these zones falls
# on a whole UTC minute, so a minute is open exactly when its first instant is.


def calendar(code: str, years: range | tuple[()] = ()) -> holidays.HolidayBase:
    country, _, subdiv = code.partition("-")
    return holidays.country_holidays(country, subdiv=subdiv or None, years=years)


@functools.cache
def holiday_calendar(code: str) -> holidays.HolidayBase:
    return calendar(code)  # fills in each year when first asked


def oracle_is_open(moment: datetime, hours: OpenHours, tz: tzinfo) -> bool:
    local = moment.astimezone(tz)
    if local.weekday() not in hours.days:
        return False
    if any(local.date() in holiday_calendar(code) for code in hours.holidays):
        return False
    now = local.time()
    return any(begin <= now and (now < end or end == time.max) for begin, end in hours.hours)


def oracle_minutes(start: datetime) -> Iterator[datetime]:
    return (start + i * MINUTE for i in range(ORACLE_HORIZON_MINUTES))


def oracle_next_open(start: datetime, hours: OpenHours, tz: tzinfo) -> datetime | None:
    return next((t for t in oracle_minutes(start) if oracle_is_open(t, hours, tz)), None)


def oracle_add_open_minutes(
    start: datetime, minutes: int, hours: OpenHours, tz: tzinfo
) -> datetime | None:
    counted = 0
    for t in oracle_minutes(start):
        if oracle_is_open(t, hours, tz):
            counted += 1
            if counted == minutes:
                return t + MINUTE
    return None


def assert_matches_oracle(actual: datetime, expected: datetime | None, start: datetime) -> None:
    assert actual.tzinfo is UTC
    if expected is None:
        assert actual > start + ORACLE_HORIZON_MINUTES * MINUTE
    else:
        assert actual == expected


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_next_open_and_is_open_match_oracle(scenario: tuple[ZoneInfo, datetime, OpenHours]) -> None:
    tz, start, hours = scenario
    assert is_open(start, hours, tz) == oracle_is_open(start, hours, tz)
    assert_matches_oracle(next_open(start, hours, tz), oracle_next_open(start, hours, tz), start)


@settings(max_examples=250, deadline=None)
@given(scenarios(), st.integers(1, 4))
def test_add_business_hours_matches_oracle(
    scenario: tuple[ZoneInfo, datetime, OpenHours], n: int
) -> None:
    tz, start, hours = scenario
    expected = oracle_add_open_minutes(start, n * 60, hours, tz)
    assert_matches_oracle(add_business_hours(start, n, hours, tz), expected, start)


@settings(max_examples=250, deadline=None)
@given(scenarios(), st.integers(1, 300))
def test_add_open_time_in_minutes_matches_oracle(
    scenario: tuple[ZoneInfo, datetime, OpenHours], minutes: int
) -> None:
    tz, start, hours = scenario
    expected = oracle_add_open_minutes(start, minutes, hours, tz)
    assert_matches_oracle(add_open_time(start, minutes * MINUTE, hours, tz), expected, start)


@settings(max_examples=60, deadline=None)
@given(scenarios(), st.integers(1, 40), st.integers(1, 40))
def test_business_hours_compose(
    scenario: tuple[ZoneInfo, datetime, OpenHours], a: int, b: int
) -> None:
    """Beyond the oracle's reach: waiting a then b business hours is waiting a + b."""
    tz, start, hours = scenario
    assert add_business_hours(add_business_hours(start, a, hours, tz), b, hours, tz) == (
        add_business_hours(start, a + b, hours, tz)
    )


# --- pandas cross-checks, in naive local time away from DST transitions -----------------------


def pandas_holidays(hours: OpenHours, first: datetime, last: datetime) -> list[date]:
    """pandas knows only the holidays it is given: cover every year the wait can span."""
    years = range(first.year - 1, last.year + 2)
    return sorted(day for code in hours.holidays for day in calendar(code, years))


def pandas_clock(moment: time) -> str:
    return "00:00" if moment == time.max else moment.strftime("%H:%M")  # pandas: to midnight


def weekmask(hours: OpenHours) -> str:
    return " ".join(WEEKDAY_NAMES[day] for day in sorted(hours.days))


def crosses_transition(start: datetime, end: datetime, zone: str) -> bool:
    return any(start <= t <= end for t in transitions(zone))


# No zone above changes offset between Dec 1 and Feb 28 or between Jun 1 and Aug 31.
SAFE_LOCAL_STARTS = st.one_of(
    st.datetimes(datetime(2024, 12, 1), datetime(2025, 2, 10)),
    st.datetimes(datetime(2025, 6, 1), datetime(2025, 8, 10)),
    st.datetimes(datetime(2026, 12, 1), datetime(2027, 2, 10)),
    st.datetimes(datetime(2027, 6, 1), datetime(2027, 8, 10)),
).map(lambda moment: moment.replace(second=0, microsecond=0))


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(ZONES), SAFE_LOCAL_STARTS, open_hours(), st.integers(1, 60))
def test_add_business_hours_matches_pandas(
    zone: str, local_start: datetime, hours: OpenHours, n: int
) -> None:
    # pandas cannot express a window through midnight into one that starts at 00:00.
    assume(not (hours.hours[0][0] == time(0) and hours.hours[-1][1] == time.max))
    tz = ZoneInfo(zone)
    start = local_start.replace(tzinfo=tz)
    actual = add_business_hours(start, n, hours, tz)
    if crosses_transition(start, actual, zone):
        return  # a sparse schedule reached a DST change: the oracle test covers those
    offset = CustomBusinessHour(
        n,
        start=[pandas_clock(begin) for begin, _ in hours.hours],
        end=[pandas_clock(end) for _, end in hours.hours],
        weekmask=weekmask(hours),
        holidays=pandas_holidays(hours, start, actual),
    )
    expected = (pd.Timestamp(local_start) + offset).to_pydatetime()
    # pandas moves a wait that ends exactly at a window's close on to the next opening.
    assert wall(next_open(actual, hours, tz), tz) == expected


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(ZONES),
    st.datetimes(datetime(2024, 1, 1), datetime(2027, 12, 1)).map(
        lambda moment: moment.replace(microsecond=0)
    ),
    open_hours(),
    st.integers(1, 40),
)
def test_add_business_days_matches_pandas(
    zone: str, local_start: datetime, hours: OpenHours, n: int
) -> None:
    """pandas gives the local date and time; DST only decides which instant that wall time is."""
    tz = ZoneInfo(zone)
    start = local_start.replace(tzinfo=tz)
    actual = add_business_days(start, n, hours, tz)
    known = pandas_holidays(hours, start, actual)
    offset = CustomBusinessDay(n, weekmask=weekmask(hours), holidays=known)
    expected_wall = (pd.Timestamp(wall(start, tz)) + offset).to_pydatetime()
    assert actual == first_instant_reading(expected_wall, tz)


# --- Calendar waits keep the wall clock -------------------------------------------------------


def first_instant_reading(local: datetime, tz: tzinfo) -> datetime:
    """The spec's rule, stated without fold tricks: the earliest instant whose wall clock shows
    `local`; when none does (a gap), the instant the gap's length after the clock would have."""
    candidates = [
        local.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        for fold in (0, 1)
        if wall(local.replace(tzinfo=tz, fold=fold), tz) == local
    ]
    if candidates:
        return min(candidates)
    before = local.replace(tzinfo=tz, fold=0).utcoffset()
    after = local.replace(tzinfo=tz, fold=1).utcoffset()
    assert before is not None and after is not None and after > before
    shifted = local + (after - before)
    assert wall(shifted.replace(tzinfo=tz), tz) == shifted
    return shifted.replace(tzinfo=tz).astimezone(UTC)


DST_ZONES = tuple(zone for zone in ZONES if transitions(zone))
NEAR_A_CHANGE = st.integers(-180, 180).map(lambda minutes: minutes * MINUTE)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(DST_ZONES),
    st.data(),
    st.integers(1, 3),
    st.sampled_from(["day", "week"]),
    NEAR_A_CHANGE,
)
def test_add_calendar_keeps_wall_clock(
    zone: str, data: st.DataObject, amount: int, unit: str, shift: timedelta
) -> None:
    """Starts placed so that the wait lands within 3 hours of a change: in gaps and folds."""
    tz = ZoneInfo(zone)
    days = timedelta(days=amount * (7 if unit == "week" else 1))
    start = data.draw(st.sampled_from(transitions(zone))) - days + shift
    result = add_calendar(start, amount, unit, tz)  # type: ignore[arg-type]
    assert result.tzinfo is UTC
    assert result == first_instant_reading(wall(start, tz) + days, tz)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(DST_ZONES), st.data(), NEAR_A_CHANGE)
def test_local_moment_reads_the_wall_clock(
    zone: str, data: st.DataObject, shift: timedelta
) -> None:
    tz = ZoneInfo(zone)
    local = wall(data.draw(st.sampled_from(transitions(zone))), tz) + shift
    assert local_moment(local.isoformat(timespec="minutes"), tz) == first_instant_reading(local, tz)


def test_wait_one_day_over_spring_forward_is_23_hours() -> None:
    start = ny(2026, 3, 7, 9)
    result = add_calendar(start, 1, "day", NEW_YORK)
    assert result.astimezone(NEW_YORK) == ny(2026, 3, 8, 9)
    assert result - start == timedelta(hours=23)


def test_wait_two_days_over_fall_back_is_49_hours() -> None:
    start = ny(2026, 10, 31, 9)
    result = add_calendar(start, 2, "day", NEW_YORK)
    assert wall(result, NEW_YORK) == datetime(2026, 11, 2, 9)
    assert result - start == timedelta(hours=49)


def test_wait_two_days_into_the_gap_moves_forward() -> None:
    result = add_calendar(ny(2026, 3, 6, 2, 30), 2, "day", NEW_YORK)
    assert result == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert wall(result, NEW_YORK) == datetime(2026, 3, 8, 3, 30)


def test_wait_one_day_into_the_fold_takes_first_occurrence() -> None:
    result = add_calendar(ny(2026, 10, 31, 1, 30), 1, "day", NEW_YORK)
    assert result == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, not EST


def test_wait_weeks_and_from_the_second_occurrence_of_a_fold() -> None:
    second_130 = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    assert add_calendar(second_130, 1, "week", NEW_YORK) == datetime(2026, 11, 8, 6, 30, tzinfo=UTC)


def test_add_elapsed_ignores_dst() -> None:
    result = add_elapsed(ny(2026, 3, 8, 1, 30), 60)
    assert result == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    assert wall(result, NEW_YORK) == datetime(2026, 3, 8, 3, 30)
    assert result.tzinfo is UTC


# --- wait until -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("iso", "expected"),
    [
        ("2026-12-01T09:00", datetime(2026, 12, 1, 14, tzinfo=UTC)),
        ("2026-03-08T02:30", datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),  # gap: 03:30 EDT
        ("2026-11-01T01:30", datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),  # fold: first, EDT
        ("2026-12-01T09:00+01:00", datetime(2026, 12, 1, 8, tzinfo=UTC)),  # explicit offset
    ],
)
def test_local_moment(iso: str, expected: datetime) -> None:
    result = local_moment(iso, NEW_YORK)
    assert result == expected
    assert result.tzinfo is UTC


def test_local_moment_in_half_hour_zones() -> None:
    assert local_moment("2026-12-01T09:00", ZoneInfo("Asia/Kathmandu")) == datetime(
        2026, 12, 1, 3, 15, tzinfo=UTC
    )
    # Chatham springs forward at 02:45 standard time (+12:45) to 03:45 (+13:45).
    assert local_moment("2026-09-27T03:00", ZoneInfo("Pacific/Chatham")) == datetime(
        2026, 9, 26, 14, 15, tzinfo=UTC
    )


# --- Business days ----------------------------------------------------------------------------


def test_three_business_days_from_friday_over_weekend_and_labor_day() -> None:
    result = add_business_days(ny(2026, 9, 4, 10, 15), 3, OFFICE_US, NEW_YORK)
    assert result.astimezone(NEW_YORK) == ny(2026, 9, 10, 10, 15)  # Thursday; Sep 7 is closed


def test_three_business_days_over_thanksgiving() -> None:
    result = add_business_days(ny(2026, 11, 25, 9), 3, OFFICE_US, NEW_YORK)
    assert result.astimezone(NEW_YORK) == ny(2026, 12, 1, 9)  # Fri 27, Mon 30, Tue Dec 1


def test_business_days_without_holidays_count_thanksgiving() -> None:
    result = add_business_days(ny(2026, 11, 25, 9), 3, DEFAULT_OPEN_HOURS, NEW_YORK)
    assert result.astimezone(NEW_YORK) == ny(2026, 11, 30, 9)


def test_business_days_keep_time_outside_hours_and_from_a_weekend() -> None:
    result = add_business_days(ny(2026, 6, 6, 20), 1, DEFAULT_OPEN_HOURS, NEW_YORK)
    assert result.astimezone(NEW_YORK) == ny(2026, 6, 8, 20)  # Saturday -> Monday, 20:00 kept


def test_business_days_over_spring_forward_keep_local_time() -> None:
    result = add_business_days(ny(2026, 3, 6, 9), 1, DEFAULT_OPEN_HOURS, NEW_YORK)
    assert wall(result, NEW_YORK) == datetime(2026, 3, 9, 9)


def test_subdivision_holidays() -> None:
    los_angeles = ZoneInfo("America/Los_Angeles")
    tuesday_8am = datetime(2026, 3, 31, 8, tzinfo=los_angeles)  # Cesar Chavez Day in California
    california = OpenHours(frozenset(range(5)), ((time(9), time(17)),), ("US-CA",))
    assert wall(next_open(tuesday_8am, california, los_angeles), los_angeles) == datetime(
        2026, 4, 1, 9
    )
    assert wall(next_open(tuesday_8am, OFFICE_US, los_angeles), los_angeles) == datetime(
        2026, 3, 31, 9
    )


# --- Business hours and send windows ----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (ny(2026, 6, 6, 12), 2, ny(2026, 6, 8, 11)),  # Saturday: counting starts Monday 09:00
        (ny(2026, 6, 8, 7), 1, ny(2026, 6, 8, 10)),  # before opening
        (ny(2026, 6, 8, 20), 1, ny(2026, 6, 9, 10)),  # after closing
        (ny(2026, 6, 5, 16), 2, ny(2026, 6, 8, 10)),  # Friday afternoon over the weekend
        (ny(2026, 6, 8, 9), 8, ny(2026, 6, 8, 17)),  # a full day ends at closing time
        (ny(2026, 11, 25, 16), 2, ny(2026, 11, 27, 10)),  # over Thanksgiving
    ],
)
def test_business_hours_examples(start: datetime, n: int, expected: datetime) -> None:
    assert add_business_hours(start, n, OFFICE_US, NEW_YORK) == expected


def test_business_hours_with_split_windows() -> None:
    lunch_break = OpenHours(frozenset(range(5)), ((time(9), time(12)), (time(13), time(17))))
    assert add_business_hours(ny(2026, 6, 8, 11), 2, lunch_break, NEW_YORK) == ny(2026, 6, 8, 14)


def test_open_time_is_elapsed_time_over_dst() -> None:
    """A window over the change holds 2 hours in spring and 4 in autumn, as the clock runs."""
    night = OpenHours(frozenset({6}), ((time(1), time(4)),))
    spring = add_business_hours(ny(2026, 3, 8, 1), 2, night, NEW_YORK)
    assert spring == datetime(2026, 3, 8, 8, tzinfo=UTC)  # 04:00 EDT
    third = add_business_hours(ny(2026, 3, 8, 1), 3, night, NEW_YORK)
    assert third == ny(2026, 3, 15, 2)  # that night had no third hour: the next Sunday's first
    autumn = add_business_hours(ny(2026, 11, 1, 1), 4, night, NEW_YORK)
    assert autumn == datetime(2026, 11, 1, 9, tzinfo=UTC)  # 04:00 EST


def test_a_window_to_midnight_has_no_gap() -> None:
    always = OpenHours(frozenset(range(7)), ((time(0), time.max),))
    start = datetime(2026, 11, 1, 3, 30, tzinfo=UTC)  # 23:30 EDT, the night before fall-back
    assert is_open(ny(2026, 6, 8, 23, 59, 59, 999999), always, NEW_YORK)
    assert add_business_hours(start, 30, always, NEW_YORK) == start + timedelta(hours=30)
    assert add_business_days(start, 1, always, NEW_YORK) == ny(2026, 11, 1, 23, 30)


def test_a_year_of_business_hours_is_exact_and_fast() -> None:
    utc = ZoneInfo("UTC")
    monday = datetime(2026, 1, 5, 9, tzinfo=UTC)
    began = perf_counter()
    result = add_business_hours(monday, 365 * 24, DEFAULT_OPEN_HOURS, utc)
    assert perf_counter() - began < 2  # whole windows, not minutes: ~0.05 s in practice
    # 8760 h = 1095 eight-hour days = 219 weeks, ending on the 219th Friday at closing time.
    assert result == monday + timedelta(weeks=218, days=4, hours=8)


def test_next_open_friday_evening_is_monday_morning() -> None:
    result = next_open(ny(2026, 6, 5, 18), DEFAULT_OPEN_HOURS, NEW_YORK)
    assert result == ny(2026, 6, 8, 9)
    assert result.tzinfo is UTC


def test_next_open_returns_an_open_instant_itself() -> None:
    at = ny(2026, 6, 8, 10, 17, 5)
    assert is_open(at, DEFAULT_OPEN_HOURS, NEW_YORK)
    assert next_open(at, DEFAULT_OPEN_HOURS, NEW_YORK) == at


@pytest.mark.parametrize(
    ("at", "expected"),
    [(ny(2026, 6, 8, 8, 59), False), (ny(2026, 6, 8, 9), True), (ny(2026, 6, 8, 17), False)],
)
def test_window_start_is_open_and_end_is_closed(at: datetime, expected: bool) -> None:
    assert is_open(at, DEFAULT_OPEN_HOURS, NEW_YORK) is expected


@pytest.mark.parametrize(
    "hours",
    [
        OpenHours(frozenset(), ((time(9), time(17)),)),
        OpenHours(frozenset(range(7)), ()),
    ],
)
def test_schedule_without_open_time_raises(hours: OpenHours) -> None:
    with pytest.raises(ValueError, match="no open time within 3 years"):
        next_open(ny(2026, 6, 8, 9), hours, NEW_YORK)
    with pytest.raises(ValueError, match="no open time within 3 years"):
        add_business_hours(ny(2026, 6, 8, 9), 1, hours, NEW_YORK)


def test_business_days_without_open_days_raise() -> None:
    hours = OpenHours(frozenset(), ((time(9), time(17)),))
    with pytest.raises(ValueError, match="no open time within 3 years"):
        add_business_days(ny(2026, 6, 8, 9), 1, hours, NEW_YORK)


# --- Zones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        ("Europe/Paris", "America/New_York", "Europe/Paris"),
        (" Europe/Paris\n", None, "Europe/Paris"),
        ("Mars/Olympus", "America/New_York", "America/New_York"),
        (None, "America/New_York", "America/New_York"),
        ("", "America/New_York", "America/New_York"),
        ("America", "Nowhere", "UTC"),  # a directory of zones, not a zone
        ("../../etc/passwd", None, "UTC"),
        ("x" * 5000, "zone.tab", "UTC"),
        (None, None, "UTC"),
    ],
)
def test_resolve_zone_fallbacks(value: str | None, default: str | None, expected: str) -> None:
    assert resolve_zone(value, default) == ZoneInfo(expected)


@given(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()))
def test_resolve_zone_never_raises(value: str | None, default: str | None) -> None:
    assert isinstance(resolve_zone(value, default), ZoneInfo)


# --- Input validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "hours", "codes", "message"),
    [
        (frozenset({7}), ((time(9), time(17)),), (), "weekdays"),
        (frozenset({0}), ((time(17), time(9)),), (), "start before it ends"),
        (frozenset({0}), ((time(9), time(9)),), (), "start before it ends"),
        (frozenset({0}), ((time(9), time(12)), (time(11), time(17))), (), "not overlap"),
        (frozenset({0}), ((time(13), time(17)), (time(9), time(12))), (), "sorted"),
        (frozenset({0}), ((time(9, tzinfo=UTC), time(17, tzinfo=UTC)),), (), "tzinfo"),
        (frozenset({0}), ((time(9), time(17)),), ("XX",), "unknown holiday calendar"),
        (frozenset({0}), ((time(9), time(17)),), ("US-ZZ",), "unknown holiday calendar"),
    ],
)
def test_open_hours_rejects_bad_schedules(
    days: frozenset[int], hours: tuple[tuple[time, time], ...], codes: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        OpenHours(days, hours, codes)


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_elapsed(datetime(2026, 6, 8, 9), 5)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_open(datetime(2026, 6, 8, 9), DEFAULT_OPEN_HOURS, NEW_YORK)


@pytest.mark.parametrize("amount", [0, -1])
def test_non_positive_durations_are_rejected(amount: int) -> None:
    start = ny(2026, 6, 8, 9)
    for wait in (
        lambda: add_calendar(start, amount, "day", NEW_YORK),
        lambda: add_elapsed(start, amount),
        lambda: add_business_days(start, amount, DEFAULT_OPEN_HOURS, NEW_YORK),
        lambda: add_business_hours(start, amount, DEFAULT_OPEN_HOURS, NEW_YORK),
        lambda: add_open_time(start, amount * MINUTE, DEFAULT_OPEN_HOURS, NEW_YORK),
    ):
        with pytest.raises(ValueError, match="positive"):
            wait()


def test_unknown_calendar_unit_is_rejected() -> None:
    with pytest.raises(ValueError, match="'day' or 'week'"):
        add_calendar(ny(2026, 6, 8, 9), 1, "month", NEW_YORK)  # type: ignore[arg-type]
