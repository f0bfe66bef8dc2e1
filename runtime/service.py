"""The engine's library API: every operation the CLI offers, for any other front end too.

Each function takes the Store and, where time matters, `now`. Leaving `now` out means the
system clock; this module is the one place that reads it, so the engine itself stays a
function of the time it is given (the simulator gives it a virtual one).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from runtime import control, events
from runtime import enroll as enrolling
from runtime import schema as t
from runtime import status as statuses
from runtime.config import EngineConfig
from runtime.deploy import DeployError, Deployment
from runtime.deploy import deploy as _deploy
from runtime.enroll import EnrollError, EnrollReport, RowError
from runtime.events import EventError, RecordedEvent
from runtime.simulator import Simulation, SimulationError, simulate
from runtime.status import Explanation, SequenceStatus
from runtime.store import DEFAULT_URL, Store, open_store
from runtime.tick import TickCounts, process_due

__all__ = [
    "DEFAULT_URL",
    "DeployError",
    "Deployment",
    "EngineConfig",
    "EnrollError",
    "EnrollReport",
    "EventError",
    "Explanation",
    "RecordedEvent",
    "RowError",
    "SequenceStatus",
    "Simulation",
    "SimulationError",
    "Store",
    "TickCounts",
    "complete_task",
    "deploy",
    "enroll",
    "explain",
    "list_tasks",
    "open_store",
    "overview",
    "pause",
    "process_due",
    "record_event",
    "resume",
    "simulate",
    "skip_step",
    "suppress",
    "unenroll",
]


def _clock(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def deploy(store: Store, path: str | Path, now: datetime | None = None) -> list[Deployment]:
    """Deploy every sequence of a .seq file; raises DeployError (with diagnostics) if refused."""
    return _deploy(store, path, _clock(now))


def enroll(store: Store, sequence: str, *, contact: Mapping[str, Any] | None = None,
           csv: str | Path | None = None, now: datetime | None = None) -> EnrollReport:
    """Enroll one contact, or every row of a CSV file (bad rows reported by line, skipped)."""
    if (contact is None) == (csv is None):
        raise EnrollError("give a contact or a CSV file, not both or neither")
    if csv is not None:
        return enrolling.enroll_csv(store, sequence, csv, _clock(now))
    enrollment = enrolling.enroll(store, sequence, contact or {}, _clock(now))
    return EnrollReport(enrolled=[enrollment])


def record_event(store: Store, kind: str, *, message_id: str | None = None,
                 send_id: int | None = None, contact: str | None = None,
                 step: str | None = None, url: str | None = None,
                 at: datetime | None = None, now: datetime | None = None) -> RecordedEvent:
    """Record an open, click, reply, bounce or unsubscribe of a sent email."""
    return events.record_event(store, kind, now=_clock(now), message_id=message_id,
                               send_id=send_id, contact=contact, step=step, url=url, at=at)


def suppress(store: Store, email: str, reason: str = "manual", now: datetime | None = None
             ) -> int:
    """Never email this address again; returns how many enrollments were woken to notice."""
    return events.suppress(store, email, reason, _clock(now))


def explain(store: Store, enrollment_id: int) -> Explanation:
    """Where an enrollment stands and why it waits."""
    return statuses.explain(store, enrollment_id)


def overview(store: Store, sequence: str | None = None) -> list[SequenceStatus]:
    """Per sequence: enrollments by state, unknown sends, failures."""
    return statuses.overview(store, sequence)


def pause(store: Store, enrollment_id: int, now: datetime | None = None,
          reason: str | None = None) -> None:
    control.pause(store, enrollment_id, _clock(now), reason)


def resume(store: Store, enrollment_id: int, now: datetime | None = None,
           resend: bool = False) -> None:
    """Continue a paused enrollment; an `unknown` send counts as sent unless `resend`."""
    control.resume(store, enrollment_id, _clock(now), resend)


def skip_step(store: Store, enrollment_id: int, now: datetime | None = None) -> str:
    return control.skip_step(store, enrollment_id, _clock(now))


def unenroll(store: Store, enrollment_id: int, now: datetime | None = None,
             reason: str | None = None) -> None:
    control.unenroll(store, enrollment_id, _clock(now), reason)


def list_tasks(store: Store, *, open_only: bool = True) -> list[dict[str, Any]]:
    """Tasks created by `task` steps, oldest first, with the contact they are about."""
    T, C, E = t.tasks, t.contacts, t.enrollments
    query = (sa.select(T.c.id, T.c.enrollment_id, E.c.sequence, C.c.email, T.c.step, T.c.text,
                       T.c.created_at, T.c.done_at)
             .join(E, E.c.id == T.c.enrollment_id).join(C, C.c.id == E.c.contact_id)
             .order_by(T.c.id))
    if open_only:
        query = query.where(T.c.done_at.is_(None))
    with store.read() as conn:
        return [row._asdict() for row in conn.execute(query)]


def complete_task(store: Store, task_id: int, now: datetime | None = None) -> None:
    with store.write() as conn:
        done = conn.execute(sa.update(t.tasks).where(t.tasks.c.id == task_id,
                                                     t.tasks.c.done_at.is_(None))
                            .values(done_at=_clock(now)))
    if done.rowcount != 1:
        raise LookupError(f"no open task {task_id}")
