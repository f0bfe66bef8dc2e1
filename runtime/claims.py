"""Leases on due enrollments: claim a batch, and write each one back under its fence.

A claim is two set-based statements in one transaction: a range scan of the `next_run_at`
index for the due, unleased, active rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
concurrent workers take disjoint batches; SQLite's `BEGIN IMMEDIATE` serialises claimers
instead), then one UPDATE giving them an owner, an expiry and a new `lease_version`. The
version is the fence: every later write for the enrollment says `WHERE lease_version = :mine`,
so a worker whose lease expired and was taken over can no longer change the row, however late
it wakes up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime import schema as t
from runtime.conditions import EventFact, Facts
from runtime.engine import Effects, Enrollment, Position, SentEmail, WalkResult
from runtime.store import Store
from runtime.timing import resolve_zone

E = t.enrollments
_P = sa.bindparam
_POSITION = ("position", "wait", "resume_at", "deadline", "visits", "variants", "cohorts",
             "steps", "attempts")
_WRITE_BACK = (
    sa.update(E)
    .where(E.c.id == _P("b_id"), E.c.lease_version == _P("b_lease"))
    .values(
        state=_P("state"),
        reason=_P("reason"),
        # An event arrived during the walk: look again at once rather than sleep past it.
        next_run_at=sa.case(
            (E.c.wake_version == _P("b_wake"), _P("b_next", type_=t.UTCDateTime)),
            else_=_P("b_woken", type_=t.UTCDateTime),
        ),
        finished_at=_P("finished_at"),
        updated_at=_P("b_now"),
        lease_owner=None,
        lease_expires_at=None,
        leased_at=None,
        **{k: _P(k) for k in _POSITION},
    )
)
_RENEW = (
    sa.update(E)
    .where(E.c.id == _P("b_id"), E.c.lease_version == _P("b_lease"),
           E.c.lease_owner == _P("b_owner"))
    .values(lease_expires_at=_P("b_until"), leased_at=sa.func.current_timestamp())
)


@dataclass(frozen=True, slots=True)
class StaleSend:
    """A send left `reserved` by a worker that stopped between reserving and recording it."""

    id: int
    step: str
    message_id: str
    to: str


@dataclass(frozen=True)
class Claim:
    enrollment: Enrollment
    version_id: int
    lease_version: int
    wake_version: int
    stale: tuple[StaleSend, ...]


def due(now: datetime, limit: int, sequence: str | None = None) -> sa.Select:
    """The due, unleased, active enrollments, earliest first: a range scan of the index on
    `next_run_at`, whatever the number of enrollments waiting further out."""
    only = () if sequence is None else (E.c.sequence == sequence,)
    return (
        sa.select(E.c.id)
        .where(
            E.c.next_run_at <= now,
            E.c.state == "active",
            sa.or_(E.c.lease_expires_at.is_(None), E.c.lease_expires_at <= now),
            *only,
        )
        .order_by(E.c.next_run_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def claim(store: Store, owner: str, now: datetime, limit: int, lease_until: datetime,
          conn: Connection | None = None, sequence: str | None = None) -> list[Claim]:
    """Lease up to `limit` due enrollments (earliest first, of `sequence` only when given) and
    load what their walks need.

    An enrollment whose previous lease was never released, and was last granted or renewed
    before the database server started, was being walked when the server went down: the
    emails it reserved in commits the server had not yet flushed may have left unrecorded, so
    it is paused for a person instead of being walked again (see runtime.sends).
    """
    with store.write(conn) as tx:
        rows = tx.execute(
            due(now, limit, sequence).add_columns(E.c.lease_owner, E.c.leased_at)
        ).all()
        if not rows:
            return []
        started = server_started(tx) if any(r.lease_owner for r in rows) else None
        suspect = [r for r in rows
                   if r.lease_owner and started and r.leased_at and r.leased_at < started]
        if suspect:
            _pause_after_restart(tx, suspect, started, now)
        ids = [r.id for r in rows if r not in suspect]
        if not ids:
            return []
        tx.execute(
            sa.update(E).where(E.c.id.in_(ids))
            .values(lease_owner=owner, lease_expires_at=lease_until, updated_at=now,
                    leased_at=sa.func.current_timestamp(), lease_version=E.c.lease_version + 1)
        )
        return load(tx, ids)


def server_started(conn: Connection) -> datetime | None:
    """When the PostgreSQL server last started; None on SQLite, which has no server."""
    if conn.dialect.name != "postgresql":
        return None
    started = conn.execute(sa.select(sa.func.pg_postmaster_start_time())).scalar_one()
    return started.astimezone(UTC)


def _pause_after_restart(conn: Connection, rows: Sequence[Any], started: datetime,
                         now: datetime) -> None:
    for row in rows:
        reason = (f"the database server restarted at {started.isoformat(timespec='seconds')} "
                  f"while worker {row.lease_owner} was walking this enrollment, so an email "
                  "it was sending may have left without a record. Look in the sending "
                  "mailbox for emails to this contact sent around then before `seqlang "
                  "resume`, which continues from the last recorded step")
        conn.execute(sa.update(E).where(E.c.id == row.id).values(
            state="paused", reason=reason, next_run_at=None, lease_owner=None,
            lease_expires_at=None, leased_at=None, lease_version=E.c.lease_version + 1,
            updated_at=now))
        conn.execute(sa.insert(t.step_history).values(
            enrollment_id=row.id, at=now, kind="paused", step=sa.select(E.c.position)
            .where(E.c.id == row.id).scalar_subquery(), detail={"reason": reason}))


def load(conn: Connection, ids: Sequence[int]) -> list[Claim]:
    """The enrollments `ids` with their contact, suppression, events and sends, in 3 queries."""
    C, S = t.contacts, t.suppressions
    rows = conn.execute(
        sa.select(E, C.c.email, C.c.fields, S.c.reason.label("suppression"))
        .join(C, C.c.id == E.c.contact_id)
        .outerjoin(S, S.c.email == C.c.email)
        .where(E.c.id.in_(ids))
        .order_by(E.c.next_run_at, E.c.id)
    ).all()
    events: dict[int, list[EventFact]] = defaultdict(list)
    for ev in conn.execute(
        sa.select(t.events.c.enrollment_id, t.events.c.kind, t.events.c.step, t.events.c.url)
        .where(t.events.c.enrollment_id.in_(ids), t.events.c.kind != "sent")
    ):
        events[ev.enrollment_id].append(EventFact(ev.kind, ev.step, ev.url))
    sends: dict[int, list[SentEmail]] = defaultdict(list)
    stale: dict[int, list[StaleSend]] = defaultdict(list)
    D = t.sends
    for s in conn.execute(
        sa.select(D.c.id, D.c.enrollment_id, D.c.step, D.c.visit, D.c.state, D.c.message_id,
                  D.c.thread_id, D.c.subject, D.c.to_address)
        .where(D.c.enrollment_id.in_(ids))
        .order_by(D.c.id)
    ):
        if s.state == "reserved":
            stale[s.enrollment_id].append(StaleSend(s.id, s.step, s.message_id, s.to_address))
        sends[s.enrollment_id].append(
            SentEmail(s.step, s.visit, s.state, s.message_id, s.thread_id, s.subject)
        )
    return [
        Claim(
            enrollment=Enrollment(
                id=row.id,
                email=row.email,
                zone=resolve_zone(row.time_zone, None),
                position=position_of(row),
                facts=Facts(tuple(events[row.id]), row.fields, row.suppression),
                sends=tuple(sends[row.id]),
            ),
            version_id=row.version_id,
            lease_version=row.lease_version,
            wake_version=row.wake_version,
            stale=tuple(stale[row.id]),
        )
        for row in rows
    ]


def position_of(row: Any) -> Position:
    return Position(
        node=row.position,
        wait=row.wait,
        resume_at=row.resume_at,
        deadline=row.deadline,
        visits=row.visits,
        variants=row.variants,
        cohorts=row.cohorts,
        steps=row.steps,
        attempts=row.attempts,
    )


def position_values(position: Position) -> dict[str, Any]:
    return {
        "position": position.node,
        "wait": position.wait,
        "resume_at": position.resume_at,
        "deadline": position.deadline,
        "visits": dict(position.visits),
        "variants": dict(position.variants),
        "cohorts": dict(position.cohorts),
        "steps": position.steps,
        "attempts": position.attempts,
    }


def fenced(claim_: Claim, owner: str) -> Any:
    """The WHERE clause of every write made under this claim's lease."""
    return sa.and_(E.c.id == claim_.enrollment.id, E.c.lease_version == claim_.lease_version,
                   E.c.lease_owner == owner)


def write_back(tx: Connection, owner: str, now: datetime,
               results: Sequence[tuple[Claim, WalkResult]]) -> int:
    """Write each walk's position and effects and release its lease, in the caller's
    transaction; returns how many were refused because the lease had been taken over (their
    effects are dropped with them)."""
    if not results:
        return 0
    current = dict(
        tx.execute(
            sa.select(E.c.id, E.c.lease_version)
            .where(E.c.id.in_([c.enrollment.id for c, _ in results]), E.c.lease_owner == owner)
            .with_for_update()
        ).all()
    )
    kept = [(c, r) for c, r in results if current.get(c.enrollment.id) == c.lease_version]
    if kept:
        tx.execute(_WRITE_BACK, [_row(c, r, now) for c, r in kept])
        insert_effects(tx, [(c.enrollment.id, r.effects) for c, r in kept], now)
    return len(results) - len(kept)


def renew(tx: Connection, owner: str, claims: Sequence[Claim], lease_until: datetime) -> None:
    """Extend the leases of claims still to be walked, for a batch that runs long."""
    tx.execute(_RENEW, [{"b_id": c.enrollment.id, "b_lease": c.lease_version, "b_owner": owner,
                         "b_until": lease_until} for c in claims])


def _row(claim_: Claim, result: WalkResult, now: datetime) -> dict[str, Any]:
    active = result.state == "active"
    return {
        "b_id": claim_.enrollment.id,
        "b_lease": claim_.lease_version,
        "b_wake": claim_.wake_version,
        "b_next": result.next_run_at,
        "b_woken": now if active else None,
        "b_now": now,
        "state": result.state,
        "reason": result.reason,
        "finished_at": None if result.state in t.UNFINISHED_STATES else now,
        **position_values(result.position),
    }


def insert_effects(conn: Connection, items: Sequence[tuple[int, Effects]],
                   now: datetime) -> None:
    """Insert the history, tasks and webhook rows of several enrollments' walks at once."""
    history = [
        {"enrollment_id": e, "at": h.at, "kind": h.kind, "step": h.step, "detail": dict(h.detail)}
        for e, effects in items for h in effects.history
    ]
    tasks = [
        {"enrollment_id": e, "step": k.step, "visit": k.visit, "text": k.text, "created_at": now}
        for e, effects in items for k in effects.tasks
    ]
    hooks = [
        {"enrollment_id": e, "step": w.step, "visit": w.visit, "url": w.url, "body": w.body,
         "state": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now}
        for e, effects in items for w in effects.webhooks
    ]
    for table, rows in ((t.step_history, history), (t.tasks, tasks), (t.webhooks, hooks)):
        if rows:
            conn.execute(sa.insert(table), rows)
