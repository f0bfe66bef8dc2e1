"""Write emails to a folder instead of sending them: the default, so that nothing leaves a
developer's machine until a real transport is configured on purpose.

Each email is one ``.eml`` file (openable in any mail client) named by a sortable UTC timestamp
and the Message-ID, so ``ls`` lists them in sending order. Files are written to a temp name and
renamed into place, so a reader (or a crash) never sees half a message. ``index.jsonl`` gets one
line per email, appended after its file exists, so every index line points at a whole file; each
line is one O_APPEND write, so several processes may share an outbox without interleaving.
Files are private to the user (0600, as mkstemp makes them): they hold contacts' data.
Nothing is fsync'ed: the outbox is for development and tests, not for surviving power loss.
The folder is made and the index opened at the first send of a batch and the index kept open
until ``close()``: a worker's tick writes many emails, and opening the index for each one
costs more than the line it appends.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from runtime.message import OutgoingMessage
from runtime.transports.base import SendReceipt, TransientSendError, Transport, thread_root

__all__ = ["INDEX_NAME", "OutboxTransport"]

INDEX_NAME = "index.jsonl"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._@-]+")


class OutboxTransport(Transport):
    """Stores emails under ``folder`` (created on first use)."""

    def __init__(self, folder: str | os.PathLike[str] = "outbox") -> None:
        self.folder = Path(folder)
        self._index: BinaryIO | None = None

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
            self._index = None

    def send(self, msg: OutgoingMessage) -> SendReceipt:
        now = datetime.now(UTC)
        # Truncated so the name stays within the usual 255-byte limit even for long domains.
        stem = _UNSAFE_FILENAME.sub("_", msg.message_id.strip("<>"))[:200]
        name = f"{now:%Y%m%dT%H%M%S.%fZ}_{stem}.eml"
        entry = {
            "at": now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "message_id": msg.message_id,
            "to": msg.to,
            "subject": msg.subject,
            "file": name,
        }
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            index = self._open_index()
            _write_atomically(self.folder / name, msg.raw)
            index.write(line)
        except OSError as exc:
            # A full disk or a permissions problem can be fixed without losing the email.
            raise TransientSendError(f"cannot write to outbox {self.folder}: {exc}") from exc
        return SendReceipt(message_id=msg.message_id, thread_id=thread_root(msg), provider_id=name)

    def _open_index(self) -> BinaryIO:
        if self._index is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.folder / INDEX_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            # Unbuffered: each line is one write(2) under O_APPEND, as the docstring promises.
            self._index = os.fdopen(fd, "ab", buffering=0)
        return self._index


def _write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
