"""The database behind the engine: connecting, migrating, and transactions that mean the same
thing on SQLite and PostgreSQL.

SQLite: the driver's own transaction handling is switched off (the pysqlite event recipe in
SQLAlchemy's SQLite dialect documentation) so that SQLAlchemy emits BEGIN itself, which lets a
writer say `BEGIN IMMEDIATE`. A writer that began deferred and read first could be refused its
write lock with SQLITE_BUSY_SNAPSHOT, which `busy_timeout` does not retry; taking the lock up
front turns every conflict into a wait. WAL mode lets readers run beside the one writer.
`synchronous=NORMAL` (the WAL recommendation) survives a crashed process but may lose the last
commits on power loss; use PostgreSQL where that matters.

PostgreSQL: psycopg 3, READ COMMITTED, and row locks with SKIP LOCKED for claims, so any
number of workers can share one database.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

DEFAULT_URL = "sqlite:///seqlang.db"
BUSY_TIMEOUT_MS = 30_000
_IMMEDIATE = "seqlang_immediate"


@dataclass(frozen=True)
class Store:
    """An engine plus the per-process cache of deployed sequences (versions never change)."""

    engine: Engine
    cache: dict[int, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self, conn: Connection | None = None, durable: bool = True
              ) -> Iterator[Connection]:
        """A transaction that will write: on SQLite it takes the write lock at BEGIN.

        Given a connection, the transaction runs on it: a tick keeps one connection for all
        of its short transactions rather than checking one out of the pool for each.
        `durable=False` lets PostgreSQL acknowledge the commit before its WAL reaches disk,
        for writes whose loss in a server crash is detected and handled (runtime.sends).
        """
        with ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(self.engine.connect())
            conn.execution_options(**{_IMMEDIATE: True})
            with conn.begin():
                if not durable and self.dialect == "postgresql":
                    conn.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
                yield conn

    @contextmanager
    def single_statements(self) -> Iterator[Connection | None]:
        """On PostgreSQL, a connection on which each statement commits on its own, without
        waiting for the WAL flush: one round trip for a write that needs no BEGIN/COMMIT
        around it. None on SQLite, whose transactions cost no round trips."""
        if self.dialect != "postgresql":
            yield None
            return
        with self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("SET synchronous_commit TO OFF")
            try:
                yield conn
            finally:
                if not conn.invalidated:
                    conn.exec_driver_sql("RESET synchronous_commit")

    @contextmanager
    def read(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A read-only transaction; readers never wait for the writer."""
        with ExitStack() as stack:
            if conn is None:
                conn = stack.enter_context(self.engine.connect())
            with conn.begin():
                yield conn

    def close(self) -> None:
        self.engine.dispose()


def connect(url: str = DEFAULT_URL) -> Store:
    """A Store for `url`; `sqlite://` (no path) is a private in-memory database."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Store(_sqlite_engine(parsed))
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return Store(sa.create_engine(parsed, pool_pre_ping=True))


def _sqlite_engine(url: sa.URL) -> Engine:
    memory = url.database in (None, "", ":memory:")
    options: dict[str, Any] = {}
    if memory:
        # One connection for everyone: each new connection would be a new, empty database.
        options = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = sa.create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def migrate(target: str | Store) -> None:
    """Bring the database at `target` (a URL or a Store) to the newest schema revision."""
    from alembic import command
    from alembic.config import Config

    store = connect(target) if isinstance(target, str) else target
    config = Config()
    config.set_main_option("script_location", str(files("runtime") / "migrations"))
    try:
        with store.engine.connect() as conn:
            conn.execution_options(**{_IMMEDIATE: True})
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            conn.commit()
    finally:
        if isinstance(target, str):
            store.close()


def open_store(url: str = DEFAULT_URL) -> Store:
    """A migrated Store: what the CLI and the simulator start from."""
    store = connect(url)
    migrate(store)
    return store
