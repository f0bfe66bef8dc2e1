"""Engine speed: the worker's send rate against the fastest plain way to do the same work,
the tick's cost as idle enrollments pile up, and how late a due email leaves.

1. Throughput: 10,000 enrollments due now on examples/onboarding.seq, one worker draining them
   through the outbox transport into a temp folder. The baseline in the same run does the same
   work with nothing in between: raw sqlite3/psycopg, select the due rows, render cached
   compiled Jinja templates, build the message with `email.mime`, write the file, update the
   row, insert the event, commit per batch of 1,000. Goal: the engine at >= 50% of it. The two
   run in turn, twice each, and the best run of each side counts, so that a noisy neighbour on
   the host does not decide the ratio.
2. Idle scaling: one tick over 1,000 due enrollments among 10,000 and among 1,000,000 waiting
   ones (inserted with bulk SQL; best of two ticks). Goal: the second takes <= 1.5x the first.
3. Scheduling latency: emails due at staggered moments over 20 s, sent by a real
   `seqlang worker` process with its default 1 s tick; latency is the outbox write time minus
   `next_run_at`. Goal: p99 <= 2 s.

Run: `python bench/engine.py` (`--quick` for a smoke run: 500 enrollments, 100,000 idle, 5 s of
latency). PostgreSQL is $SEQLANG_BENCH_POSTGRES_URL (default root@127.0.0.1:5432), in a scratch
database created and dropped here; when it is unreachable its rows say so.
"""

from __future__ import annotations

import argparse
import html
import json
import logging
import os
import re
import secrets
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import jinja2
import psycopg
import sqlalchemy as sa

from runtime import schema as t
from runtime.deploy import deploy
from runtime.enroll import enroll_many
from runtime.store import Store, open_store
from runtime.tick import TickCounts
from runtime.transports.outbox import INDEX_NAME, OutboxTransport
from runtime.worker import Worker, WorkerOptions

REPO = Path(__file__).resolve().parents[1]
ONBOARDING = REPO / "examples" / "onboarding.seq"
ADMIN_URL = os.environ.get("SEQLANG_BENCH_POSTGRES_URL",
                           "postgresql+psycopg://root@127.0.0.1:5432/postgres")
# Monday 2 March 2026, 10:00 in New York: inside the onboarding sequence's office hours.
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
BASELINE_BATCH = 1_000
ROUNDS = 2  # throughput runs per side, alternating; the best of each counts (noisy hosts)
SENDER = "Ana Silva <ana@example.com>"
DUE_AT_ONCE = """\
contact {
  first_name: string
}

sequence latency {
  from "Ana Silva <ana@example.com>"
  hello: email {
    subject "Hello {{ contact.first_name }}"
    body "Hi {{ contact.first_name }}. Unsubscribe: {{ unsubscribe_url }}"
  }
}
"""


# ---- databases ----------------------------------------------------------------------------


@contextmanager
def scratch_database(kind: str, folder: Path) -> Iterator[str]:
    """A URL of an empty database of `kind`, removed afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'bench-{secrets.token_hex(4)}.db'}"
        return
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT",
                             connect_args={"connect_timeout": 3})
    name = f"seqlang_bench_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def postgres_reachable() -> str | None:
    """None when the server answers, else why not."""
    admin = sa.create_engine(ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.connect():
            return None
    except sa.exc.OperationalError as error:
        return str(error.orig).strip().splitlines()[0]
    finally:
        admin.dispose()


def contacts(count: int, prefix: str = "c") -> list[tuple[int, dict[str, str]]]:
    return [(i, {"email": f"{prefix}{i}@example.com", "first_name": f"Contact{i}",
                 "company": "Northwind"}) for i in range(count)]


def quiet_store(url: str) -> Store:
    """A migrated store, without Alembic's per-revision log lines in the table."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    return open_store(url)


# ---- 1. throughput ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    emails: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.emails / self.seconds


def engine_rate(url: str, count: int, folder: Path) -> Rate:
    store = quiet_store(url)
    try:
        deploy(store, ONBOARDING, NOW)
        report = enroll_many(store, "onboarding", contacts(count), NOW)
        assert len(report.enrolled) == count, report.errors[:3]
        counts, seconds = drain(store, folder / "outbox-engine")
    finally:
        store.close()
    assert counts.sent == count, counts
    return Rate(counts.sent, seconds)


def drain(store: Store, outbox: Path) -> tuple[TickCounts, float]:
    """One worker tick at NOW, which drains every due batch; (counts, seconds)."""
    worker = Worker(store, OutboxTransport(outbox), WorkerOptions(owner="bench"),
                    clock=lambda: NOW)
    started = time.perf_counter()
    counts = worker.tick()
    return counts, time.perf_counter() - started


_TAGS = re.compile(r"<[^>]+>")


def baseline_rate(url: str, count: int, folder: Path) -> Rate:
    """The same sends done the fastest plain way; see the module docstring."""
    outbox = folder / "outbox-baseline"
    outbox.mkdir()
    with _raw_connection(url) as (conn, mark):
        _baseline_tables(conn, mark, count)
        env = jinja2.Environment(autoescape=True)
        subject = env.from_string("Welcome, {{ contact.first_name }}")
        body = env.from_string((ONBOARDING.parent / "templates" / "welcome.html.j2")
                               .read_text(encoding="utf-8"))
        due = (f"SELECT e.id, c.email, c.fields FROM b_enrollments e JOIN b_contacts c "
               f"ON c.id = e.contact_id WHERE e.next_run_at <= {mark} "
               f"ORDER BY e.next_run_at LIMIT {BASELINE_BATCH}")
        update = f"UPDATE b_enrollments SET position = 'wait-2', next_run_at = {mark} " \
                 f"WHERE id = {mark}"
        insert = f"INSERT INTO b_events (enrollment_id, kind, message_id, at) " \
                 f"VALUES ({mark}, 'sent', {mark}, {mark})"
        later, sent, cursor = NOW + timedelta(days=1), 0, conn.cursor()
        started = time.perf_counter()
        while True:
            rows = cursor.execute(due, (NOW,)).fetchall()
            if not rows:
                break
            events = []
            for enrollment, email, fields in rows:
                contact = {**(json.loads(fields) if isinstance(fields, str) else fields),
                           "email": email}
                unsubscribe = f"https://example.com/unsubscribe?e={enrollment}"
                html_body = body.render(contact=contact, unsubscribe_url=unsubscribe)
                message = MIMEMultipart("alternative")
                message["From"] = SENDER
                message["To"] = email
                message["Subject"] = subject.render(contact=contact)
                message["Date"] = format_datetime(NOW)
                message_id = make_msgid(domain="example.com")
                message["Message-ID"] = message_id
                message["List-Unsubscribe"] = f"<{unsubscribe}>"
                message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
                message.attach(MIMEText(html.unescape(_TAGS.sub("", html_body)), "plain",
                                        "utf-8"))
                message.attach(MIMEText(html_body, "html", "utf-8"))
                (outbox / f"{message_id.strip('<>')}.eml").write_bytes(message.as_bytes())
                events.append((enrollment, message_id, NOW))
            cursor.executemany(update, [(later, e) for e, _, _ in events])
            cursor.executemany(insert, events)
            conn.commit()
            sent += len(rows)
        seconds = time.perf_counter() - started
    assert sent == count
    return Rate(sent, seconds)


@contextmanager
def _raw_connection(url: str) -> Iterator[tuple[Any, str]]:
    """The driver's own connection and its parameter mark, no SQLAlchemy in between."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn: Any = sqlite3.connect(parsed.database or ":memory:")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        mark = "?"
    else:
        conn = psycopg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                               password=parsed.password, dbname=parsed.database)
        mark = "%s"
    try:
        yield conn, mark
    finally:
        conn.close()


def _baseline_tables(conn: Any, mark: str, count: int) -> None:
    key = "INTEGER PRIMARY KEY" if mark == "?" else "SERIAL PRIMARY KEY"
    stamp = "TEXT" if mark == "?" else "TIMESTAMPTZ"
    cursor = conn.cursor()
    cursor.execute(f"CREATE TABLE b_contacts (id {key}, email TEXT NOT NULL, fields TEXT)")
    cursor.execute(f"CREATE TABLE b_enrollments (id {key}, contact_id INTEGER NOT NULL, "
                 f"position TEXT NOT NULL, next_run_at {stamp})")
    cursor.execute(f"CREATE TABLE b_events (id {key}, enrollment_id INTEGER NOT NULL, "
                 f"kind TEXT NOT NULL, message_id TEXT NOT NULL, at {stamp})")
    cursor.execute("CREATE INDEX b_due ON b_enrollments (next_run_at)")
    rows = contacts(count)
    cursor.executemany(f"INSERT INTO b_contacts (id, email, fields) VALUES ({mark}, {mark}, "
                     f"{mark})", [(i + 1, c["email"], json.dumps(c)) for i, c in rows])
    cursor.executemany(f"INSERT INTO b_enrollments (contact_id, position, next_run_at) VALUES "
                     f"({mark}, '<entry>', {mark})", [(i + 1, NOW) for i, _ in rows])
    conn.commit()


# ---- 2. idle scaling ------------------------------------------------------------------------


def tick_among_idle(url: str, idle: int, due: int, rounds: int, folder: Path) -> float:
    """Seconds for the tick that sends `due` welcome emails among `idle` waiting enrollments;
    the best of `rounds` ticks, each over `due` fresh enrollments in the same database."""
    store = quiet_store(url)
    times = []
    try:
        [deployment] = deploy(store, ONBOARDING, NOW)
        add_idle(store, deployment.version_id, idle)
        for attempt in range(rounds):
            report = enroll_many(store, "onboarding", contacts(due, f"r{attempt}-"), NOW)
            assert len(report.enrolled) == due
            counts, seconds = drain(store, folder / f"outbox-idle-{idle}")
            assert counts.sent == due, counts
            times.append(seconds)
    finally:
        store.close()
    return min(times)


def add_idle(store: Store, version_id: int, count: int) -> None:
    """`count` contacts, each waiting a day in the onboarding sequence: bulk SQL, no engine."""
    numbers = ("SELECT i FROM generate_series(1, :count) AS i" if store.dialect == "postgresql"
               else "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < :count) SELECT i FROM n")
    empty = "CAST('{}' AS JSON)" if store.dialect == "postgresql" else "'{}'"
    visits = empty.replace("{}", '{"welcome": 1, "wait-2": 1}')
    stamp = sa.bindparam("now", NOW, type_=t.UTCDateTime())
    wakes = sa.bindparam("wakes", NOW + timedelta(days=1), type_=t.UTCDateTime())
    with store.write() as conn:
        conn.execute(sa.text(
            f"INSERT INTO contacts (email, fields, created_at, updated_at) "
            f"SELECT 'idle' || i || '@example.com', {empty}, :now, :now FROM ({numbers}) AS n"
        ).bindparams(stamp, count=count))
        conn.execute(sa.text(
            f"INSERT INTO enrollments (version_id, sequence, contact_id, state, time_zone, "
            f"position, wait, resume_at, next_run_at, visits, variants, cohorts, steps, "
            f"attempts, wake_version, lease_version, enrolled_at, updated_at) "
            f"SELECT :version, 'onboarding', id, 'active', 'America/New_York', 'wait-2', "
            f"'wait', :wakes, :wakes, {visits}, {empty}, {empty}, 2, 0, 0, 0, :now, :now "
            f"FROM contacts WHERE email LIKE 'idle%'"
        ).bindparams(stamp, wakes, version=version_id))
    with store.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")  # what autovacuum would have done by now


# ---- 3. scheduling latency --------------------------------------------------------------


def latency(url: str, count: int, spread: float, folder: Path) -> list[float]:
    """Seconds from `next_run_at` to the outbox write, for `count` emails due over `spread`."""
    source = folder / "latency.seq"
    source.write_text(DUE_AT_ONCE, encoding="utf-8")
    outbox, log_path = folder / "outbox-latency", folder / "latency-worker.log"
    store = quiet_store(url)
    far = datetime.now(UTC) + timedelta(days=1)
    deploy(store, source, far)
    report = enroll_many(store, "latency", contacts(count), far)
    with log_path.open("w") as log_file:
        worker = subprocess.Popen(
            [sys.executable, "-m", "seqlang.cli", "worker", "--database-url", url,
             "--transport", f"outbox:{outbox}"], stdout=log_file, stderr=log_file)
        try:
            _wait(lambda: "Ctrl-C to stop" in log_path.read_text(), 60)
            first = datetime.now(UTC) + timedelta(seconds=1)
            due = {e: first + timedelta(seconds=spread * i / count)
                   for i, e in enumerate(report.enrolled)}
            E = t.enrollments
            with store.write() as conn:
                conn.execute(sa.update(E).where(E.c.id == sa.bindparam("e_id"))
                             .values(next_run_at=sa.bindparam("due")),
                             [{"e_id": e, "due": at} for e, at in due.items()])
            _wait(lambda: _lines(outbox) >= count, spread + 60)
        finally:
            worker.send_signal(signal.SIGINT)
            worker.wait(timeout=30)
    with store.read() as conn:
        owner = {row.message_id: row.enrollment_id for row in conn.execute(
            sa.select(t.sends.c.message_id, t.sends.c.enrollment_id))}
    store.close()
    written = [json.loads(line) for line in (outbox / INDEX_NAME).read_text().splitlines()]
    return sorted((datetime.fromisoformat(w["at"].replace("Z", "+00:00"))
                   - due[owner[w["message_id"]]]).total_seconds() for w in written)


def _lines(outbox: Path) -> int:
    index = outbox / INDEX_NAME
    return len(index.read_text().splitlines()) if index.exists() else 0


def _wait(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done after {seconds:g}s")
        time.sleep(0.05)


def percentile(values: list[float], share: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


# ---- the table ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 500 enrollments, 100,000 idle, 5 s of latency")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), action="append",
                        help="only this database (repeatable; default: both)")
    args = parser.parse_args(argv)
    enrollments, rounds = (500, 1) if args.quick else (10_000, ROUNDS)
    idle_sizes = (10_000, 100_000) if args.quick else (10_000, 1_000_000)
    spread, stagger = (5.0, 50) if args.quick else (20.0, 200)
    kinds = args.database or ["sqlite", "postgresql"]
    unreachable = postgres_reachable() if "postgresql" in kinds else None

    with tempfile.TemporaryDirectory(prefix="seqlang-bench-") as tmp:
        folder = Path(tmp)
        print(f"throughput: {enrollments:,} enrollments due now on onboarding.seq, one worker, "
              f"outbox to a temp folder (best of {rounds})")
        print(f"  {'database':<11} {'engine/s':>9} {'baseline/s':>11} {'ratio':>6}  goal >= 50%")
        for kind in kinds:
            (folder / kind).mkdir()
            if kind == "postgresql" and unreachable:
                print(f"  {kind:<11} skipped: {unreachable}")
                continue
            engines, bases = [], []
            for attempt in range(rounds):
                work = folder / kind / f"round{attempt}"
                work.mkdir()
                with scratch_database(kind, folder) as url:
                    engines.append(engine_rate(url, enrollments, work).per_second)
                with scratch_database(kind, folder) as url:
                    bases.append(baseline_rate(url, enrollments, work).per_second)
            engine, base = max(engines), max(bases)
            ratio = engine / base
            print(f"  {kind:<11} {engine:>9,.0f} {base:>11,.0f} "
                  f"{ratio:>6.0%}  {'met' if ratio >= 0.5 else 'MISSED'}", flush=True)

        small, large = idle_sizes
        print("\nidle scaling: one tick over 1,000 due enrollments among idle (waiting) ones "
              f"(best of {rounds})")
        print(f"  {'database':<11} {f'{small:,} idle':>13} {f'{large:,} idle':>15} "
              f"{'ratio':>6}  goal <= 1.5x")
        for kind in kinds:
            if kind == "postgresql" and unreachable:
                print(f"  {kind:<11} skipped: {unreachable}")
                continue
            times = []
            for idle in idle_sizes:
                with scratch_database(kind, folder) as url:
                    times.append(tick_among_idle(url, idle, 1_000, rounds, folder / kind))
            ratio = times[1] / times[0]
            print(f"  {kind:<11} {times[0]:>12.2f}s {times[1]:>14.2f}s {ratio:>5.2f}x  "
                  f"{'met' if ratio <= 1.5 else 'MISSED'}", flush=True)

        print(f"\nscheduling latency: {stagger} emails due over {spread:g} s, `seqlang worker` "
              "with its 1 s tick")
        print(f"  {'database':<11} {'p50':>7} {'p99':>7} {'max':>7}  goal p99 <= 2 s")
        for kind in kinds:
            if kind == "postgresql" and unreachable:
                print(f"  {kind:<11} skipped: {unreachable}")
                continue
            with scratch_database(kind, folder) as url:
                lags = latency(url, stagger, spread, folder / kind)
            p99 = percentile(lags, 0.99)
            print(f"  {kind:<11} {percentile(lags, 0.50):>6.2f}s {p99:>6.2f}s "
                  f"{max(lags):>6.2f}s  {'met' if p99 <= 2 else 'MISSED'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
