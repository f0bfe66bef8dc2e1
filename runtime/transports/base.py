"""What every transport promises the engine, and the two ways a send can fail.

The engine only needs to know one thing about a failure: try again later, or give up on this
email. So there are exactly two exception types, and each transport maps its own errors onto
them (network trouble, SMTP 4xx, HTTP 429/5xx -> transient; SMTP 5xx, other HTTP 4xx, a bad
address -> permanent).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from runtime.message import OutgoingMessage

__all__ = [
    "PermanentSendError",
    "SendError",
    "SendReceipt",
    "TransientSendError",
    "Transport",
    "thread_root",
]


@dataclass(frozen=True, slots=True)
class SendReceipt:
    """What the engine records for a sent email.

    ``thread_id`` is what to pass back as ``OutgoingMessage.thread_id`` when replying in this
    thread: Gmail's threadId for Gmail, and for transports without provider threads the
    Message-ID of the thread's first email (threading then rests on In-Reply-To/References).
    ``provider_id`` is the provider's own id for the message (Gmail message id, the SMTP
    server's final reply, an outbox file name), kept for support and bounce correlation.
    """

    message_id: str
    thread_id: str
    provider_id: str | None = None


class SendError(Exception):
    """Base of send failures; ``reason`` is human-readable and safe to store."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientSendError(SendError):
    """Worth retrying with backoff; ``retry_after`` (seconds) when the provider said when."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """Retrying this email will not help (rejected recipient, malformed request, ...)."""


@runtime_checkable
class Transport(Protocol):
    """Sends OutgoingMessages. Use as a context manager around a batch: ``open()`` acquires
    what is worth reusing across sends (one SMTP connection), ``close()`` releases it.
    ``send`` also works outside a batch; it then opens what it needs and keeps it until
    ``close()``. Instances are not thread-safe: use one per worker.

    Subclasses inherit the no-op ``open``/``close`` and the context-manager methods.
    """

    def open(self) -> None:
        """Prepare for a batch of sends (a no-op unless the transport holds a connection)."""

    def close(self) -> None:
        """Release whatever ``open`` or ``send`` acquired; safe to call more than once."""

    @abstractmethod
    def send(self, msg: OutgoingMessage) -> SendReceipt:
        """Send one message, or raise TransientSendError / PermanentSendError."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def thread_root(msg: OutgoingMessage) -> str:
    """The thread id for transports without provider threads (see SendReceipt)."""
    return msg.thread_id or msg.message_id
