"""What an operator does to one enrollment: pause, resume, skip its current step, unenroll.

Each action bumps `lease_version` and clears the lease, so a worker walking the enrollment at
that moment is fenced out and cannot overwrite the operator's decision when it writes back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime import schema as t
from runtime.claims import position_of, position_values
from runtime.deploy import deployed
from runtime.engine import Position
from runtime.store import Store
from seqlang.graph import ENTRY, EXIT

E = t.enrollments


class ControlError(ValueError):
    """The action does not apply to the enrollment as it stands."""


def pause(store: Store, enrollment_id: int, now: datetime, reason: str | None = None) -> None:
    why = reason or "paused by an operator"
    with store.write() as conn:
        _change(conn, enrollment_id, now, ("active",), "paused", why,
                state="paused", reason=why, next_run_at=None)


def resume(store: Store, enrollment_id: int, now: datetime, resend: bool = False) -> None:
    """Continue a paused enrollment now.

    A send left `unknown` is treated as sent, unless `resend`: resuming is the operator
    saying whether it left, after looking in the mailbox; the engine never guesses.
    """
    why = "the unknown email is to be sent again" if resend else None
    with store.write() as conn:
        _change(conn, enrollment_id, now, ("paused",), "resumed", why,
                state="active", reason=None, next_run_at=now)
        if resend:
            conn.execute(
                sa.update(t.sends)
                .where(t.sends.c.enrollment_id == enrollment_id, t.sends.c.state == "unknown")
                .values(state="failed", error="not known to have left; sent again on request")
            )


def unenroll(store: Store, enrollment_id: int, now: datetime, reason: str | None = None) -> None:
    why = reason or "unenrolled by an operator"
    with store.write() as conn:
        _change(conn, enrollment_id, now, t.UNFINISHED_STATES, "exited", why,
                state="exited", reason=why, next_run_at=None, finished_at=now)


def skip_step(store: Store, enrollment_id: int, now: datetime) -> str:
    """Move past the step the enrollment stands at (a wait, a deferred or retried email, a
    `within` condition, which then times out); returns the node it moves to."""
    with store.write() as conn:
        row = _row(conn, enrollment_id)
        if row.state not in t.UNFINISHED_STATES:
            raise ControlError(f"enrollment {enrollment_id} is {row.state}; nothing to skip")
        graph = deployed(store, row.version_id).graph
        position = position_of(row)
        node = position.node
        if node == ENTRY:
            node = graph.routes(ENTRY)["next"]
        if node == EXIT:
            raise ControlError(f"enrollment {enrollment_id} is at the end of its sequence")
        routes = graph.routes(node)
        route = next((r for r in ("next", "timeout", "else", "goto") if r in routes), None)
        if route is None:
            raise ControlError(f"step {node} is a split; there is no single step after it")
        target = routes[route]
        visits = dict(position.visits)
        if target != EXIT:
            visits[target] = visits.get(target, 0) + 1
        moved = Position(node=target, visits=visits, variants=position.variants,
                         cohorts=position.cohorts, steps=position.steps + 1)
        values = position_values(moved)
        if row.state == "active":
            values["next_run_at"] = now
        _update(conn, row, now, "skipped", f"skipped by an operator; now at {target}", node,
                **values)
        return target


def _change(conn: Connection, enrollment_id: int, now: datetime, allowed: tuple[str, ...],
            kind: str, why: str | None, **values: Any) -> None:
    row = _row(conn, enrollment_id)
    if row.state not in allowed:
        raise ControlError(f"enrollment {enrollment_id} is {row.state}, not "
                           + " or ".join(allowed))
    _update(conn, row, now, kind, why, row.position, **values)


def _row(conn: Connection, enrollment_id: int) -> Any:
    row = conn.execute(sa.select(E).where(E.c.id == enrollment_id).with_for_update()).first()
    if row is None:
        raise ControlError(f"no enrollment {enrollment_id}")
    return row


def _update(conn: Connection, row: Any, now: datetime, kind: str, why: str | None, step: str,
            **values: Any) -> None:
    conn.execute(
        sa.update(E)
        .where(E.c.id == row.id)
        .values(lease_version=E.c.lease_version + 1, lease_owner=None, lease_expires_at=None,
                leased_at=None, updated_at=now, **values)
    )
    detail = {"reason": why} if why else {}
    conn.execute(sa.insert(t.step_history).values(
        enrollment_id=row.id, at=now, kind=kind, step=step, detail=detail))
