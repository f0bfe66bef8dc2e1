"""Operator actions and explanations: pause, resume (with or without resending), skip-step,
unenroll, and `status` saying why an enrollment waits."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runtime import schema as t
from runtime.control import ControlError, pause, resume, skip_step, unenroll
from runtime.status import explain
from runtime.transports.base import TransientSendError
from runtime.transports.memory import MemoryTransport

FLOW = """
contact {
  tz: string?
}
sequence flow {
  from "ana@example.com"
  timezone contact.tz default "Europe/Paris"
  welcome: email { subject "Welcome" body "x {{ unsubscribe_url }}" }
  if opened(welcome) within 2 days {
    thanks: email { subject "Thanks" body "x {{ unsubscribe_url }}" }
  } else {
    nudge: email { subject "Nudge" body "x {{ unsubscribe_url }}" }
  }
  wait 1 week
  bye: email { subject "Bye" body "x {{ unsubscribe_url }}" }
}
"""


def test_status_says_what_an_enrollment_waits_for_in_its_own_zone(engine):
    engine.deploy(FLOW)
    enrollment = engine.enroll(tz="Asia/Tokyo")
    assert explain(engine.store, enrollment).why == (
        "enrolled; the first step runs at the next tick")
    engine.tick()
    why = explain(engine.store, enrollment)
    assert why.why == ("waiting for opened(welcome) until 2026-03-04T23:00:00+09:00; if it "
                       "has not happened by then, takes `else`")
    assert (why.step, why.until, why.time_zone) == ("if-2", "2026-03-04T23:00:00+09:00",
                                                    "Asia/Tokyo")
    assert [s["step"] for s in why.sends] == ["welcome"]
    assert "at step if-2: waiting for opened(welcome)" in why.text()
    engine.at(engine.now + timedelta(days=2))
    assert explain(engine.store, enrollment).why == (
        "waiting (1 week) until 2026-03-11T23:00:00+09:00")


def test_status_explains_a_retry(engine):
    engine.deploy(FLOW)
    enrollment = engine.enroll()
    engine.transport.fail_next(TransientSendError("421 busy"))
    engine.tick()
    why = explain(engine.store, enrollment)
    assert why.why.startswith("email failed to send with a transient error (1 so far); "
                              "trying again at 2026-03-02T15:0")


def test_skip_step_moves_past_a_wait_or_times_out_a_condition(engine):
    engine.deploy(FLOW)
    enrollment = engine.enroll()
    engine.tick()
    assert skip_step(engine.store, enrollment, engine.now) == "nudge"
    engine.tick()
    assert engine.subjects() == ["Welcome", "Nudge"]
    assert skip_step(engine.store, enrollment, engine.now) == "bye"
    engine.tick()
    assert engine.subjects() == ["Welcome", "Nudge", "Bye"]
    assert engine.row(enrollment).state == "completed"
    with pytest.raises(ControlError, match="is completed; nothing to skip"):
        skip_step(engine.store, enrollment, engine.now)


def test_a_pause_fences_out_a_worker_in_the_middle_of_a_walk(engine):
    engine.deploy(FLOW)
    enrollment = engine.enroll()

    class PausedMeanwhile(MemoryTransport):
        def send(self, msg):
            pause(engine.store, enrollment, engine.now, "asked to hold")
            return super().send(msg)

    engine.transport = PausedMeanwhile()
    counts = engine.tick()
    row = engine.row(enrollment)
    assert (counts.sent, counts.lost) == (1, 1)
    assert (row.state, row.reason, row.next_run_at) == ("paused", "asked to hold", None)
    assert engine.later(days=3).claimed == 0
    resume(engine.store, enrollment, engine.now)
    engine.tick()
    assert engine.subjects() == ["Welcome"]  # not sent again; the condition starts waiting now
    assert (engine.row(enrollment).position, engine.row(enrollment).wait) == ("if-2", "within")
    engine.later(days=2)
    assert engine.subjects() == ["Welcome", "Nudge"]


def test_resume_with_resend_sends_an_unknown_email_again_under_the_same_key(engine):
    engine.deploy(FLOW)
    enrollment = engine.enroll()

    class Broken(MemoryTransport):
        def send(self, msg):
            raise ConnectionResetError("connection reset mid-DATA")

    engine.transport = Broken()
    engine.tick()
    row = engine.row(enrollment)
    assert row.state == "paused" and "connection reset mid-DATA" in row.reason
    engine.transport = MemoryTransport()
    resume(engine.store, enrollment, engine.now, resend=True)
    engine.tick()
    assert engine.subjects() == ["Welcome"]
    [send] = engine.rows(t.sends)
    assert (send.state, send.attempts, send.idempotency_key) == ("sent", 2,
                                                                 f"{enrollment}/welcome/1")


def test_unenroll_ends_an_unfinished_enrollment_only(engine):
    engine.deploy(FLOW)
    enrollment = engine.enroll()
    engine.tick()
    unenroll(engine.store, enrollment, engine.now, "left the company")
    row = engine.row(enrollment)
    assert (row.state, row.reason, row.next_run_at) == ("exited", "left the company", None)
    with pytest.raises(ControlError, match="is exited, not active or paused"):
        unenroll(engine.store, enrollment, engine.now)
    with pytest.raises(ControlError, match="no enrollment 999"):
        pause(engine.store, 999, engine.now)
