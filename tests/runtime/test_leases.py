"""Leases: concurrent workers never process an enrollment twice, and a worker whose lease was
taken over cannot overwrite the row."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from runtime import claims
from runtime import schema as t
from runtime.claims import claim, write_back
from runtime.engine import (
    Effects,
    LeaseLost,
    PendingSend,
    SendRequest,
    WalkResult,
)
from runtime.message import build_message
from runtime.sends import StoreMailer
from runtime.tick import process_due
from runtime.transports.memory import MemoryTransport

FLOW = """
sequence flow {
  from "ana@example.com"
  hello: email { subject "Hello" body "x {{ unsubscribe_url }}" }
  wait 1 day
  bye: email { subject "Bye" body "x {{ unsubscribe_url }}" }
}
"""


def test_two_workers_claim_disjoint_batches_and_send_each_email_once(engine):
    engine.deploy(FLOW)
    for n in range(40):
        engine.enroll(email=f"c{n}@example.com")
    transports = {owner: MemoryTransport() for owner in ("w1", "w2")}
    claimed = Counter()
    errors = []
    start = threading.Barrier(2)

    def work(owner: str) -> None:
        try:
            start.wait()
            while True:
                counts = process_due(engine.store, transports[owner], engine.now, owner,
                                     batch_size=5)
                claimed[owner] += counts.claimed
                if counts.claimed == 0:
                    return
        except Exception as error:  # surfaced below: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=work, args=(o,)) for o in transports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    recipients = [m.to for tr in transports.values() for m in tr.sent]
    assert len(recipients) == 40 and len(set(recipients)) == 40
    assert claimed["w1"] + claimed["w2"] == 40
    assert Counter(s.step for s in engine.rows(t.sends)) == {"hello": 40}
    assert {r.position for r in engine.rows(t.enrollments)} == {"wait-2"}


def test_a_worker_whose_lease_expired_cannot_overwrite_the_new_owner(engine):
    engine.deploy(FLOW)
    enrollment = engine.enroll()
    now = engine.now
    [mine] = claim(engine.store, "slow", now, 10, now + timedelta(minutes=5))
    later = now + timedelta(minutes=6)
    [theirs] = claim(engine.store, "fast", later, 10, later + timedelta(minutes=5))
    assert theirs.lease_version == mine.lease_version + 1

    message = build_message(sender="ana@example.com", to="ana@example.com", subject="Hello",
                            text="x")
    with engine.store.engine.connect() as conn, engine.store.single_statements() as single:
        mailer = StoreMailer(engine.store, conn, single, engine.transport, [mine], "slow",
                             later)
        outcome = mailer.send(PendingSend(SendRequest(enrollment, "hello", 1, None, message)))
    assert isinstance(outcome, LeaseLost)
    assert engine.transport.sent == [] and engine.rows(t.sends) == []

    finished = WalkResult("completed", mine.enrollment.position, None, None, Effects())
    with engine.store.write() as tx:
        assert write_back(tx, "slow", later, [(mine, finished)]) == 1
    row = engine.row(enrollment)
    assert (row.state, row.lease_owner, row.lease_version) == ("active", "fast",
                                                               theirs.lease_version)


def test_a_slow_send_taken_over_mid_flight_is_sent_once_and_never_overwritten(engine):
    """Worker A stalls inside the transport past its lease; worker B claims the enrollment,
    finds A's reservation unconfirmed and pauses it. A then finishes: its send is recorded as
    sent, but its write-back is fenced out."""
    engine.deploy(FLOW)
    enrollment = engine.enroll()
    other = MemoryTransport()
    taken_over = {}

    class Stalls(MemoryTransport):
        def send(self, msg):
            taken_over["counts"] = process_due(engine.store, other,
                                               engine.now + timedelta(minutes=6), "B")
            return super().send(msg)

    engine.transport = Stalls()
    counts = engine.tick(owner="A")
    assert (taken_over["counts"].claimed, taken_over["counts"].paused) == (1, 1)
    assert counts.lost == 1
    assert [m.subject for m in engine.transport.sent] == ["Hello"] and other.sent == []
    row = engine.row(enrollment)
    [send] = engine.rows(t.sends)
    assert (row.state, send.state) == ("paused", "sent")
    assert engine.history(enrollment)[-1] == ("paused", "hello")


def test_an_enrollment_leased_across_a_database_restart_is_paused_for_a_person(
        engine, monkeypatch):
    """Sends commit without waiting for the WAL flush, so a server crash can lose the record
    of an email in flight: whatever was leased when the server restarted goes to a person."""
    engine.deploy(FLOW)
    enrollment = engine.enroll()
    claim(engine.store, "gone", engine.now, 10, engine.now + timedelta(minutes=5))
    restart = datetime.now(UTC) + timedelta(seconds=1)
    monkeypatch.setattr(claims, "server_started", lambda conn: restart)
    counts = engine.later(minutes=6)
    row = engine.row(enrollment)
    assert (counts.claimed, row.state, engine.transport.sent) == (0, "paused", [])
    assert row.reason.startswith("the database server restarted at ")
    assert "while worker gone was walking this enrollment" in row.reason
    assert engine.history(enrollment) == [("paused", "<entry>")]
