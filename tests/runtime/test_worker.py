"""`seqlang worker` and `seqlang run`: sending what is due, logging each step, stopping cleanly.

The process tests start the real command and stop it with a signal, as a user or a service
manager would; the in-process ones pin down what a stop means for a batch in flight.
"""

from __future__ import annotations

import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from runtime import logs
from runtime import schema as t
from runtime.deploy import deploy
from runtime.enroll import enroll_many
from runtime.message import OutgoingMessage
from runtime.store import Store, open_store
from runtime.transports.base import SendReceipt
from runtime.transports.memory import MemoryTransport
from runtime.transports.outbox import INDEX_NAME
from runtime.worker import Worker, WorkerOptions
from seqlang.cli import main
from seqlang.graph import ENTRY

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parents[2]
CLI = [sys.executable, "-m", "seqlang.cli"]


def enroll_now(store: Store, count: int, prefix: str = "c") -> list[int]:
    now = datetime.now(UTC)
    deploy(store, DATA / "welcome_now.seq", now)
    report = enroll_many(store, "welcome_now", [
        (i, {"email": f"{prefix}{i}@example.org", "first_name": f"C{i}"}) for i in range(count)
    ], now)
    assert not report.errors
    return report.enrolled


def wait_for(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {seconds}s waiting for {what}")
        time.sleep(0.05)


def indexed(outbox: Path) -> list[dict[str, Any]]:
    index = outbox / INDEX_NAME
    if not index.exists():
        return []
    return [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines()]


def stop(process: subprocess.Popen[str], sig: signal.Signals = signal.SIGINT) -> int:
    process.send_signal(sig)
    return process.wait(timeout=30)


# ---- the worker process ------------------------------------------------------------------


def test_worker_sends_due_emails_logs_json_and_stops_on_sigint(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'engine.db'}"
    store = open_store(url)
    enrolled = enroll_now(store, 4)
    outbox, log_path = tmp_path / "outbox", tmp_path / "worker.log"
    with log_path.open("w") as log_file:
        worker = subprocess.Popen(  # configured the way a service manager would
            [*CLI, "worker", "--log-format", "json", "--owner", "test-worker"],
            env={**os.environ, "SEQLANG_DATABASE_URL": url,
                 "SEQLANG_TRANSPORT": f"outbox:{outbox}"},
            stdout=log_file, stderr=log_file, text=True, cwd=tmp_path)
        try:
            wait_for(lambda: len(indexed(outbox)) == 4, "4 emails in the outbox")
        finally:
            status = stop(worker)
    assert status == 0
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    steps = [line for line in lines if "step" in line]
    sent = {s["enrollment"] for s in steps if s["step"] == "welcome" and s["outcome"] == "sent"}
    assert sent == set(enrolled)
    waits = [(s["outcome"], s["reason"]) for s in steps if s["step"] == "wait-2"]
    assert waits == [("waiting", "wait")] * len(enrolled)
    for line in steps:
        assert set(line) == {"at", "level", "enrollment", "step", "outcome", "duration_ms",
                             "reason"}
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert not [line for line in lines if line["level"] in ("warning", "error")]
    messages = [line["message"] for line in lines if "message" in line]
    assert any(m.startswith("worker test-worker: database sqlite:///") for m in messages)
    assert messages[-1] == "worker test-worker stopped"
    with store.read() as conn:
        leased = conn.execute(sa.select(sa.func.count()).where(
            t.enrollments.c.lease_owner.is_not(None))).scalar_one()
    assert leased == 0
    store.close()


def test_worker_refuses_a_bad_transport_url_with_status_2(tmp_path: Path) -> None:
    done = subprocess.run([*CLI, "worker", "--database-url", f"sqlite:///{tmp_path / 'x.db'}",
                           "--transport", "carrier-pigeon:coop"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown transport scheme 'carrier-pigeon'" in done.stderr


# ---- the main job ----------------------------------------------------------------------


def test_run_deploys_enrolls_prints_timelines_and_can_run_twice(tmp_path: Path) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("email,first_name,company,timezone\n"
                        "maria@example.com,María,Fabrikam,America/Mexico_City\n"
                        "aiko@example.com,Aiko,,Asia/Tokyo\n", encoding="utf-8")
    command = [*CLI, "run", str(REPO / "examples" / "onboarding.seq"), "--csv", str(contacts),
               "--send-window", "ignore"]

    def run_once(attempt: int) -> tuple[int, str, str]:
        out_path, err_path = tmp_path / f"out{attempt}.txt", tmp_path / f"err{attempt}.txt"
        with out_path.open("w") as out_file, err_path.open("w") as err_file:
            process = subprocess.Popen(command, stdout=out_file, stderr=err_file, text=True,
                                       cwd=tmp_path)
            try:
                wait_for(lambda: "Ctrl-C to stop" in err_path.read_text(), "the worker")
            finally:
                status = stop(process)
        return status, out_path.read_text(), err_path.read_text()

    status, out, err = run_once(1)
    assert status == 0, err
    assert "deployed onboarding version 1\n" in out
    assert "enrolled 2 contacts in onboarding" in out
    assert "never for real sends" in out
    maria = out[out.index("enrollment 1 maria@example.com (America/Mexico_City)"):]
    assert "sent      welcome      'Welcome, María'" in maria.splitlines()[1]
    assert "until" in maria.splitlines()[2] and "1 day" in maria.splitlines()[2]
    assert "'Re: Welcome, María'" in maria.splitlines()[3]
    assert "enrollment 2 aiko@example.com (Asia/Tokyo)" in out
    assert "outcome=sent" in err and "stopped" in err.splitlines()[-1]
    first = indexed(tmp_path / "outbox")
    assert sorted(e["subject"] for e in first) == ["Welcome, Aiko", "Welcome, María"]

    status, out, err = run_once(2)
    assert status == 0, err
    assert "deployed onboarding version 1 (unchanged)" in out
    assert f"{contacts}:2: skipped: maria@example.com is already in an unfinished run" in out
    assert "enrolled 0 contacts in onboarding, 2 skipped" in out
    assert indexed(tmp_path / "outbox") == first


@pytest.fixture
def saved_logging() -> Iterator[None]:
    """Undo the handler a command installs on the `seqlang` logger."""
    root = logging.getLogger(logs.ROOT_LOGGER)
    saved = (list(root.handlers), root.level, root.propagate)
    yield
    root.handlers[:], root.level, root.propagate = saved


def test_run_refuses_a_file_with_check_errors_and_names_the_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], saved_logging: None) -> None:
    broken = tmp_path / "broken.seq"
    broken.write_text('sequence s {\n  from "a@example.com"\n  goto nowhere\n}\n')
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("email\nana@example.com\n")
    status = main(["run", str(broken), "--csv", str(contacts),
                   "--database-url", f"sqlite:///{tmp_path / 'x.db'}"])
    err = capsys.readouterr().err
    assert status == 1
    assert "not deployed, `seqlang check` found 1 error" in err
    assert f"{broken}:3:" in err and "SEQ010" in err


def test_run_refuses_a_missing_csv_with_status_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], saved_logging: None) -> None:
    status = main(["run", str(DATA / "welcome_now.seq"), "--csv", str(tmp_path / "none.csv"),
                   "--database-url", f"sqlite:///{tmp_path / 'x.db'}"])
    assert status == 2
    assert f"--csv: cannot read {tmp_path / 'none.csv'}" in capsys.readouterr().err


# ---- in-process: batches, stops and signals ---------------------------------------------


class StoppingTransport(MemoryTransport):
    """Asks its worker to stop during the first send, as a signal arriving mid-batch would."""

    def __init__(self) -> None:
        super().__init__()
        self.worker: Worker | None = None

    def send(self, msg: OutgoingMessage) -> SendReceipt:
        assert self.worker is not None
        self.worker.stop()
        return super().send(msg)


def test_a_tick_drains_every_due_batch(store: Store) -> None:
    enroll_now(store, 7)
    transport = MemoryTransport()
    counts = Worker(store, transport, WorkerOptions(batch_size=3, owner="w")).tick()
    assert (counts.claimed, counts.sent) == (7, 7)
    assert len(transport.sent) == 7


def test_a_stop_finishes_the_batch_in_hand_and_claims_no_more(store: Store) -> None:
    enroll_now(store, 7)
    transport = StoppingTransport()
    worker = Worker(store, transport, WorkerOptions(batch_size=3, owner="w"))
    transport.worker = worker
    counts = worker.tick()
    assert (counts.claimed, counts.sent, counts.waiting) == (3, 3, 3)
    E = t.enrollments
    with store.read() as conn:
        rows = conn.execute(sa.select(E.c.position, E.c.lease_owner).order_by(E.c.id)).all()
    assert sorted(r.position for r in rows) == [ENTRY] * 4 + ["wait-2"] * 3
    assert {r.lease_owner for r in rows} == {None}


def test_sigterm_stops_the_scheduler_loop_and_restores_the_handlers(store: Store) -> None:
    enroll_now(store, 2)
    transport = MemoryTransport()
    worker = Worker(store, transport, WorkerOptions(owner="w", interval=0.2))
    before = signal.getsignal(signal.SIGTERM)

    def terminate_once_sent() -> None:
        wait_for(lambda: len(transport.sent) == 2, "two sends")
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_once_sent)
    killer.start()
    worker.run_forever()
    killer.join()
    assert len(transport.sent) == 2
    assert signal.getsignal(signal.SIGTERM) is before


# ---- log lines ---------------------------------------------------------------------------


@pytest.fixture
def log_stream(saved_logging: None) -> Callable[[str], io.StringIO]:
    def configure(log_format: str) -> io.StringIO:
        stream = io.StringIO()
        logs.configure(log_format, stream)  # type: ignore[arg-type]
        return stream

    return configure


def _step(logger: str = "seqlang.engine", **extra: Any) -> None:
    fields = {"enrollment": 12, "step": "welcome", "outcome": "sent", "duration_ms": 3.1,
              "reason": None, **extra}
    logging.getLogger(logger).info("enrollment 12 step welcome: sent", extra=fields)


def test_text_lines_are_key_value_and_quote_what_has_spaces(
        log_stream: Callable[[str], io.StringIO]) -> None:
    stream = log_stream("text")
    _step()
    _step(outcome="exited", reason="exit when replied")
    logging.getLogger("seqlang.worker").warning("tick failed")
    first, second, third = stream.getvalue().splitlines()
    stamp, rest = first.split(" ", 1)
    assert datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")
    assert rest == "enrollment=12 step=welcome outcome=sent duration_ms=3.1"
    assert second.endswith(' outcome=exited duration_ms=3.1 reason="exit when replied"')
    assert third.endswith(" WARNING tick failed")


def test_json_lines_carry_the_step_fields_and_errors(
        log_stream: Callable[[str], io.StringIO]) -> None:
    stream = log_stream("json")
    _step(reason="send window")
    try:
        raise RuntimeError("database went away")
    except RuntimeError:
        logging.getLogger("seqlang.worker").exception("tick failed")
    step, failure = (json.loads(line) for line in stream.getvalue().splitlines())
    assert {k: step[k] for k in logs.STEP_FIELDS} == {
        "enrollment": 12, "step": "welcome", "outcome": "sent", "duration_ms": 3.1,
        "reason": "send window"}
    assert failure["level"] == "error" and failure["message"] == "tick failed"
    assert "RuntimeError: database went away" in failure["error"]


def test_configuring_twice_does_not_double_the_lines(
        log_stream: Callable[[str], io.StringIO]) -> None:
    log_stream("text")
    stream = log_stream("json")
    _step()
    assert len(stream.getvalue().splitlines()) == 1


def test_cli_lists_worker_and_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    assert "\n  worker " in listed and "\n  run " in listed
