"""Log lines for the worker: one line per step execution, as text or as JSON lines.

The walker attaches `enrollment`, `step`, `outcome`, `duration_ms` and `reason` to each step's
record on the `seqlang.engine` logger (see runtime.engine). A person tailing a terminal reads
`key=value` text; a log shipper wants one JSON object per line with those same keys, so both
formats come from the same record and neither needs the message text parsed back.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")
STEP_FIELDS = ("enrollment", "step", "outcome", "duration_ms", "reason")
ROOT_LOGGER = "seqlang"


def is_step(record: logging.LogRecord) -> bool:
    return hasattr(record, "enrollment") and hasattr(record, "outcome")


def timestamp(record: logging.LogRecord, spec: str = "seconds") -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`2026-11-28T10:00:01Z enrollment=12 step=welcome outcome=sent duration_ms=3.1`, and a
    plain `time LEVEL message` line for records that are not step executions."""

    def format(self, record: logging.LogRecord) -> str:
        if is_step(record):
            pairs = [(k, getattr(record, k, None)) for k in STEP_FIELDS]
            line = " ".join(f"{k}={_text_value(v)}" for k, v in pairs if v is not None)
        else:
            line = f"{record.levelname} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return f"{timestamp(record)} {line}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line; step records carry the step fields as keys of their own."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {"at": timestamp(record, "milliseconds"),
                                 "level": record.levelname.lower()}
        if is_step(record):
            entry.update((k, getattr(record, k, None)) for k in STEP_FIELDS)
        else:
            entry.update(logger=record.name, message=record.getMessage())
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _text_value(value: Any) -> str:
    """Bare when it reads unambiguously as one token, JSON-quoted otherwise."""
    text = str(value)
    if text and not any(c.isspace() or c in '"=\\' for c in text):
        return text
    return json.dumps(text, ensure_ascii=False)


class _LineHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure` installs, told apart from any other on the same logger."""


def configure(log_format: LogFormat = "text", stream: TextIO | None = None,
              level: int = logging.INFO) -> None:
    """Send everything under the `seqlang` logger to `stream` (stderr) in `log_format`.

    A second call replaces the first one's handler rather than doubling every line. The
    scheduler's own messages (a run skipped while the previous tick still drains, which is
    by design) are kept to errors.
    """
    if log_format not in FORMATS:
        raise ValueError(f"unknown log format {log_format!r}; expected text or json")
    handler = _LineHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger(ROOT_LOGGER)
    for old in [h for h in root.handlers if isinstance(h, _LineHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
