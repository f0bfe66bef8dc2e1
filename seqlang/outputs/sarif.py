"""SARIF 2.1.0, the format GitHub code scanning (and most CI dashboards) import.

Choices GitHub relies on:

* `tool.driver.rules` lists every code with its name, summary, help and default
  level, so an alert's rule page is complete even for codes with no finding;
* each result has a `physicalLocation` whose file is relative to the checkout
  (`uriBaseId` `%SRCROOT%`), and a region in characters (`columnKind`
  `unicodeCodePoints`, `endColumn` exclusive, as SARIF defines it);
* `partialFingerprints.primaryLocationLineHash` is a hash of the code and the
  text of the finding's line (plus a counter for identical lines), not of the
  line number, so an alert keeps its identity when lines above it move.
"""

from __future__ import annotations

import hashlib
import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from urllib.parse import quote

from ..diagnostics import Diagnostic
from . import Report

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SRCROOT = "%SRCROOT%"


def _tool_version() -> str:
    try:
        return version("seqlang")
    except PackageNotFoundError:
        return "0"


def render(report: Report) -> str:
    codes = list(report.codes.values())
    index = {info.code: i for i, info in enumerate(codes)}
    rules = [
        {
            "id": info.code,
            "name": info.name,
            "shortDescription": {"text": info.summary},
            "fullDescription": {"text": info.summary},
            "help": {
                "text": f"{info.code} {info.name}: {info.summary}. Run `seqlang rule "
                        f"{info.code}` for the full explanation; silence one finding with "
                        f"`# seq: ignore[{info.code}]` at the end of its line.",
                "markdown": f"**{info.code} {info.name}**: {info.summary}.\n\nRun `seqlang rule "
                            f"{info.code}` for the full explanation; silence one finding with "
                            f"`# seq: ignore[{info.code}]` at the end of its line.",
            },
            "defaultConfiguration": {"level": info.severity},
            "properties": {"tags": ["seqlang"]},
        }
        for info in codes
    ]
    fingerprints = _Fingerprints(report)
    results = []
    for d in report.diagnostics:
        result = {
            "ruleId": d.code,
            "level": d.severity,
            "message": {"text": d.message if d.hint is None else f"{d.message}\nHint: {d.hint}"},
            "locations": [{"physicalLocation": {
                "artifactLocation": _artifact(d.span.file),
                "region": {
                    "startLine": d.span.line,
                    "startColumn": d.span.column,
                    "endLine": d.span.end_line,
                    "endColumn": d.span.end_column,
                },
            }}],
            "partialFingerprints": {
                "primaryLocationLineHash": fingerprints.of(d),
            },
        }
        if d.code in index:
            result["ruleIndex"] = index[d.code]
        results.append(result)
    document = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "seqlang",
                "version": _tool_version(),
                "rules": rules,
            }},
            "originalUriBaseIds": {SRCROOT: {"uri": Path.cwd().as_uri() + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _artifact(file: str) -> dict[str, str]:
    path = Path(file)
    if path.is_absolute():
        return {"uri": path.as_uri()}
    return {"uri": quote(path.as_posix()), "uriBaseId": SRCROOT}


class _Fingerprints:
    """Line-text hashes, numbered when the same code flags identical lines of one file."""

    def __init__(self, report: Report):
        self.report = report
        self.lines: dict[str, list[str]] = {}
        self.seen: dict[tuple[str, str], int] = {}

    def of(self, diag: Diagnostic) -> str:
        file = diag.span.file
        if file not in self.lines:
            self.lines[file] = self.report.sources.get(file, "").splitlines()
        lines = self.lines[file]
        text = lines[diag.span.line - 1] if 1 <= diag.span.line <= len(lines) else ""
        digest = hashlib.sha256(f"{diag.code}\0{' '.join(text.split())}".encode()).hexdigest()
        key = (file, digest[:16])
        self.seen[key] = self.seen.get(key, 0) + 1
        return f"{digest[:16]}:{self.seen[key]}"
