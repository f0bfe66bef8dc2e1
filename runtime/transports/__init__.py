"""Transports: where built messages go. Pick one with ``parse_transport_url``:

- ``outbox:./outbox`` (the default): .eml files plus ``index.jsonl`` in a folder
- ``smtp://user:pass@host:port?starttls=1`` / ``smtps://user:pass@host:465``
- ``gmail:path/to/credentials.json`` (``?user=ana@example.com`` for a service account)
- ``memory:``: keep messages in a list (simulator, tests)

The Gmail transport is imported only when asked for, so the common paths do not pay for loading
google-api-python-client.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote

from runtime.transports.base import (
    PermanentSendError,
    SendError,
    SendReceipt,
    TransientSendError,
    Transport,
)
from runtime.transports.memory import MemoryTransport
from runtime.transports.outbox import OutboxTransport
from runtime.transports.smtp import SmtpTransport

__all__ = [
    "DEFAULT_TRANSPORT_URL",
    "MemoryTransport",
    "OutboxTransport",
    "PermanentSendError",
    "SendError",
    "SendReceipt",
    "SmtpTransport",
    "TransientSendError",
    "Transport",
    "parse_transport_url",
]

DEFAULT_TRANSPORT_URL = "outbox:./outbox"


def parse_transport_url(url: str | None = None) -> Transport:
    """Make the transport a URL names (``None`` or "" means the outbox default).

    Raises ValueError for an unknown scheme or a malformed URL, so configuration mistakes
    surface at start-up rather than at the first send. Messages name the scheme, not the URL,
    which may hold a password.
    """
    url = (url or DEFAULT_TRANSPORT_URL).strip()
    scheme, colon, rest = url.partition(":")
    scheme = scheme.lower()
    if not colon:
        raise ValueError(
            "a transport URL starts with outbox:, smtp://, smtps://, gmail: or memory:"
        )
    if scheme == "outbox":
        return OutboxTransport(rest or "outbox")
    if scheme == "memory":
        if rest:
            raise ValueError(f"memory: takes no arguments, got {url!r}")
        return MemoryTransport()
    if scheme in ("smtp", "smtps"):
        return SmtpTransport.from_url(url)
    if scheme == "gmail":
        path, _, query = rest.partition("?")
        options = parse_qs(query, keep_blank_values=True)
        if not path or set(options) - {"user"}:
            raise ValueError(f"expected gmail:<credentials file>[?user=<mailbox>], got {url!r}")
        from runtime.transports.gmail import GmailTransport

        return GmailTransport.from_credentials_file(
            unquote(path), user=options.get("user", [None])[-1]
        )
    raise ValueError(f"unknown transport scheme {scheme!r} (outbox, smtp, smtps, gmail, memory)")
