"""The simulator: the spec's onboarding sequence run on a virtual clock, with scripted events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from runtime.engine import pick
from runtime.simulator import SimulationError, parse_event, parse_moment, simulate
from seqlang.cli import main

ONBOARDING = "tests/runtime/data/onboarding.seq"
ANA = {"email": "ana@example.com", "first_name": "Ana"}
NEW_YORK = ZoneInfo("America/New_York")


def test_onboarding_opened_takes_the_content_branch_and_waits_for_office_hours():
    # Friday 6 March 2026, 16:00 in New York; clocks change on Sunday the 8th.
    result = simulate(ONBOARDING, ANA, start="2026-03-06T16:00", events=["opened welcome +2h"])
    variant = ["a", "b"][pick(1, "followup", [50, 50])]
    followup = {"a": "Quick question", "b": "An idea for your team"}[variant]
    assert result.timeline == [
        {"at": "2026-03-06T16:00:00-05:00", "kind": "sent", "step": "welcome",
         "subject": "Welcome, Ana", "to": "ana@example.com", "variant": None},
        {"at": "2026-03-06T16:00:00-05:00", "kind": "waiting", "step": "wait-2",
         "until": "2026-03-07T16:00:00-05:00", "reason": "1 day"},
        {"at": "2026-03-06T18:00:00-05:00", "kind": "opened", "step": "welcome"},
        {"at": "2026-03-07T16:00:00-05:00", "kind": "branch", "step": "if-3",
         "route": "then:0", "reason": "opened(welcome)"},
        {"at": "2026-03-07T16:00:00-05:00", "kind": "waiting", "step": "content",
         "until": "2026-03-09T09:00:00-04:00", "reason": "send window"},
        {"at": "2026-03-09T09:00:00-04:00", "kind": "sent", "step": "content",
         "subject": "Three things to try this week", "to": "ana@example.com",
         "variant": None},
        {"at": "2026-03-09T09:00:00-04:00", "kind": "waiting", "step": "wait-6",
         "until": "2026-03-12T09:00:00-04:00", "reason": "3 business days"},
        {"at": "2026-03-12T09:00:00-04:00", "kind": "sent", "step": "followup",
         "subject": followup, "to": "ana@example.com", "variant": variant},
        {"at": "2026-03-12T09:00:00-04:00", "kind": "completed", "step": "<exit>"},
    ]
    assert (result.state, result.time_zone) == ("completed", "America/New_York")


def test_onboarding_unopened_nudges_in_thread_and_a_reply_ends_it():
    result = simulate(ONBOARDING, {**ANA, "timezone": "Europe/Paris"},
                      start="2026-03-02T10:00", events=["replied nudge +30h"])
    kinds = [(e["at"], e["kind"], e["step"]) for e in result.timeline]
    assert kinds == [
        ("2026-03-02T10:00:00+01:00", "sent", "welcome"),
        ("2026-03-02T10:00:00+01:00", "waiting", "wait-2"),
        ("2026-03-03T10:00:00+01:00", "branch", "if-3"),
        ("2026-03-03T10:00:00+01:00", "sent", "nudge"),
        ("2026-03-03T10:00:00+01:00", "waiting", "wait-6"),
        ("2026-03-03T16:00:00+01:00", "replied", "nudge"),
        ("2026-03-03T16:00:00+01:00", "exited", "wait-6"),
    ]
    assert result.timeline[3]["subject"] == "Re: Welcome, Ana"
    assert (result.state, result.reason) == ("exited",
                                             "exit when replied or unsubscribed or bounced")


def test_an_event_for_an_email_that_was_never_sent_is_shown_and_ignored():
    result = simulate(ONBOARDING, ANA, start="2026-03-02T10:00",
                      events=["clicked content https://example.com/tips +1h"], until="+1d")
    [event] = [e for e in result.timeline if e["kind"] == "clicked"]
    assert event == {"at": "2026-03-02T11:00:00-05:00", "kind": "clicked", "step": "content",
                     "url": "https://example.com/tips",
                     "note": "ignored: no email content had been sent by then"}
    assert result.state == "active"


def test_offsets_and_event_syntax():
    start = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)  # 10:00 in New York, before the DST change
    assert parse_moment("+90m", start, NEW_YORK).isoformat() == "2026-03-07T16:30:00+00:00"
    assert parse_moment("+26h", start, NEW_YORK).isoformat() == "2026-03-08T17:00:00+00:00"
    assert parse_moment("+1d", start, NEW_YORK).isoformat() == "2026-03-08T14:00:00+00:00"
    assert parse_moment("2026-03-10T09:00", start, NEW_YORK).isoformat() == (
        "2026-03-10T13:00:00+00:00")
    event = parse_event("clicked welcome https://x.example/a +2h", start, NEW_YORK)
    assert (event.kind, event.label, event.url) == ("clicked", "welcome", "https://x.example/a")
    with pytest.raises(SimulationError, match="neither an offset"):
        parse_moment("+2 days", start, NEW_YORK)
    with pytest.raises(SimulationError, match="KIND one of opened, clicked"):
        parse_event("forwarded +1h", start, NEW_YORK)
    with pytest.raises(SimulationError, match="only `clicked` takes a URL"):
        parse_event("opened welcome https://x.example +1h", start, NEW_YORK)


def test_the_simulate_command_prints_json(capsys):
    status = main(["simulate", ONBOARDING, "--contact", "email=ana@example.com",
                   "--contact", "first_name=Ana", "--start", "2026-03-02T10:00",
                   "--event", "replied welcome +1h", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert status == 0
    assert [(e["kind"], e["step"]) for e in out["timeline"]] == [
        ("sent", "welcome"), ("waiting", "wait-2"), ("replied", "welcome"),
        ("exited", "wait-2")]
    assert out["timeline"][0] == {"at": "2026-03-02T10:00:00-05:00", "kind": "sent",
                                  "step": "welcome", "subject": "Welcome, Ana",
                                  "to": "ana@example.com", "variant": None}


def test_the_simulate_command_prints_a_readable_timeline(capsys):
    status = main(["simulate", ONBOARDING, "--contact", "first_name=Ana",
                   "--start", "2026-03-02T10:00", "--until", "+2h"])
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert lines[0] == ("onboarding: contact@example.com (America/New_York), "
                        "2026-03-02T10:00:00-05:00 to 2026-03-02T12:00:00-05:00")
    assert lines[1].split() == ["2026-03-02T10:00:00-05:00", "sent", "welcome", "'Welcome,",
                                "Ana'", "to", "contact@example.com"]
    assert lines[-1] == "final state: active"


def test_the_simulate_command_reports_bad_input_as_usage_errors(capsys):
    assert main(["simulate", ONBOARDING, "--contact", "first_name=Ana",
                 "--event", "opened +1 hour"]) == 2
    assert "neither an offset" in capsys.readouterr().err
    assert main(["simulate", ONBOARDING]) == 2
    assert "contact: missing required field first_name" in capsys.readouterr().err
    assert main(["simulate", ONBOARDING, "--contact", "first_name=Ana",
                 "--event", "opened welcom +1h"]) == 2
    assert ("onboarding has no email step 'welcom'; its email steps are welcome, content, "
            "nudge, followup") in capsys.readouterr().err
    assert main(["simulate", "nowhere.seq"]) == 2
