"""A worker killed (SIGKILL) around a send: no email is ever delivered twice, none is lost.

The child process runs the real worker tick with an outbox that kills it just before handing a
message on, or just after writing it. Once its lease has expired a healthy worker takes over.
Each email must then end delivered exactly once and recorded `sent`, or undelivered and
recorded `unknown` with its enrollment paused and listed by status for a person to check.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runtime import schema as t
from runtime.control import resume
from runtime.deploy import deploy
from runtime.enroll import enroll_many
from runtime.status import explain, overview
from runtime.store import Store
from runtime.tick import process_due
from runtime.transports.outbox import INDEX_NAME, OutboxTransport

HERE = Path(__file__).parent
CONTACTS = 5


def deliveries(outbox: Path) -> Counter[str]:
    """How many times each Message-ID was written to the outbox."""
    index = outbox / INDEX_NAME
    if not index.exists():
        return Counter()
    lines = index.read_text(encoding="utf-8").splitlines()
    return Counter(json.loads(line)["message_id"] for line in lines)


def sends(store: Store) -> list[tuple[int, str, str, str]]:
    S = t.sends
    with store.read() as conn:
        rows = conn.execute(t.sends.select().order_by(S.c.id)).all()
    return [(r.enrollment_id, r.step, r.state, r.message_id) for r in rows]


def crash(store: Store, outbox: Path, moment: str) -> datetime:
    """Enroll contacts due now and kill a worker at `moment` of its first send."""
    now = datetime.now(UTC)
    deploy(store, HERE / "data" / "welcome_now.seq", now)
    report = enroll_many(store, "welcome_now", [
        (i, {"email": f"c{i}@example.org", "first_name": f"C{i}"}) for i in range(CONTACTS)
    ], now)
    assert len(report.enrolled) == CONTACTS
    url = store.engine.url.render_as_string(hide_password=False)
    child = subprocess.run([sys.executable, str(HERE / "crash_worker.py"), url, str(outbox),
                            moment], capture_output=True, text=True, timeout=60)
    assert child.returncode == -signal.SIGKILL, child.stderr
    [reserved] = [s for s in sends(store) if s[2] == "reserved"]
    assert reserved[1] == "welcome"
    return now


def take_over(store: Store, outbox: Path, now: datetime) -> None:
    """A healthy worker, once the dead one's leases have expired."""
    process_due(store, OutboxTransport(outbox), now + timedelta(minutes=6), "rescuer")


def test_killed_before_the_send_leaves_it_unknown_and_reported(store: Store,
                                                                tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    now = crash(store, outbox, "before-send")
    assert deliveries(outbox) == Counter()
    [(lost_enrollment, _, _, lost_id)] = [s for s in sends(store) if s[2] == "reserved"]

    take_over(store, outbox, now)
    delivered = deliveries(outbox)
    assert set(delivered.values()) == {1}
    states = {(e, step): (state, mid) for e, step, state, mid in sends(store)}
    assert states.pop((lost_enrollment, "welcome")) == ("unknown", lost_id)
    assert len(states) == CONTACTS - 1
    assert all(state == "sent" and delivered[mid] == 1 for state, mid in states.values())

    [status] = overview(store, "welcome_now")
    assert [(u["enrollment_id"], u["message_id"]) for u in status.unknown_sends] == [
        (lost_enrollment, lost_id)]
    explained = explain(store, lost_enrollment)
    assert explained.state == "paused"
    assert lost_id in explained.why

    # An operator who checked the mailbox resumes it: the walk goes on, never re-sending it.
    resume(store, lost_enrollment, now + timedelta(minutes=7))
    process_due(store, OutboxTransport(outbox), now + timedelta(minutes=7), "rescuer")
    assert lost_id not in deliveries(outbox)
    assert explain(store, lost_enrollment).state == "active"
    assert ("welcome", "unknown") in {(s[1], s[2]) for s in sends(store)
                                      if s[0] == lost_enrollment}


def test_killed_after_the_send_is_confirmed_sent_and_not_repeated(store: Store,
                                                                  tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    now = crash(store, outbox, "after-send")
    [(written_enrollment, _, _, written_id)] = [s for s in sends(store) if s[2] == "reserved"]
    assert deliveries(outbox) == Counter({written_id: 1})

    take_over(store, outbox, now)
    delivered = deliveries(outbox)
    assert len(delivered) == CONTACTS
    assert set(delivered.values()) == {1}
    assert [(step, state) for _, step, state, _ in sends(store)] == [("welcome", "sent")] * CONTACTS
    assert explain(store, written_enrollment).state == "active"  # on to its day-long wait
    [status] = overview(store, "welcome_now")
    assert status.unknown_sends == []

