"""Every time rule of the language, through the engine: DST, elapsed and business time, send
windows, `wait until`, and which zone an enrollment lives in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runtime import schema as t
from runtime.status import explain

OFFICE = """
schedule office {
  days mon-fri
  hours 09:00-17:00
  holidays "US"
}
"""


def flow(steps: str, settings: str = "", decls: str = "") -> str:
    return (f"{decls}\ncontact {{\n  tz: string?\n}}\nsequence flow {{\n"
            f'  from "ana@example.com"\n  timezone contact.tz default "America/New_York"\n'
            f"{settings}\n{steps}\n}}\n")


def email(subject: str) -> str:
    return f'  email {{ subject "{subject}" body "x {{{{ unsubscribe_url }}}}" }}\n'


def sent_at(engine) -> dict[str, str]:
    """Subject -> local New York time it was sent at."""
    zone = "America/New_York"
    from zoneinfo import ZoneInfo
    return {m.subject: s.sent_at.astimezone(ZoneInfo(zone)).isoformat()
            for m, s in zip(engine.transport.sent, engine.rows(t.sends), strict=True)}


def run(engine, text: str, start: datetime, days: int = 10, **fields) -> None:
    engine.now = start
    engine.deploy(text)
    engine.enroll(**fields)
    engine.run_until(start + timedelta(days=days))


def test_days_keep_the_wall_clock_across_dst_and_hours_are_elapsed(engine):
    # Saturday 7 March 2026, 09:00 EST; clocks spring forward on Sunday 8 March.
    run(engine, flow(email("a") + "  wait 1 day\n" + email("b") + "  wait 24 hours\n"
                     + email("c")), datetime(2026, 3, 7, 14, 0, tzinfo=UTC))
    assert sent_at(engine) == {
        "a": "2026-03-07T09:00:00-05:00",
        "b": "2026-03-08T09:00:00-04:00",
        "c": "2026-03-09T09:00:00-04:00",
    }


def test_elapsed_hours_across_the_change_shift_the_wall_clock(engine):
    run(engine, flow(email("a") + "  wait 24 hours\n" + email("b")),
        datetime(2026, 3, 7, 14, 0, tzinfo=UTC))
    assert sent_at(engine)["b"] == "2026-03-08T10:00:00-04:00"


def test_business_days_skip_weekends_and_the_schedules_holidays(engine):
    # Friday 22 May 2026, 10:00; Monday 25 May is Memorial Day.
    run(engine, flow(email("a") + "  wait 2 business days\n" + email("b"),
                     settings="  send on office", decls=OFFICE),
        datetime(2026, 5, 22, 14, 0, tzinfo=UTC))
    assert sent_at(engine)["b"] == "2026-05-27T10:00:00-04:00"


def test_business_days_without_a_schedule_count_mon_to_fri(engine):
    run(engine, flow(email("a") + "  wait 1 business day\n" + email("b")),
        datetime(2026, 5, 22, 14, 0, tzinfo=UTC))
    assert sent_at(engine)["b"] == "2026-05-25T10:00:00-04:00"  # no holidays without one


def test_business_hours_count_only_open_time(engine):
    # Friday 15:00: two open hours left, then two more from Monday 09:00.
    run(engine, flow(email("a") + "  wait 4 business hours\n" + email("b"),
                     settings="  send on office", decls=OFFICE),
        datetime(2026, 3, 6, 20, 0, tzinfo=UTC))
    assert sent_at(engine) == {"a": "2026-03-06T15:00:00-05:00",
                               "b": "2026-03-09T11:00:00-04:00"}


def test_an_email_due_outside_the_send_window_waits_for_the_next_opening(engine):
    engine.now = datetime(2026, 3, 7, 3, 0, tzinfo=UTC)  # Friday 22:00 in New York
    engine.deploy(flow(email("a"), settings="  send on office", decls=OFFICE))
    enrollment = engine.enroll()
    engine.tick()
    row = engine.row(enrollment)
    assert (row.position, row.wait) == ("email-1", "window")
    assert row.next_run_at.isoformat() == "2026-03-09T13:00:00+00:00"
    why = explain(engine.store, enrollment)
    assert why.why == ("email due outside the send window office (mon,tue,wed,thu,fri "
                       "09:00-17:00, closed on US holidays, America/New_York); it leaves at "
                       "2026-03-09T09:00:00-04:00")
    engine.run_until(engine.now + timedelta(days=4))
    assert sent_at(engine) == {"a": "2026-03-09T09:00:00-04:00"}


@pytest.mark.parametrize(("fields", "zone", "sent"), [
    ({"tz": "Asia/Tokyo"}, "Asia/Tokyo", "2026-03-10T00:00:00+00:00"),
    ({"tz": "Mars/Olympus_Mons"}, "America/New_York", "2026-03-10T13:00:00+00:00"),
    ({}, "America/New_York", "2026-03-10T13:00:00+00:00"),
])
def test_wait_until_is_local_to_the_enrollments_zone(engine, fields, zone, sent):
    run(engine, flow("  wait until 2026-03-10T09:00\n" + email("a")),
        datetime(2026, 3, 2, 14, 0, tzinfo=UTC), **fields)
    [row] = engine.rows(t.enrollments)
    assert row.time_zone == zone
    assert engine.rows(t.sends)[0].sent_at.isoformat() == sent


def test_without_a_timezone_setting_the_zone_is_utc(engine):
    engine.deploy('sequence flow {\n  from "a@example.com"\n' + email("a") + "}\n")
    engine.enroll()
    assert engine.rows(t.enrollments)[0].time_zone == "UTC"
