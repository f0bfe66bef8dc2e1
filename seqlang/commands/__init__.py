"""One module per `seqlang` command of the front end, and the file handling they share."""

from __future__ import annotations

import sys
from pathlib import Path

UNREADABLE = 2


def read_input(command: str, path: str) -> str | None:
    """The file's text, or None after telling the user why it can't be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"seqlang {command}: cannot read {path}: {exc}", file=sys.stderr)
        return None


def write_output(command: str, text: str, path: str | None) -> int:
    """Write to `path`, or to stdout when there is none; the command's exit status."""
    if path is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"seqlang {command}: cannot write {path}: {exc}", file=sys.stderr)
        return UNREADABLE
    return 0
