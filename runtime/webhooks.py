"""Delivering `webhook` steps from their outbox table, signed, with retries.

The walk only inserts a row; delivery happens after the walk (by the tick), so a slow or
failing receiver never holds up an enrollment. Each POST carries the JSON body and
`X-Seqlang-Signature: sha256=<HMAC-SHA256 of the body with SEQLANG_WEBHOOK_SECRET>`, which a
receiver recomputes to know the call is ours and unaltered. Without a secret nothing is sent:
an unsigned webhook could be forged by anyone who knows the URL.

Rows are claimed like enrollments (moving `next_attempt_at` forward under SKIP LOCKED), so
several workers never post the same row at once. A 2xx delivers; a network error, 408, 429 or
5xx is retried with backoff; any other status fails the row at once, since resending the same
body cannot change the receiver's answer. Delivery is at least once: a worker that dies after
the POST but before recording it will post again, and `X-Seqlang-Delivery` lets a receiver
drop the duplicate.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from runtime import schema as t
from runtime.backoff import backoff
from runtime.config import EngineConfig
from runtime.store import Store

W = t.webhooks
SIGNATURE_HEADER = "X-Seqlang-Signature"
DELIVERY_HEADER = "X-Seqlang-Delivery"
_RETRY_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True)
class WebhookCounts:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def deliver_due(store: Store, now: datetime, config: EngineConfig, limit: int = 50,
                conn: Connection | None = None) -> WebhookCounts:
    """Post the webhooks that are due; returns what became of them."""
    due = (
        sa.select(W.c.id)
        .where(W.c.state == "pending", W.c.next_attempt_at <= now)
        .order_by(W.c.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    hold = now + config.lease
    with store.write(conn) as tx:
        rows = tx.execute(
            sa.update(W)
            .where(W.c.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=hold, attempts=W.c.attempts + 1)
            .returning(W.c.id, W.c.url, W.c.body, W.c.attempts)
        ).all()
    delivered = retrying = failed = 0
    for row in rows:
        error, retry = _post(row.id, row.url, row.body, config)
        with store.write(conn) as tx:
            if error is None:
                tx.execute(sa.update(W).where(W.c.id == row.id).values(
                    state="delivered", delivered_at=now, next_attempt_at=None, last_error=None))
                delivered += 1
            elif retry and row.attempts < config.webhook_max_attempts:
                delay = backoff(row.attempts, f"webhook:{row.id}", config.webhook_retry_base,
                                config.webhook_retry_cap)
                tx.execute(sa.update(W).where(W.c.id == row.id).values(
                    next_attempt_at=now + delay, last_error=error))
                retrying += 1
            else:
                tx.execute(sa.update(W).where(W.c.id == row.id).values(
                    state="failed", next_attempt_at=None,
                    last_error=f"{error} (after {row.attempts} attempts)"))
                failed += 1
    return WebhookCounts(delivered, retrying, failed)


def _post(delivery: int, url: str, body: str, config: EngineConfig) -> tuple[str | None, bool]:
    """(error or None, whether retrying could help)."""
    if config.webhook_secret is None:
        return "SEQLANG_WEBHOOK_SECRET is not set; webhooks are only sent signed", True
    if not url.lower().startswith(("http://", "https://")):
        return f"not an http(s) URL: {url}", False
    data = body.encode("utf-8")
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "seqlang-webhook",
            SIGNATURE_HEADER: signature(config.webhook_secret, data),
            DELIVERY_HEADER: str(delivery),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=config.webhook_timeout) as response:
            response.read()
    except urllib.error.HTTPError as error:
        retry = error.code >= 500 or error.code in _RETRY_STATUSES
        return f"HTTP {error.code} {error.reason}", retry
    except (urllib.error.URLError, OSError) as error:
        return f"cannot reach {url}: {getattr(error, 'reason', error)}", True
    return None, False
