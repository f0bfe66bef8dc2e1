"""One tick of the processor: claim due enrollments, walk them, write them back, post webhooks.

Transactions are short and never span a send: the claim commits before the first walk, each
email is reserved in a transaction of its own before the transport call (which also records
the previous email's result), and the walks' results are written in one transaction at the
end. The cost of a tick follows the due
work: the claim reads the `next_run_at` index, and idle enrollments are never loaded.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from runtime.claims import Claim, claim, renew, write_back
from runtime.config import EngineConfig
from runtime.deploy import deployed
from runtime.engine import Effects, HistoryEntry, Mailer, PendingSend, Walk, WalkResult
from runtime.sends import StoreMailer, reconcile
from runtime.store import Store
from runtime.transports.base import Transport
from runtime.webhooks import deliver_due

log = logging.getLogger("seqlang.engine")
T = TypeVar("T")


@dataclass(frozen=True)
class TickCounts:
    claimed: int = 0
    sent: int = 0
    waiting: int = 0
    completed: int = 0
    exited: int = 0
    failed: int = 0
    paused: int = 0
    retrying: int = 0  # waiting to retry a transient send failure
    lost: int = 0  # walks dropped because another worker took the lease over
    webhooks_delivered: int = 0
    webhooks_retrying: int = 0
    webhooks_failed: int = 0

    def __add__(self, other: TickCounts) -> TickCounts:
        return TickCounts(*(a + b for a, b in zip(vars(self).values(), vars(other).values(),
                                                 strict=True)))


def process_due(store: Store, transport: Transport, now: datetime, owner: str,
                batch_size: int = 100, config: EngineConfig | None = None,
                sequence: str | None = None) -> TickCounts:
    """Run one tick at `now` as worker `owner` (over `sequence` only, when given); returns
    what happened, by outcome."""
    config = config or EngineConfig()
    counts: Counter[str] = Counter()
    with store.engine.connect() as conn, store.single_statements() as single:
        claims = claim(store, owner, now, batch_size, now + config.lease, conn, sequence)
        counts["claimed"] = len(claims)
        ready = []
        for taken in claims:
            settled = reconcile(store, transport, taken, owner, now, conn) if taken.stale \
                else taken
            if settled is None:
                counts["paused"] += 1
            else:
                ready.append(settled)
        mailer = StoreMailer(store, conn, single, transport, ready, owner, now)
        try:
            results = _walk_all(store, conn, mailer, ready, owner, now, config)
        finally:
            transport.close()
        kept = [(c, r) for c, r in results if not r.lease_lost]
        counts["lost"] += len(results) - len(kept)
        with store.write(conn) as tx:
            mailer.flush(tx)
            counts["lost"] += write_back(tx, owner, now, kept)
        for _, result in kept:
            counts["waiting" if result.state == "active" else result.state] += 1
            counts["sent"] += result.sent
            counts["retrying"] += result.retried and result.state == "active"
        hooks = deliver_due(store, now, config, conn=conn)
    return TickCounts(**counts, webhooks_delivered=hooks.delivered,
                      webhooks_retrying=hooks.retrying, webhooks_failed=hooks.failed)


def _walk_all(store: Store, conn: Connection, mailer: Mailer, claims: list[Claim], owner: str,
              now: datetime, config: EngineConfig) -> list[tuple[Claim, WalkResult]]:
    """Walk every claim in turn, handing each email to the mailer as the walk reaches it.

    Leases were granted for `config.lease` from `now`; a batch that runs long (a slow SMTP
    server) renews the leases it has yet to use every third of that, by the wall clock.
    """
    done = []
    started = renewed = time.monotonic()
    for index, taken in enumerate(claims):
        if time.monotonic() - renewed > config.lease.total_seconds() / 3:
            renewed = time.monotonic()
            with store.write(conn, durable=False) as tx:
                renew(tx, owner, claims[index:],
                      now + config.lease + timedelta(seconds=renewed - started))
        walk = _guarded(taken, now, lambda t=taken: Walk(deployed(store, t.version_id),
                                                          t.enrollment, now, config))
        step = walk if isinstance(walk, WalkResult) else _guarded(taken, now, walk.start)
        while isinstance(step, PendingSend):
            outcome = mailer.send(step)
            step = _guarded(taken, now, lambda w=walk, o=outcome: w.resume(o))
        done.append((taken, step))
    return done


def _guarded(taken: Claim, now: datetime, step: Callable[[], T]) -> T | WalkResult:
    """Run part of a walk; a defect in the engine fails that enrollment, not the batch."""
    enrollment = taken.enrollment
    try:
        return step()
    except SQLAlchemyError:
        raise  # the database is in trouble, not this enrollment: the lease will expire
    except Exception as error:
        log.exception("enrollment %s failed on an internal error", enrollment.id,
                      extra={"enrollment": enrollment.id, "step": enrollment.position.node,
                             "outcome": "failed", "duration_ms": None, "reason": repr(error)})
        reason = f"internal error at {enrollment.position.node}: {error!r}"
        entry = HistoryEntry(now, "failed", enrollment.position.node, {"reason": reason})
        return WalkResult("failed", enrollment.position, None, reason,
                          Effects(history=[entry]))
