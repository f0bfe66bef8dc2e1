"""Recording what happened to a sent email: opens, clicks, replies, bounces, unsubscribes.

Every event belongs to a send (found by Message-ID or send id), hence to one enrollment and
one step, which is what `opened(welcome)` asks about. Recording an event wakes that
enrollment (`next_run_at = now`) so the next tick re-checks `exit when` and any `within`
condition it waits on; a bounce or an unsubscribe also suppresses the address and wakes every
active enrollment of the contact, since no sequence may email it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from runtime import schema as t
from runtime.message import MessageError, normalize_message_id
from runtime.store import Store

E = t.enrollments
INGESTED_KINDS = ("opened", "clicked", "replied", "bounced", "unsubscribed")
SUPPRESSING_KINDS = ("bounced", "unsubscribed")


class EventError(ValueError):
    """The event cannot be recorded: unknown kind, or no such send."""


@dataclass(frozen=True)
class RecordedEvent:
    id: int
    enrollment_id: int
    step: str
    kind: str
    woken: int  # enrollments whose next run moved to now


def record_event(store: Store, kind: str, *, now: datetime, message_id: str | None = None,
                 send_id: int | None = None, contact: str | None = None,
                 step: str | None = None, url: str | None = None,
                 at: datetime | None = None) -> RecordedEvent:
    """Record one event for the send with `message_id`, or `send_id`, or the latest email
    sent to `contact` (from step `step` when given: `seqlang event replied --contact a@b`)."""
    if kind not in INGESTED_KINDS:
        raise EventError(f"unknown event kind {kind!r}; expected one of "
                         + ", ".join(INGESTED_KINDS))
    if url is not None and kind != "clicked":
        raise EventError("only `clicked` events carry a URL")
    S = t.sends
    if message_id is not None:
        try:
            message_id = normalize_message_id(message_id, "message_id")
        except MessageError as error:
            raise EventError(str(error)) from None
        where = S.c.message_id == message_id
    elif send_id is not None:
        where = S.c.id == send_id
    elif contact is not None:
        contact = contact.strip().lower()
        where = S.c.to_address == contact
        if step is not None:
            where = sa.and_(where, S.c.step == step)
    else:
        raise EventError("an event needs the contact, the Message-ID or the id of the send it "
                         "belongs to")
    with store.write() as conn:
        send = conn.execute(
            sa.select(S.c.id, S.c.enrollment_id, S.c.step, S.c.to_address, S.c.state)
            .where(where).order_by(S.c.id.desc()).limit(1)
        ).first()
        if send is None:
            raise EventError(f"no email was sent {_which(message_id, send_id, contact, step)}")
        event_id = conn.execute(
            sa.insert(t.events).values(
                send_id=send.id, enrollment_id=send.enrollment_id, step=send.step, kind=kind,
                url=url, occurred_at=at or now, recorded_at=now,
            ).returning(t.events.c.id)
        ).scalar_one()
        if kind in SUPPRESSING_KINDS:
            woken = add_suppression(conn, send.to_address, kind, now, event_id)
        else:
            woken = wake(conn, E.c.id == send.enrollment_id, now)
    return RecordedEvent(event_id, send.enrollment_id, send.step, kind, woken)


def suppress(store: Store, email: str, reason: str, now: datetime) -> int:
    """Suppress an address by hand; returns how many active enrollments were woken."""
    with store.write() as conn:
        return add_suppression(conn, email.strip().lower(), reason, now, None)


def add_suppression(conn: Connection, email: str, reason: str, now: datetime,
                    event_id: int | None) -> int:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(
        insert(t.suppressions)
        .values(email=email, reason=reason, event_id=event_id, created_at=now)
        .on_conflict_do_nothing(index_elements=["email"])
    )
    contact = sa.select(t.contacts.c.id).where(t.contacts.c.email == email).scalar_subquery()
    return wake(conn, E.c.contact_id == contact, now)


def wake(conn: Connection, which: Any, now: datetime) -> int:
    """Make active enrollments due now, and tell a worker holding one that it must look again."""
    result = conn.execute(
        sa.update(E)
        .where(which, E.c.state == "active")
        .values(
            next_run_at=sa.case((E.c.next_run_at > now, now), else_=E.c.next_run_at),
            wake_version=E.c.wake_version + 1,
        )
    )
    return result.rowcount


def _which(message_id: str | None, send_id: int | None, contact: str | None,
           step: str | None) -> str:
    if message_id is not None:
        return f"with Message-ID {message_id}"
    if send_id is not None:
        return f"with send id {send_id}"
    return f"to {contact}" + (f" from step {step}" if step is not None else "")
