"""A transport that only records: for the simulator and for tests of code that sends.

Failures can be scripted with ``fail_next`` so engine retry and bounce paths can be exercised
without a network.
"""

from __future__ import annotations

from collections import deque

from runtime.message import OutgoingMessage
from runtime.transports.base import SendError, SendReceipt, Transport, thread_root

__all__ = ["MemoryTransport"]


class MemoryTransport(Transport):
    """Keeps every sent message in ``sent``, in order; counts batches in ``batches``."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.batches = 0
        self._failures: deque[SendError] = deque()

    def open(self) -> None:
        self.batches += 1

    def fail_next(self, *errors: SendError) -> None:
        """Make the next ``len(errors)`` sends raise these errors, in order (nothing recorded)."""
        self._failures.extend(errors)

    def send(self, msg: OutgoingMessage) -> SendReceipt:
        if self._failures:
            raise self._failures.popleft()
        self.sent.append(msg)
        return SendReceipt(
            message_id=msg.message_id,
            thread_id=thread_root(msg),
            provider_id=str(len(self.sent)),
        )
