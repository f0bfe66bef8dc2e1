"""Conditions against the event store: `if`, `if ... within` woken by events, `exit when`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runtime import schema as t
from runtime.conditions import EventFact, Facts, holds
from runtime.events import EventError, record_event
from seqlang.parser import parse

WITHIN = """
sequence flow {
  from "ana@example.com"
  exit when bounced
  welcome: email { subject "Welcome" body "x {{ unsubscribe_url }}" }
  if clicked(welcome, "https://example.com/pricing") within 2 days {
    hot: email { subject "Pricing questions?" body "x {{ unsubscribe_url }}" }
  } else {
    cold: email { subject "Still there?" body "x {{ unsubscribe_url }}" }
  }
}
"""


def cond(text: str):
    seq = parse(f'sequence s {{\n  exit when {text}\n}}\n').sequences[0]
    return seq.exit_when


@pytest.mark.parametrize(("text", "expected"), [
    ("opened(welcome)", True),  # a click counts as an open
    ("clicked(welcome)", True),
    ('clicked(welcome, "https://example.com/docs")', True),
    ('clicked(welcome, "https://example.com/pricing")', False),
    ("replied", False),
    ("replied(welcome)", False),
    ("unsubscribed", True),  # from the suppression: the address unsubscribed elsewhere
    ("bounced", False),
    ('contact.plan == "pro"', True),
    ('contact.plan in ["free", "trial"]', False),
    ("contact.seats >= 10", True),
    ("contact.seats < 9.5", False),
    ('contact.company contains "Acme"', True),
    ("contact.missing exists", False),
    ('contact.missing != "x"', True),
    ('contact.missing == "x"', False),
    ("contact.vip == true", True),
    ('not (contact.plan == "pro" or replied)', False),
    ("opened(welcome) and not replied", True),
])
def test_conditions_hold_on_facts(text, expected):
    facts = Facts(
        events=(EventFact("clicked", "welcome", "https://example.com/docs/start"),),
        fields={"plan": "pro", "seats": "12", "company": "Acme Corp", "vip": "yes"},
        suppression="unsubscribed",
    )
    assert holds(cond(text), facts) is expected


def test_within_takes_the_first_branch_when_an_event_wakes_it(engine):
    engine.deploy(WITHIN)
    enrollment = engine.enroll()
    engine.tick()
    row = engine.row(enrollment)
    assert (row.position, row.wait, row.deadline) == ("if-2", "within",
                                                     engine.now + timedelta(days=2))
    engine.now += timedelta(hours=3)
    woken = record_event(engine.store, "clicked", message_id=engine.transport.sent[0].message_id,
                         url="https://example.com/pricing?plan=pro", now=engine.now)
    assert woken.woken == 1 and engine.row(enrollment).next_run_at == engine.now
    engine.tick()
    assert engine.subjects() == ["Welcome", "Pricing questions?"]
    assert engine.row(enrollment).state == "completed"


def test_within_sleeps_again_after_an_unrelated_event_then_times_out(engine):
    engine.deploy(WITHIN)
    enrollment = engine.enroll()
    engine.tick()
    deadline = engine.row(enrollment).deadline
    engine.now += timedelta(hours=1)
    record_event(engine.store, "opened", message_id=engine.transport.sent[0].message_id,
                 now=engine.now)
    assert engine.tick().claimed == 1
    assert engine.row(enrollment).next_run_at == deadline
    assert engine.at(deadline - timedelta(seconds=1)).claimed == 0
    engine.at(deadline)
    assert engine.subjects() == ["Welcome", "Still there?"]
    assert ("branch", "if-2") in engine.history(enrollment)


WELCOME_THEN_FOLLOW_UP = """
sequence flow {
  from "ana@example.com"
  welcome: email { subject "Welcome" body "x {{ unsubscribe_url }}" }
  wait 3 days
  email { subject "Follow-up" body "x {{ unsubscribe_url }}" }
}
"""


def test_a_reply_ends_a_waiting_enrollment_at_the_next_tick(engine):
    engine.deploy(WELCOME_THEN_FOLLOW_UP)
    enrollment = engine.enroll()
    engine.tick()
    engine.now += timedelta(hours=5)
    record_event(engine.store, "replied", message_id=engine.transport.sent[0].message_id,
                 now=engine.now)
    counts = engine.tick()
    row = engine.row(enrollment)
    assert (counts.exited, row.state) == (1, "exited")
    assert row.reason == "exit when replied or unsubscribed or bounced"
    assert row.finished_at == engine.now and row.next_run_at is None
    engine.run_until(engine.now + timedelta(days=5))
    assert engine.subjects() == ["Welcome"]


def test_an_event_recorded_during_a_walk_is_not_lost(engine):
    """The worker claimed before the event; its write-back must not put the enrollment back
    to sleep past it."""
    engine.deploy(WELCOME_THEN_FOLLOW_UP)
    enrollment = engine.enroll()

    class ReplyWhileSending(type(engine.transport)):
        def send(self, msg):
            receipt = super().send(msg)
            record_event(engine.store, "replied", message_id=msg.message_id, now=engine.now)
            return receipt

    engine.transport = ReplyWhileSending()
    engine.tick()
    assert engine.row(enrollment).next_run_at == engine.now
    engine.tick()
    assert engine.row(enrollment).state == "exited"


def test_events_need_a_send_and_a_known_kind(engine):
    with pytest.raises(EventError, match="no email was sent with Message-ID <nope@x>"):
        record_event(engine.store, "opened", message_id="nope@x", now=engine.now)
    with pytest.raises(EventError, match="unknown event kind 'forwarded'"):
        record_event(engine.store, "forwarded", message_id="<a@b>", now=engine.now)
    assert engine.rows(t.events) == []
