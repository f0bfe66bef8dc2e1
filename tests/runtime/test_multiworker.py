"""Several `seqlang worker` processes on one database: every email leaves exactly once.

Four workers share PostgreSQL (SKIP LOCKED claims) and two share SQLite (claims serialised by
the write lock). They start first and idle; then 300 contacts are enrolled in one
transaction, so every worker sees the whole backlog at the same moment and they race for it.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from runtime import schema as t
from runtime.deploy import deploy
from runtime.enroll import enroll_many
from runtime.store import Store
from runtime.transports.outbox import INDEX_NAME

DATA = Path(__file__).parent / "data"
CONTACTS = 300
_SENT = re.compile(r" enrollment=(\d+) step=welcome outcome=sent ")


def wait_for(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds}s waiting for {what}")
        time.sleep(0.1)


def index_lines(outbox: Path) -> list[dict[str, str]]:
    index = outbox / INDEX_NAME
    if not index.exists():
        return []
    return [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines()]


def settled(store: Store) -> bool:
    """Every enrollment has sent its welcome and been written back, lease released."""
    E = t.enrollments
    with store.read() as conn:
        busy = conn.execute(sa.select(sa.func.count()).where(
            sa.or_(E.c.position != "wait-2", E.c.lease_owner.is_not(None)))).scalar_one()
    return busy == 0


def test_each_email_leaves_exactly_once_with_workers_racing(store: Store,
                                                            tmp_path: Path) -> None:
    workers = 4 if store.dialect == "postgresql" else 2
    deploy(store, DATA / "welcome_now.seq", datetime.now(UTC))
    url = store.engine.url.render_as_string(hide_password=False)
    outbox = tmp_path / "outbox"
    logs = [tmp_path / f"worker{i}.log" for i in range(workers)]
    processes = []
    try:
        for i, log_path in enumerate(logs):
            with log_path.open("w") as log_file:
                processes.append(subprocess.Popen(
                    [sys.executable, "-m", "seqlang.cli", "worker", "--database-url", url,
                     "--transport", f"outbox:{outbox}", "--batch-size", "20",
                     "--owner", f"w{i}"],
                    stdout=log_file, stderr=log_file, text=True))
        wait_for(lambda: all("Ctrl-C to stop" in p.read_text() for p in logs), "the workers")

        report = enroll_many(store, "welcome_now", [
            (i, {"email": f"c{i}@example.org", "first_name": f"C{i}"}) for i in range(CONTACTS)
        ], datetime.now(UTC))
        assert len(report.enrolled) == CONTACTS
        wait_for(lambda: len(index_lines(outbox)) >= CONTACTS and settled(store),
                 f"{CONTACTS} emails")
        time.sleep(1.5)  # one more tick each: a duplicate would show up now
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        statuses = [process.wait(timeout=30) for process in processes]
    assert statuses == [0] * workers

    lines = index_lines(outbox)
    assert len(lines) == CONTACTS
    assert set(Counter(line["message_id"] for line in lines).values()) == {1}
    assert set(Counter((line["to"], line["subject"]) for line in lines).values()) == {1}
    with store.read() as conn:
        sends = conn.execute(sa.select(t.sends.c.state, t.sends.c.message_id)).all()
    assert Counter(s.state for s in sends) == {"sent": CONTACTS}
    assert {s.message_id for s in sends} == {line["message_id"] for line in lines}

    sent_by = [set(_SENT.findall(p.read_text())) for p in logs]
    assert sum(len(s) for s in sent_by) == CONTACTS
    assert len(set().union(*sent_by)) == CONTACTS
    assert sum(1 for s in sent_by if s) >= 2, "the workers did not share the backlog"
