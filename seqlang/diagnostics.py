"""Findings about a .seq file, and how they are shown to a person.

Every stage reports through `Diagnostic` so the CLI, the JSON/SARIF outputs
and the library API all describe a problem the same way: a stable code, a
severity, a message, and an exact span.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .nodes import Span

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: str
    message: str
    span: Span
    hint: str | None = None

    def sort_key(self) -> tuple:
        return (self.span.file, self.span.line, self.span.column, self.code)

    def headline(self) -> str:
        s = self.span
        return f"{s.file}:{s.line}:{s.column}: {self.severity} {self.code} {self.message}"


class SeqError(Exception):
    """Raised by the library API when input cannot be turned into IR."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(d.headline() for d in self.diagnostics))


class SeqSyntaxError(SeqError):
    """One or more SEQ001 findings: the text is not a .seq module."""


def source_excerpt(source: str, span: Span) -> str:
    """The span's first line with a caret run under the spanned columns."""
    lines = source.splitlines()
    if not 1 <= span.line <= len(lines):
        return ""
    text = lines[span.line - 1].expandtabs(1)
    start = max(span.column, 1)
    if span.end_line == span.line and span.end_column > start:
        width = span.end_column - start
    else:
        width = max(len(text) - start + 1, 1)
    gutter = f"{span.line:>4} | "
    return f"{gutter}{text}\n{' ' * (len(gutter) - 2)}| {' ' * (start - 1)}{'^' * width}"


def render_text(diag: Diagnostic, source: str | None) -> str:
    """The `file:line:col: severity CODE message` line, the source line, a caret and a hint."""
    parts = [diag.headline()]
    if source is not None:
        excerpt = source_excerpt(source, diag.span)
        if excerpt:
            parts.append(excerpt)
    if diag.hint:
        parts.append(f"     = hint: {diag.hint}")
    return "\n".join(parts)
