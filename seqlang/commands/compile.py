"""`seqlang compile`: write the JSON IR of a .seq file; exit 0, 1 (errors found), 2 (unreadable).

A file with errors is refused rather than compiled: the builder and the engine
trust a document to describe a sequence that runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import check
from ..diagnostics import ERROR, render_text
from ..jsonir import dumps, to_json
from ..loader import display_path
from ..parser import parse
from . import UNREADABLE, read_input, write_output


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("path", metavar="FILE", help="a .seq file")
    parser.add_argument("-o", "--output", metavar="OUT",
                        help="write the JSON to OUT instead of standard output")


def run(args: argparse.Namespace) -> int:
    text = read_input("compile", args.path)
    if text is None:
        return UNREADABLE
    path = display_path(args.path)
    findings = check(args.path)
    for diag in findings:
        source = text if diag.span.file == path else _source(diag.span.file)
        print(render_text(diag, source), file=sys.stderr)
    if any(d.severity == ERROR for d in findings):
        print(f"seqlang compile: {path} has errors; nothing written", file=sys.stderr)
        return 1
    return write_output("compile", dumps(to_json(parse(text, path))), args.output)


def _source(file: str) -> str | None:
    """The text of an imported file a finding points into, for its source line."""
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
