"""Time arithmetic for the engine: every `wait`, send window and time-zone rule of the language.

All of it lives here so that DST, holidays and business time have one meaning everywhere (engine,
simulator, tests). Everything is pure: aware datetimes in, UTC-aware datetimes out, no I/O.

Two kinds of time are involved and must not be mixed up:

* *local wall-clock* time, in which users write schedules, `days`/`weeks` waits and `wait until`;
* *elapsed* time (UTC instants), in which minutes and hours pass and emails are stamped.

A local wall time that does not exist (spring-forward gap) moves forward by the gap, and one that
occurs twice (fall-back fold) means its first occurrence. That is iCalendar's rule (RFC 5545
§3.3.5), so calendar apps and our waits agree, and it is what `fold=0` does in Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, available_timezones

import holidays as holidays_lib

__all__ = [
    "DEFAULT_OPEN_HOURS",
    "OpenHours",
    "add_business_days",
    "add_business_hours",
    "add_calendar",
    "add_elapsed",
    "add_open_time",
    "is_open",
    "local_moment",
    "next_open",
    "resolve_zone",
]

# How far ahead a search for open time goes before declaring the schedule has none. Any real
# schedule opens within days; the bound only keeps a broken one from looping forever.
_SEARCH_YEARS = 3
_SEARCH_LIMIT = timedelta(days=366 * _SEARCH_YEARS)
_RESOLUTION = timedelta(microseconds=1)


@dataclass(frozen=True)
class OpenHours:
    """A weekly schedule (`schedule` declaration): when emails may leave and business time runs.

    `days` are weekday numbers (0=Mon..6=Sun); `hours` are sorted, non-overlapping local windows
    with start < end; an end of `time.max` stands for 24:00, which `datetime.time` cannot hold,
    so that a window open until midnight has no closed last microsecond. `holidays` are
    `holidays` package codes ("US", or "US-CA" for a subdivision) whose dates are closed all day.
    Empty `days` or `hours` is accepted so that the checker, not the constructor, reports it
    (SEQ032); time searches then raise ValueError.
    """

    days: frozenset[int]
    hours: tuple[tuple[time, time], ...]
    holidays: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # The interval walk below relies on these invariants: an overlap would count time twice.
        if not self.days <= frozenset(range(7)):
            raise ValueError(f"weekdays must be 0 (Mon) to 6 (Sun): {sorted(self.days)}")
        previous_end: time | None = None
        for begin, end in self.hours:
            if begin.tzinfo is not None or end.tzinfo is not None:
                raise ValueError("schedule hours are local wall-clock times, without tzinfo")
            if not begin < end:
                raise ValueError(f"window {begin}-{end} must start before it ends")
            if previous_end is not None and begin < previous_end:
                raise ValueError(
                    f"windows must be sorted and not overlap: {begin} < {previous_end}"
                )
            previous_end = end
        for code in self.holidays:
            _country_and_subdivision(code)


DEFAULT_OPEN_HOURS = OpenHours(days=frozenset(range(5)), hours=((time(9), time(17)),))
"""What business waits use when a sequence has no `send on` schedule (spec §3)."""


def resolve_zone(value: str | None, default: str | None) -> ZoneInfo:
    """Pick the enrollment's zone: contact data is untrusted, so a bad value must fall back.

    Membership in the IANA list, rather than catching ZoneInfo's errors, is what guarantees this
    never raises: bad names fail with ValueError, KeyError or several OSErrors depending on shape.
    """
    for candidate in (value, default):
        if candidate and (key := candidate.strip()) in _zone_names():
            return ZoneInfo(key)
    return ZoneInfo("UTC")


def add_calendar(
    start: datetime, amount: int, unit: Literal["day", "week"], tz: tzinfo
) -> datetime:
    """`wait N days|weeks`: users mean "same time on that day", so step the local calendar."""
    _require_positive(amount)
    if unit not in ("day", "week"):
        raise ValueError(f"calendar unit must be 'day' or 'week', not {unit!r}")
    days = amount * 7 if unit == "week" else amount
    return _localize(_wall_clock(start, tz) + timedelta(days=days), tz)


def add_elapsed(start: datetime, minutes: int) -> datetime:
    """`wait N minutes|hours`: physical time, unaffected by zones or DST."""
    _require_positive(minutes)
    return _as_utc(start) + timedelta(minutes=minutes)


def local_moment(iso: str, tz: tzinfo) -> datetime:
    """`wait until 2026-12-01T09:00`: the language writes local date-times without an offset.

    An explicit offset, should one be given, already names an instant and is honoured as such.
    """
    moment = datetime.fromisoformat(iso)
    if moment.utcoffset() is not None:
        return moment.astimezone(UTC)
    return _localize(moment, tz)


def is_open(at: datetime, hours: OpenHours, tz: tzinfo) -> bool:
    """Whether an email may leave at `at` under `send on`."""
    return _local_state(_wall_clock(at, tz), hours)[0]


def next_open(at: datetime, hours: OpenHours, tz: tzinfo) -> datetime:
    """When an email due at `at` may leave: at once if open, else the schedule's next opening.

    Raises ValueError when the schedule has no open time within 3 years (e.g. no days).
    """
    return next(_open_intervals(at, hours, tz))[0]


def add_business_days(start: datetime, n: int, hours: OpenHours, tz: tzinfo) -> datetime:
    """`wait N business days`: N open days later on the local calendar, same local time of day.

    A day counts whole (weekday in `days`, not a holiday) whatever its hours, and the time of day
    is kept even outside the windows: the send window, not the wait, decides when mail leaves.
    Raises ValueError when no open day comes within 3 years.
    """
    _require_positive(n)
    wall = _wall_clock(start, tz)
    day = wall.date()
    for _ in range(n):
        for _gap in range(_SEARCH_LIMIT.days):
            day += timedelta(days=1)
            if _is_open_day(day, hours):
                break
        else:
            raise _no_open_time(start)
    return _localize(datetime.combine(day, wall.time()), tz)


def add_business_hours(start: datetime, n: int, hours: OpenHours, tz: tzinfo) -> datetime:
    """`wait N business hours`: see `add_open_time`."""
    _require_positive(n)
    return add_open_time(start, timedelta(hours=n), hours, tz)


def add_open_time(start: datetime, amount: timedelta, hours: OpenHours, tz: tzinfo) -> datetime:
    """The first instant by which `amount` of open time has passed since `start`.

    Counting starts at the next opening when `start` is closed. Open time is elapsed time: an
    hour repeated by a fall-back inside a window counts twice, a skipped one not at all. A wait
    that uses up a window exactly ends at its close, not at the next opening. Works at any
    granularity (minutes included), jumping whole windows, so long waits stay cheap.
    """
    if amount <= timedelta(0):
        raise ValueError(f"open time to add must be positive, got {amount}")
    remaining = amount
    intervals = _open_intervals(start, hours, tz)
    while True:
        begin, end = next(intervals)
        if remaining <= end - begin:
            return begin + remaining
        remaining -= end - begin


def _open_intervals(
    start: datetime, hours: OpenHours, tz: tzinfo
) -> Iterator[tuple[datetime, datetime]]:
    """Yield the open stretches after `start` as consecutive UTC intervals, clipped to `start`.

    The walk goes from boundary to boundary: window edges, local midnights and UTC offset
    changes. Within one step the offset is constant, so local wall time advances exactly with
    UTC and the open state cannot change; DST gaps and folds need no special case.

    Offset changes are found by checking the offset just before each step's end and bisecting on
    a change, which assumes no zone changes its offset twice within one such step (under a day).
    """
    moment = _as_utc(start)
    closed_since = moment
    while True:
        offset = _offset_at(moment, tz)
        open_now, boundary = _local_state(moment.replace(tzinfo=None) + offset, hours)
        step_end = (boundary - offset).replace(tzinfo=UTC)
        if _offset_at(step_end - _RESOLUTION, tz) != offset:
            step_end = _offset_change(moment, step_end - _RESOLUTION, offset, tz)
        if open_now:
            yield moment, step_end
            closed_since = step_end
        elif step_end - closed_since > _SEARCH_LIMIT:
            raise _no_open_time(start)
        moment = step_end


def _offset_change(before: datetime, after: datetime, offset: timedelta, tz: tzinfo) -> datetime:
    """Bisect for the first instant in (before, after] whose UTC offset is no longer `offset`."""
    while after - before > _RESOLUTION:
        middle = before + (after - before) / 2
        if _offset_at(middle, tz) == offset:
            before = middle
        else:
            after = middle
    return after


def _offset_at(moment: datetime, tz: tzinfo) -> timedelta:
    return moment.astimezone(tz).replace(tzinfo=None) - moment.replace(tzinfo=None)


def _local_state(wall: datetime, hours: OpenHours) -> tuple[bool, datetime]:
    """Whether a naive local wall time is open, and the next wall time where that may change."""
    day = wall.date()
    next_midnight = datetime.combine(day + timedelta(days=1), time())
    if not _is_open_day(day, hours):
        return False, next_midnight
    now = wall.time()
    for begin, end in hours.hours:
        if now < begin:
            return False, datetime.combine(day, begin)
        if end == time.max:
            return True, next_midnight
        if now < end:
            return True, datetime.combine(day, end)
    return False, next_midnight


def _is_open_day(day: date, hours: OpenHours) -> bool:
    return day.weekday() in hours.days and not any(
        day in _holiday_dates(code, day.year) for code in hours.holidays
    )


@lru_cache(maxsize=4096)
def _holiday_dates(code: str, year: int) -> frozenset[date]:
    """One year of one calendar, computed on first use: the lookup sits in the walk's hot loop.

    Caching per (country, subdivision, year) keeps each lookup a set probe and never computes
    years nobody asks for; a frozenset also keeps the shared cache safe from mutation.
    """
    country, subdiv = _country_and_subdivision(code)
    return frozenset(holidays_lib.country_holidays(country, subdiv=subdiv, years=year))


@lru_cache(maxsize=256)
def _country_and_subdivision(code: str) -> tuple[str, str | None]:
    """Split "US-CA" into (country, subdivision), failing early on a code the package lacks."""
    country, _, subdiv = code.partition("-")
    try:
        holidays_lib.country_holidays(country, subdiv=subdiv or None)  # no years: validates only
    except NotImplementedError as error:
        raise ValueError(f"unknown holiday calendar {code!r}: {error}") from error
    return country, subdiv or None


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones())


def _localize(wall: datetime, tz: tzinfo) -> datetime:
    """Naive local wall time to UTC: fold=0 maps a gap forward and a fold to its first instant."""
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _wall_clock(moment: datetime, tz: tzinfo) -> datetime:
    return _as_utc(moment).astimezone(tz).replace(tzinfo=None)


def _as_utc(moment: datetime) -> datetime:
    """Reject naive datetimes: Python would silently read them as the server's local time."""
    if moment.utcoffset() is None:
        raise ValueError(f"expected a timezone-aware datetime, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _require_positive(amount: int) -> None:
    # The language rejects zero and negative durations (SEQ033); so does the engine.
    if amount < 1:
        raise ValueError(f"duration must be a positive number, got {amount}")


def _no_open_time(start: datetime) -> ValueError:
    return ValueError(
        f"schedule has no open time within {_SEARCH_YEARS} years after {start.isoformat()}:"
        " check its days, hours and holidays"
    )
