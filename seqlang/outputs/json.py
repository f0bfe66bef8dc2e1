"""The JSON format: a stable contract for tools.

    {"format_version": "1", "error_count": N, "warning_count": N,
     "diagnostics": [{"code", "name", "severity", "message", "hint", "file",
                      "line", "column", "end_line", "end_column"}]}

Lines and columns are 1-based and count characters; `end_column` is exclusive.
`hint` is a string or null. Keys are only ever added within a format version;
renaming or removing one would be a new `format_version`.
"""

from __future__ import annotations

import json

from . import Report

FORMAT_VERSION = "1"


def render(report: Report) -> str:
    document = {
        "format_version": FORMAT_VERSION,
        "error_count": report.error_count,
        "warning_count": report.warning_count,
        "diagnostics": [
            {
                "code": d.code,
                "name": report.codes[d.code].name if d.code in report.codes else d.code,
                "severity": d.severity,
                "message": d.message,
                "hint": d.hint,
                "file": d.span.file,
                "line": d.span.line,
                "column": d.span.column,
                "end_line": d.span.end_line,
                "end_column": d.span.end_column,
            }
            for d in report.diagnostics
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
