"""How `seqlang check` shows its findings: one module per output format.

Each format module offers `render(report) -> str`. The report carries what any
format may need (the findings, the text of the files they point into, what
each code is called), so a format never re-reads a file or the rule registry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ..checker import CodeInfo
from ..diagnostics import ERROR, WARNING, Diagnostic


@dataclass(frozen=True)
class Report:
    """What one run of `seqlang check` found, over all the files it checked."""

    diagnostics: tuple[Diagnostic, ...]  # sorted by file and position
    sources: Mapping[str, str]  # file -> text, for every file a finding points into
    files: int  # how many files were checked
    codes: Mapping[str, CodeInfo]

    @property
    def error_count(self) -> int:
        return sum(d.severity == ERROR for d in self.diagnostics)

    @property
    def warning_count(self) -> int:
        return sum(d.severity == WARNING for d in self.diagnostics)


def formats() -> dict[str, Callable[[Report], str]]:
    """Format name -> renderer (imported here, not above: each format imports `Report`)."""
    from . import github, json, sarif, text

    return {"text": text.render, "json": json.render, "sarif": sarif.render,
            "github": github.render}
