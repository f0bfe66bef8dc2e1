"""GitHub Actions workflow commands: one `::error` or `::warning` line per finding,
which GitHub shows as an annotation on the pull request's diff.

Escaping follows GitHub's workflow-command rules: in the message `%`, CR and LF
become `%25`, `%0D`, `%0A`; property values (file, title) also escape `:` and
`,` as `%3A` and `%2C`, which would otherwise end the value.
"""

from __future__ import annotations

from . import Report


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: Report) -> str:
    lines = []
    for d in report.diagnostics:
        s = d.span
        props = (f"file={escape_property(s.file)},line={s.line},col={s.column},"
                 f"endLine={s.end_line},endColumn={s.end_column},title={escape_property(d.code)}")
        message = d.message if d.hint is None else f"{d.message}\nhint: {d.hint}"
        lines.append(f"::{d.severity} {props}::{escape_data(message)}")
    return "".join(line + "\n" for line in lines)
