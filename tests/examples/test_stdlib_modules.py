"""`std/schedules` and `std/templates` mean what their names and comments promise."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest

import seqlang
from runtime.timing import DEFAULT_OPEN_HOURS, OpenHours, is_open
from seqlang.graph import lower
from seqlang.loader import load, load_text
from seqlang.template_refs import field_uses
from seqlang.templates import TemplatePart, email_versions
from seqlang.templates import load as load_part

STDLIB = Path(__file__).resolve().parents[2] / "stdlib"
SCHEDULES = {s.name: s for s in load(STDLIB / "schedules.seq").root.schedules}


def open_hours(name: str) -> OpenHours:
    schedule = SCHEDULES[name]
    windows = tuple((time.fromisoformat(r.start), time.fromisoformat(r.end))
                    for r in schedule.time_ranges)
    return OpenHours(schedule.weekdays, windows, schedule.holiday_regions)


def opens(name: str, local: str, zone: str) -> bool:
    return is_open(datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)),
                   open_hours(name), ZoneInfo(zone))


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_is_valid_for_the_engine(name: str) -> None:
    """OpenHours refuses unknown holiday codes and unordered or overlapping windows."""
    hours = open_hours(name)
    assert hours.days and hours.hours
    supported = holidays.list_supported_countries()
    for code in hours.holidays:
        country, _, subdivision = code.partition("-")
        assert country in supported and (not subdivision or subdivision in supported[country])


def test_weekdays_is_the_calendar_of_business_waits_without_send_on() -> None:
    assert open_hours("weekdays") == DEFAULT_OPEN_HOURS


def test_every_country_schedule_has_its_holiday_calendar() -> None:
    countries = {name for name in SCHEDULES if name.endswith("_office_hours")}
    assert {f"{c}_office_hours" for c in ("us", "uk", "de", "fr", "in")} <= countries
    for name in countries:
        expected = "GB" if name.startswith("uk_") else name[:2].upper()
        assert SCHEDULES[name].holiday_regions == (expected,), name


@pytest.mark.parametrize(
    ("name", "zone", "holiday", "working_day"),
    [
        ("us_office_hours", "America/New_York", "2026-11-26T10:00", "2026-11-25T10:00"),
        ("uk_office_hours", "Europe/London", "2026-12-28T10:00", "2026-12-29T10:00"),
        ("de_office_hours", "Europe/Berlin", "2026-05-14T10:00", "2026-05-13T10:00"),
        ("fr_office_hours", "Europe/Paris", "2026-07-14T10:00", "2026-07-15T10:00"),
        ("in_office_hours", "Asia/Kolkata", "2026-01-26T11:00", "2026-01-27T11:00"),
        ("il_office_hours", "Asia/Jerusalem", "2026-09-21T10:00", "2026-09-22T10:00"),
    ],
)
def test_country_schedule_closes_on_its_national_holiday(
    name: str, zone: str, holiday: str, working_day: str
) -> None:
    assert not opens(name, holiday, zone)
    assert opens(name, working_day, zone)


def test_lunch_breaks_and_working_weeks() -> None:
    # Wednesday 2026-03-04; Sunday 2026-03-08; Friday 2026-03-06.
    assert opens("de_office_hours", "2026-03-04T11:30", "Europe/Berlin")
    assert not opens("de_office_hours", "2026-03-04T12:30", "Europe/Berlin")
    assert not opens("fr_office_hours", "2026-03-04T13:00", "Europe/Paris")
    assert opens("fr_office_hours", "2026-03-04T14:30", "Europe/Paris")
    assert opens("il_office_hours", "2026-03-08T10:00", "Asia/Jerusalem")
    assert not opens("il_office_hours", "2026-03-06T10:00", "Asia/Jerusalem")
    assert opens("mornings", "2026-03-04T08:30", "UTC")
    assert not opens("mornings", "2026-03-04T11:30", "UTC")


IMPORTER = """\
import "std/templates"
contact {
  first_name: string?
}
sequence s {
  from "Dana Whitfield <dana@example.com>"
  intro: email {
    subject "Quick question"
    text "Hi. Unsubscribe: {{ unsubscribe_url }}"
  }
  wait 3 business days
  nudge: email bump reply to intro
  wait 5 business days
  goodbye: email breakup
}
"""


def std_emails(tmp_path: Path, render_parts, context, contact: dict[str, Any]
               ) -> dict[str, tuple[str, str]]:
    program = load_text(IMPORTER, str(tmp_path / "importer.seq"))
    assert program.diagnostics == []
    seq = program.root.sequences[0]
    graph, scope = lower(seq), program.scope(program.root)
    out = {}
    for label in ("nudge", "goodbye"):
        step = graph.step(graph.label_node(label))
        (version,) = email_versions(step, scope, graph)
        ctx = context(seq, step, contact)
        parts = render_parts(version, ctx)
        assert ctx["unsubscribe_url"] in parts["text"]
        out[label] = (parts["subject"], parts["text"])
    return out


def test_std_templates_greet_by_name_and_sign_as_the_sender(
    tmp_path: Path, render_parts, context
) -> None:
    emails = std_emails(tmp_path, render_parts, context,
                        {"email": "jo@example.org", "first_name": "Jo"})
    subject, text = emails["nudge"]
    assert subject == "Quick question", "a bump in a thread keeps the thread's subject"
    assert text.startswith("Hi Jo,") and "Dana Whitfield" in text
    subject, text = emails["goodbye"]
    assert subject == "Closing the loop" and text.startswith("Hi Jo,")


def test_std_templates_need_nothing_but_an_email_address(
    tmp_path: Path, render_parts, context
) -> None:
    emails = std_emails(tmp_path, render_parts, context, {"email": "jo@example.org"})
    assert all(text.startswith("Hi there,") for _, text in emails.values())


def test_std_templates_read_only_email_and_a_defaulted_first_name() -> None:
    program = load(STDLIB / "templates.seq")
    uses = [
        use
        for template in program.root.templates
        for item in template.body.fields
        if item.key in ("subject", "body", "text", "html")
        for use in field_uses(load_part(TemplatePart(item), program).tree)
    ]
    assert {use.name for use in uses} <= {"email", "first_name"}
    assert all(use.guarded for use in uses if use.name == "first_name")


def findings(path: Path) -> list[tuple[str, str, int]]:
    pytest.importorskip("seqlang.checker")
    return [(d.code, d.severity, d.span.line) for d in seqlang.check(path)]


def test_std_schedules_check_without_findings() -> None:
    assert findings(STDLIB / "schedules.seq") == []


def test_std_templates_check_clean_because_every_field_they_read_has_a_default() -> None:
    assert findings(STDLIB / "templates.seq") == []
