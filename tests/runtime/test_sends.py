"""No duplicates, nothing lost: reservations, crashes, retries, failures, suppression."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from runtime import schema as t
from runtime.config import EngineConfig
from runtime.control import resume
from runtime.engine import retry_delay
from runtime.events import record_event, suppress
from runtime.status import explain, overview
from runtime.transports.base import PermanentSendError, TransientSendError
from runtime.transports.memory import MemoryTransport
from runtime.transports.outbox import OutboxTransport

TWO_EMAILS = """
sequence flow {
  from "ana@example.com"
  exit when bounced
  first: email { subject "First" body "x {{ unsubscribe_url }}" }
  second: email { subject "Second" body "x {{ unsubscribe_url }}" }
  after: task "call them"
}
"""


class Crash(BaseException):
    """The worker process dies: nothing after this point runs."""


class CrashingMemory(MemoryTransport):
    def __init__(self, after_accepting: bool) -> None:
        super().__init__()
        self.after_accepting = after_accepting

    def send(self, msg):
        if self.after_accepting:
            super().send(msg)
        raise Crash


def crash_in_first_send(engine, transport) -> int:
    engine.deploy(TWO_EMAILS)
    enrollment = engine.enroll()
    engine.transport = transport
    with pytest.raises(Crash):
        engine.tick()
    [send] = engine.rows(t.sends)
    assert (send.state, send.step) == ("reserved", "first")
    return enrollment


def test_a_crash_before_the_transport_answers_leaves_unknown_and_never_resends(engine):
    enrollment = crash_in_first_send(engine, CrashingMemory(after_accepting=False))
    engine.transport = MemoryTransport()
    assert engine.later(minutes=4).claimed == 0  # the dead worker's lease still holds
    counts = engine.later(minutes=2)
    assert (counts.claimed, counts.paused, counts.sent) == (1, 1, 0)
    [send] = engine.rows(t.sends)
    row = engine.row(enrollment)
    assert (send.state, send.step, row.state) == ("unknown", "first", "paused")
    assert send.message_id in row.reason and "Sent folder" in row.reason
    assert overview(engine.store)[0].unknown_sends[0]["message_id"] == send.message_id
    assert explain(engine.store, enrollment).why.startswith("paused: the email of step first")
    engine.later(hours=1)
    assert engine.transport.sent == []
    resume(engine.store, enrollment, engine.now)
    engine.tick()
    assert engine.subjects() == ["Second"]
    assert [s.state for s in engine.rows(t.sends)] == ["unknown", "sent"]
    assert engine.row(enrollment).state == "completed"


def test_a_crash_after_the_transport_accepted_is_confirmed_and_not_resent(engine):
    transport = CrashingMemory(after_accepting=True)
    enrollment = crash_in_first_send(engine, transport)
    transport.after_accepting = False
    engine.transport = MemoryTransport()
    engine.transport.sent = transport.sent  # the same mailbox, as seen by the next worker
    counts = engine.later(minutes=6)
    assert (counts.paused, counts.sent, counts.completed) == (0, 1, 1)
    assert engine.subjects() == ["First", "Second"]
    assert [s.state for s in engine.rows(t.sends)] == ["sent", "sent"]
    assert engine.row(enrollment).state == "completed"


def test_the_outbox_confirms_a_send_by_message_id(engine, tmp_path):
    class CrashingOutbox(OutboxTransport):
        def send(self, msg):
            super().send(msg)
            raise Crash

    crash_in_first_send(engine, CrashingOutbox(tmp_path / "outbox"))
    engine.transport = OutboxTransport(tmp_path / "outbox")
    engine.later(minutes=6)
    index = (tmp_path / "outbox" / "index.jsonl").read_text().splitlines()
    assert [json.loads(line)["subject"] for line in index] == ["First", "Second"]
    assert [s.state for s in engine.rows(t.sends)] == ["sent", "sent"]


def test_transient_errors_are_retried_with_backoff_then_succeed(engine):
    engine.deploy(TWO_EMAILS)
    enrollment = engine.enroll()
    engine.transport.fail_next(TransientSendError("421 try later"),
                               TransientSendError("451 busy"))
    start = engine.now
    counts = engine.tick()
    assert (counts.sent, counts.retrying) == (0, 1)
    first_delay = retry_delay(1, enrollment, engine.config)
    assert timedelta(seconds=30) <= first_delay <= timedelta(seconds=60)
    assert engine.row(enrollment).next_run_at == start + first_delay
    assert engine.at(start + first_delay - timedelta(seconds=1)).claimed == 0
    engine.at(start + first_delay)
    second_delay = retry_delay(2, enrollment, engine.config)
    assert timedelta(seconds=60) <= second_delay <= timedelta(seconds=120)
    assert engine.row(enrollment).next_run_at == engine.now + second_delay
    engine.later(seconds=second_delay.total_seconds())
    assert engine.subjects() == ["First", "Second"]
    first = engine.rows(t.sends)[0]
    assert (first.state, first.attempts) == ("sent", 3)
    waits = [h.detail["reason"] for h in engine.rows(t.step_history, kind="waiting")]
    assert waits == ["retry 1 after transient error: 421 try later",
                     "retry 2 after transient error: 451 busy"]


def test_retry_after_from_the_provider_is_a_floor(engine):
    engine.deploy(TWO_EMAILS)
    enrollment = engine.enroll()
    engine.transport.fail_next(TransientSendError("429", retry_after=900))
    engine.tick()
    assert engine.row(enrollment).next_run_at == engine.now + timedelta(seconds=900)


def test_too_many_transient_errors_fail_the_enrollment(engine):
    engine.deploy(TWO_EMAILS)
    enrollment = engine.enroll()
    engine.config = EngineConfig(max_send_attempts=2)
    engine.transport.fail_next(TransientSendError("421 a"), TransientSendError("421 b"))
    engine.run_until(engine.now + timedelta(hours=1))
    row = engine.row(enrollment)
    assert (row.state, row.reason) == ("failed", "step first: gave up after 2 attempts: 421 b")
    assert engine.transport.sent == []


def test_a_permanent_error_fails_the_enrollment_with_the_reason(engine):
    engine.deploy(TWO_EMAILS)
    enrollment = engine.enroll()
    engine.transport.fail_next(PermanentSendError("RCPT TO <ana@example.com>: 550 no user"))
    counts = engine.tick()
    row = engine.row(enrollment)
    assert (counts.failed, row.state) == (1, "failed")
    assert row.reason == "step first: RCPT TO <ana@example.com>: 550 no user"
    [send] = engine.rows(t.sends)
    assert (send.state, send.error) == ("failed", "RCPT TO <ana@example.com>: 550 no user")


def test_a_render_failure_fails_only_that_enrollment(engine):
    engine.deploy("""
contact {
  company: string?
}
sequence flow {
  from "ana@example.com"
  hello: email { subject "News for {{ contact.company }}" body "x {{ unsubscribe_url }}" }
}
""")
    ok1 = engine.enroll(email="a@example.com", company="Acme")
    bad = engine.enroll(email="b@example.com")
    ok2 = engine.enroll(email="c@example.com", company="Globex")
    counts = engine.tick()
    assert (counts.sent, counts.failed, counts.completed) == (2, 1, 2)
    assert sorted(engine.subjects()) == ["News for Acme", "News for Globex"]
    assert engine.row(bad).state == "failed"
    assert engine.row(bad).reason.startswith("step hello: cannot render subject (template ")
    assert "'company'" in engine.row(bad).reason
    assert [engine.row(e).state for e in (ok1, ok2)] == ["completed", "completed"]
    assert {s.to_address for s in engine.rows(t.sends)} == {"a@example.com", "c@example.com"}


def test_an_unsubscribed_contact_is_never_emailed_whatever_the_sequence_says(engine):
    engine.deploy(TWO_EMAILS.replace('second: email', 'wait 1 hour\n  second: email'))
    enrollment = engine.enroll()
    engine.tick()
    record_event(engine.store, "unsubscribed", message_id=engine.transport.sent[0].message_id,
                 now=engine.now)
    engine.run_until(engine.now + timedelta(hours=2))
    assert engine.subjects() == ["First"]
    assert ("skipped", "second") in engine.history(enrollment)
    assert [(s.email, s.reason) for s in engine.rows(t.suppressions)] == [
        ("ana@example.com", "unsubscribed")]
    assert engine.rows(t.tasks)[0].text == "call them"  # `exit when bounced`: it goes on


def test_suppression_is_checked_immediately_before_each_send(engine):
    engine.deploy(TWO_EMAILS)
    engine.enroll(email="a@example.com")
    engine.enroll(email="b@example.com")

    class SuppressesB(MemoryTransport):
        def send(self, msg):
            suppress(engine.store, "b@example.com", "complained", engine.now)
            return super().send(msg)

    engine.transport = SuppressesB()
    engine.tick()
    assert [m.to for m in engine.transport.sent] == ["a@example.com", "a@example.com"]
    skipped = engine.rows(t.step_history, kind="skipped")
    assert [(h.step, h.detail["reason"]) for h in skipped] == [
        ("first", "address complained"), ("second", "address complained")]


def test_a_bounce_suppresses_the_address_and_ends_its_other_enrollments(engine):
    engine.deploy(TWO_EMAILS.replace("exit when bounced\n", "").replace(
        'second: email', 'wait 1 day\n  second: email'))
    engine.deploy(TWO_EMAILS.replace("sequence flow", "sequence other").replace(
        "first: email", "wait 2 days\n  first: email"), name="other.seq")
    mine = engine.enroll()
    other = engine.enroll("other")
    engine.tick()
    bounce = record_event(engine.store, "bounced",
                          message_id=engine.transport.sent[0].message_id, now=engine.now)
    assert bounce.woken == 2
    engine.run_until(engine.now + timedelta(days=3))
    assert engine.subjects() == ["First"]
    assert engine.row(mine).state == "exited"
    assert (engine.row(other).state, engine.row(other).reason) == (
        "exited", "exit when bounced")
