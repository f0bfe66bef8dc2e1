"""The engine's settings, in one frozen object; only `from_env` reads the environment."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

DATABASE_URL_ENV = "SEQLANG_DATABASE_URL"
TRANSPORT_ENV = "SEQLANG_TRANSPORT"
WEBHOOK_SECRET_ENV = "SEQLANG_WEBHOOK_SECRET"
LINK_SECRET_ENV = "SEQLANG_LINK_SECRET"
PUBLIC_URL_ENV = "SEQLANG_PUBLIC_URL"
API_TOKEN_ENV = "SEQLANG_API_TOKEN"


def new_owner() -> str:
    """A lease owner id no other process shares: host, pid, and a random part for pid reuse."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class EngineConfig:
    max_steps: int = 1000  # per enrollment, over its life: the safety net under `goto` loops
    max_send_attempts: int = 8
    retry_base: timedelta = timedelta(minutes=1)
    retry_cap: timedelta = timedelta(hours=1)
    lease: timedelta = timedelta(minutes=5)
    # Where readers' mail clients reach `seqlang serve`: the base of unsubscribe, open-pixel
    # and click links (runtime.tracking), without a trailing slash.
    public_url: str = "http://127.0.0.1:8080"
    link_secret: bytes = b""  # signs those links; empty: no open or click tracking
    api_token: str | None = None  # None: `seqlang serve` accepts no /events or /enrollments
    msgid_domain: str | None = None
    webhook_secret: bytes | None = None  # None: webhooks are held back, never sent unsigned
    webhook_timeout: float = 5.0
    webhook_max_attempts: int = 10
    webhook_retry_base: timedelta = timedelta(seconds=30)
    webhook_retry_cap: timedelta = timedelta(hours=1)
    # `seqlang run --send-window ignore`: emails leave outside `send on`, for trying a
    # sequence now; business-day waits still count the schedule's open days.
    ignore_send_window: bool = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> EngineConfig:
        secret = environ.get(WEBHOOK_SECRET_ENV)
        return cls(
            public_url=environ.get(PUBLIC_URL_ENV, cls.public_url).rstrip("/"),
            link_secret=environ.get(LINK_SECRET_ENV, "").encode(),
            api_token=environ.get(API_TOKEN_ENV) or None,
            webhook_secret=secret.encode() if secret else None,
        )
