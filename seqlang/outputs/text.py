"""The format for people: each finding with its source line, a caret run under the
exact span and a hint, then one summary line (`2 errors, 1 warning in 3 files`).

Everything goes to stdout, summary included, so that piping the output keeps
the count with the findings it counts.
"""

from __future__ import annotations

from ..diagnostics import render_text
from . import Report


def render(report: Report) -> str:
    blocks = [render_text(d, report.sources.get(d.span.file)) for d in report.diagnostics]
    blocks.append(summary(report))
    return "\n\n".join(blocks) + "\n"


def summary(report: Report) -> str:
    return (f"{_count(report.error_count, 'error')}, "
            f"{_count(report.warning_count, 'warning')} in {_count(report.files, 'file')}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
