"""Sending an email without ever sending it twice, and without losing track of it.

For each email:
1. Reserve: insert the send as `reserved` under its unique key enrollment/step/visit, with
   the Message-ID already chosen, in one statement that does so only while this worker still
   holds the enrollment's lease and the address is not suppressed (this is the suppression
   check "immediately before the send"); committed before the transport is called.
2. Call the transport, with no transaction open.
3. Record: `sent` (with the provider's thread id and a `sent` event), or `failed` with the
   reason when the transport refused it before accepting it. Results are recorded in groups
   of RECORD_EVERY inside a later reservation's transaction, and the rest in the batch's
   write-back: two statements per email fewer, for a worker that dies leaving at most that
   many sends unrecorded.

A worker that dies between 1 and 3 leaves the send `reserved`. The next worker to claim the
enrollment asks the transport whether that Message-ID left (the outbox and memory transports
can tell); if that cannot be confirmed the send becomes `unknown` and the enrollment is paused
with a reason that says what to check. It is never re-sent on a guess: `seqlang resume` treats
it as sent, `seqlang resume --resend` sends it again.

On PostgreSQL a reservation is one statement committing on its own (or, when results are
recorded with it, a `durable=False` transaction), without waiting for the WAL flush: a
dead worker loses nothing the server has acknowledged, and a crash of the server itself is
caught at the next claim, which pauses every enrollment that was leased across the restart
(see `runtime.claims`). An fsync per email would otherwise cap a worker at a few hundred
emails a second whatever else it does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from runtime import schema as t
from runtime.claims import Claim, E, fenced
from runtime.engine import (
    LeaseLost,
    PendingSend,
    Permanent,
    SendOutcome,
    Sent,
    Suppressed,
    Transient,
    Unknown,
)
from runtime.store import Store
from runtime.transports.base import (
    PermanentSendError,
    TransientSendError,
    Transport,
)
from runtime.transports.memory import MemoryTransport
from runtime.transports.outbox import INDEX_NAME, OutboxTransport

D = t.sends
_P = sa.bindparam
# Results are recorded in groups: a worker that dies leaves at most this many sends that had
# left `reserved` (confirmed through the transport where it can tell, else `unknown`).
RECORD_EVERY = 16
_RESERVED = ("enrollment_id", "step", "visit", "idempotency_key", "state", "attempts",
             "message_id", "to_address", "subject", "variant", "reserved_at")

# Hot-path statements are built once: values arrive as parameters, so SQLAlchemy compiles each
# statement once per process instead of rebuilding and re-caching it for every email.
_HELD = sa.exists().where(E.c.id == _P("b_enrollment"), E.c.lease_version == _P("b_lease"),
                          E.c.lease_owner == _P("b_owner"))
_FREE = ~sa.exists().where(t.suppressions.c.email == _P("b_to"))
_RESERVE = (
    sa.insert(D)
    .from_select(_RESERVED, sa.select(*(_P(c, type_=D.c[c].type) for c in _RESERVED))
                 .where(_HELD, _FREE))
    .returning(D.c.id)
)
_RESERVE_AGAIN = (
    sa.update(D)
    .where(D.c.idempotency_key == _P("b_key"), D.c.state == "failed", _HELD, _FREE)
    .values(state="reserved", attempts=D.c.attempts + 1, error=None,
            **{k: _P(k) for k in ("message_id", "subject", "variant", "reserved_at")})
    .returning(D.c.id)
)
_SUPPRESSED = sa.select(t.suppressions.c.reason).where(t.suppressions.c.email == _P("b_email"))
_STILL_HELD = sa.select(_HELD)
_MARK_SENT = (
    sa.update(D)
    .where(D.c.id == _P("b_id"), sa.or_(D.c.state == "reserved", D.c.state == "unknown"))
    .values(state="sent", sent_at=_P("b_now"), provider_id=_P("b_provider"), error=None,
            thread_id=sa.func.coalesce(_P("b_thread", type_=sa.String), D.c.message_id))
)
_SENT_EVENT = sa.insert(t.events)
_MARK_FAILED = (
    sa.update(D)
    .where(D.c.id == _P("b_id"), D.c.state == "reserved")
    .values(state=_P("b_state"), error=_P("b_error"))
)


def idempotency_key(enrollment_id: int, step: str, visit: int) -> str:
    return f"{enrollment_id}/{step}/{visit}"


class StoreMailer:
    """The engine's Mailer for the claims of one tick, on the tick's connection.

    Results waiting to be recorded are kept until the next transaction; the tick calls
    `flush` inside its write-back so that none is left behind.
    """

    def __init__(self, store: Store, conn: Connection, single: Connection | None,
                 transport: Transport, claims: Sequence[Claim], owner: str,
                 now: datetime) -> None:
        self.store = store
        self.conn = conn
        self.single = single
        self.transport = transport
        self.leases = {c.enrollment.id: c.lease_version for c in claims}
        self.owner = owner
        self.now = now
        self._sent: list[tuple[int, int, str, str | None, str | None]] = []
        self._failed: list[dict[str, Any]] = []

    def send(self, pending: PendingSend) -> SendOutcome:
        request, msg = pending.request, pending.request.message
        recording = len(self._sent) + len(self._failed) >= RECORD_EVERY
        try:
            if recording or self.single is None:
                with self.store.write(self.conn, durable=False) as tx:
                    if recording:
                        self._write_results(tx)
                    send_id = self._reserve(tx, pending)
            else:
                send_id = self._reserve(self.single, pending)  # one statement, one commit
        except IntegrityError:
            # The key is taken although the claim saw no such send: never guess, never resend.
            send_id = Unknown(unknown_reason(request.step, msg.message_id, msg.to,
                                             "its idempotency key was already reserved"))
            recording = False
        if recording:
            self._sent, self._failed = [], []
        if not isinstance(send_id, int):
            return send_id
        try:
            receipt = self.transport.send(msg)
        except TransientSendError as error:
            self._fail(send_id, "failed", error.reason)
            return Transient(error.reason, error.retry_after)
        except PermanentSendError as error:
            self._fail(send_id, "failed", error.reason)
            return Permanent(error.reason)
        except Exception as error:  # the transport broke mid-send: it may or may not have left
            reason = unknown_reason(request.step, msg.message_id, msg.to,
                                    f"the transport failed unexpectedly: {error!r}")
            self._fail(send_id, "unknown", reason)
            return Unknown(reason)
        self._sent.append((send_id, request.enrollment_id, request.step, receipt.thread_id,
                           receipt.provider_id))
        return Sent(receipt.message_id, receipt.thread_id)

    def flush(self, tx: Connection) -> None:
        """Record the results not yet written, in the caller's transaction (which must then
        commit: they are not kept for another try)."""
        self._write_results(tx)
        self._sent, self._failed = [], []

    def _write_results(self, tx: Connection) -> None:
        if self._sent:
            mark_sent(tx, self._sent, self.now)
        if self._failed:
            tx.execute(_MARK_FAILED, _one_or_many(self._failed))

    def _fail(self, send_id: int, state: str, error: str) -> None:
        self._failed.append({"b_id": send_id, "b_state": state, "b_error": error})

    def _reserve(self, tx: Connection, pending: PendingSend) -> int | SendOutcome:
        request, msg = pending.request, pending.request.message
        values = {
            "enrollment_id": request.enrollment_id, "step": request.step,
            "visit": request.visit,
            "idempotency_key": idempotency_key(request.enrollment_id, request.step,
                                               request.visit),
            "state": "reserved", "attempts": 1, "message_id": msg.message_id,
            "to_address": msg.to, "subject": msg.subject, "variant": request.variant,
            "reserved_at": self.now, "b_lease": self.leases[request.enrollment_id],
            "b_owner": self.owner, "b_enrollment": request.enrollment_id, "b_to": msg.to,
        }
        values["b_key"] = values["idempotency_key"]
        send_id = tx.execute(_RESERVE_AGAIN if request.retry else _RESERVE, values).scalar()
        if send_id is not None:
            return send_id
        suppressed = tx.execute(_SUPPRESSED, {"b_email": msg.to}).scalar()
        if suppressed is not None:
            return Suppressed(suppressed)
        if not tx.execute(_STILL_HELD, values).scalar():
            return LeaseLost()
        return Unknown(unknown_reason(request.step, msg.message_id, msg.to,
                                      "an earlier attempt under its key is not a failed one"))


def mark_sent(conn: Connection,
              sends: Sequence[tuple[int, int, str, str | None, str | None]],
              now: datetime) -> None:
    """Record accepted sends (send, enrollment, step, thread, provider id) with their `sent`
    events; `unknown` ones too, since a worker that saw the acceptance knows better."""
    conn.execute(_MARK_SENT, _one_or_many([
        {"b_id": s, "b_now": now, "b_thread": thread, "b_provider": provider}
        for s, _, _, thread, provider in sends]))
    conn.execute(_SENT_EVENT, _one_or_many([
        {"send_id": s, "enrollment_id": e, "step": step, "kind": "sent", "occurred_at": now,
         "recorded_at": now} for s, e, step, _, _ in sends]))


def _one_or_many(rows: list[dict[str, Any]]) -> dict[str, Any] | list[dict[str, Any]]:
    """A single row as a plain execute: psycopg's executemany sets up a pipeline each time,
    which costs more than the statement when there is one row (the common case here)."""
    return rows[0] if len(rows) == 1 else rows


def unknown_reason(step: str, message_id: str, to: str, why: str) -> str:
    return (f"the email of step {step} to {to} (Message-ID {message_id}) may or may not have "
            f"left: {why}. Look for that Message-ID in the sending mailbox's Sent folder: "
            "`seqlang resume` continues without sending it again, `seqlang resume --resend` "
            "sends it again")


def confirmed(transport: Transport, message_id: str) -> bool:
    """Whether the transport can show that this Message-ID left; False when it cannot tell."""
    if isinstance(transport, MemoryTransport):
        return any(m.message_id == message_id for m in transport.sent)
    if isinstance(transport, OutboxTransport):
        try:
            lines = (transport.folder / INDEX_NAME).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return False
        return any(json.loads(line).get("message_id") == message_id for line in lines if line)
    return False


def reconcile(store: Store, transport: Transport, claim: Claim, owner: str, now: datetime,
              conn: Connection | None = None) -> Claim | None:
    """Settle the sends a stopped worker left `reserved`.

    Returns the claim with those sends recorded, ready to walk, when every one is confirmed
    sent; otherwise marks them `unknown`, pauses the enrollment and returns None.
    """
    outcome = {s.id: confirmed(transport, s.message_id) for s in claim.stale}
    unknown = [s for s in claim.stale if not outcome[s.id]]
    with store.write(conn) as tx:
        confirmed_ids = [(s.id, claim.enrollment.id, s.step, None, None)
                         for s in claim.stale if outcome[s.id]]
        if confirmed_ids:
            mark_sent(tx, confirmed_ids, now)
        if not unknown:
            states = {s.message_id: "sent" for s in claim.stale}
            sends = tuple(replace(s, state=states.get(s.message_id, s.state))
                          for s in claim.enrollment.sends)
            return replace(claim, enrollment=replace(claim.enrollment, sends=sends), stale=())
        first = unknown[0]
        reason = unknown_reason(first.step, first.message_id, first.to,
                                "the worker sending it stopped before recording the result")
        tx.execute(sa.update(D).where(D.c.id.in_([s.id for s in unknown]),
                                      D.c.state == "reserved")
                   .values(state="unknown", error=reason))
        paused = tx.execute(
            sa.update(E).where(fenced(claim, owner)).values(
                state="paused", reason=reason, next_run_at=None, lease_owner=None,
                lease_expires_at=None, leased_at=None, updated_at=now)
        )
        if paused.rowcount == 1:
            tx.execute(sa.insert(t.step_history).values(
                enrollment_id=claim.enrollment.id, at=now, kind="paused", step=first.step,
                detail={"reason": reason}))
    return None

