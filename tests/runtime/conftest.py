"""Fixtures for the engine tests: a migrated store on SQLite and on PostgreSQL, and a harness
that deploys, enrolls and ticks with a memory transport and a hand-moved clock.

Every test that asks for `store` (or `engine`) runs twice, once per database. PostgreSQL is
the local server ($SEQLANG_TEST_POSTGRES_URL, default root@127.0.0.1:5432): the tests create a
database of their own, `seqlang_test_<random>`, and drop it at the end. When the server is
unreachable those runs are skipped, except with CI=true, where they fail: CI must not go
green by skipping half of its database tests.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from runtime import schema as t
from runtime.config import EngineConfig
from runtime.deploy import Deployment, deploy
from runtime.enroll import enroll
from runtime.store import Store, connect, migrate
from runtime.tick import TickCounts, process_due
from runtime.transports.memory import MemoryTransport

DATA = Path(__file__).parent / "data"
ADMIN_URL = os.environ.get("SEQLANG_TEST_POSTGRES_URL",
                           "postgresql+psycopg://root@127.0.0.1:5432/postgres")
# Monday 2 March 2026, 09:00 in New York (14:00 UTC): inside office hours.
START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
TABLES = [table.name for table in reversed(t.metadata.sorted_tables)]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database file, copied for each test (migrating is the slow part)."""
    path = tmp_path_factory.mktemp("db") / "template.db"
    store = connect(f"sqlite:///{path}")
    migrate(store)
    with store.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path


@pytest.fixture(scope="session")
def postgres_store() -> Iterator[Store]:
    """A migrated database of our own, emptied before each test that uses it."""
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT",
                             connect_args={"connect_timeout": 3})
    name = f"seqlang_test_{secrets.token_hex(4)}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        message = f"PostgreSQL at {ADMIN_URL} is unreachable: {error.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    url = sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    opened = connect(url)
    try:
        migrate(opened)
        yield opened
    finally:
        opened.close()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        path = tmp_path / "seqlang.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        opened = connect(f"sqlite:///{path}")
        try:
            yield opened
        finally:
            opened.close()
        return
    shared = request.getfixturevalue("postgres_store")
    with shared.engine.begin() as conn:  # DELETE: far cheaper than TRUNCATE on tiny tables
        for table in TABLES:
            conn.exec_driver_sql(f"DELETE FROM {table}")
    shared.cache.clear()
    yield shared


class Harness:
    """Deploy, enroll and tick against one store, with a clock the test moves."""

    def __init__(self, store: Store, folder: Path) -> None:
        self.store = store
        self.folder = folder
        self.transport = MemoryTransport()
        self.now = START
        self.config = EngineConfig()

    def write(self, text: str, files: dict[str, str] | None = None,
              name: str = "flow.seq") -> Path:
        for rel, content in (files or {}).items():
            (self.folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.folder / rel).write_text(content, encoding="utf-8")
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def deploy(self, text: str, files: dict[str, str] | None = None,
               name: str = "flow.seq") -> list[Deployment]:
        return deploy(self.store, self.write(text, files, name), self.now)

    def enroll(self, sequence: str = "flow", email: str = "ana@example.com",
               **fields: Any) -> int:
        return enroll(self.store, sequence, {"email": email, **fields}, self.now)

    def tick(self, owner: str = "w1", **kwargs: Any) -> TickCounts:
        return process_due(self.store, self.transport, self.now, owner,
                           config=kwargs.pop("config", self.config), **kwargs)

    def at(self, moment: datetime) -> TickCounts:
        self.now = moment
        return self.tick()

    def later(self, **delta: float) -> TickCounts:
        return self.at(self.now + timedelta(**delta))

    def run_until(self, end: datetime) -> None:
        """Tick at every due moment up to `end`, as a worker polling often would."""
        self.tick()
        while (due := self.next_due()) is not None and due <= end:
            self.at(max(due, self.now))
        self.now = max(self.now, end)

    def next_due(self) -> datetime | None:
        E = t.enrollments
        with self.store.read() as conn:
            return conn.execute(sa.select(sa.func.min(E.c.next_run_at))
                                .where(E.c.state == "active")).scalar()

    def row(self, enrollment: int) -> Any:
        with self.store.read() as conn:
            return conn.execute(sa.select(t.enrollments)
                                .where(t.enrollments.c.id == enrollment)).one()

    def history(self, enrollment: int) -> list[tuple[str, str]]:
        H = t.step_history
        with self.store.read() as conn:
            rows = conn.execute(sa.select(H.c.kind, H.c.step)
                                .where(H.c.enrollment_id == enrollment).order_by(H.c.id))
            return [(r.kind, r.step) for r in rows]

    def rows(self, table: sa.Table, **where: Any) -> list[Any]:
        query = sa.select(table).order_by(*table.primary_key.columns)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        with self.store.read() as conn:
            return list(conn.execute(query))

    def subjects(self) -> list[str]:
        return [m.subject for m in self.transport.sent]


@pytest.fixture
def engine(store: Store, tmp_path: Path) -> Harness:
    return Harness(store, tmp_path)
