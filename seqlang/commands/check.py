"""`seqlang check`: report findings; exit 0 clean, 1 errors, 2 unreadable input or bad flags."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..diagnostics import ERROR, SeqSyntaxError, render_text
from ..loader import load


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help=".seq files")


def run(args: argparse.Namespace) -> int:
    failed = False
    for path in args.paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"seqlang check: cannot read {path}: {exc}", file=sys.stderr)
            return 2
        try:
            program = load(path)
            diags = program.diagnostics
        except SeqSyntaxError as err:
            diags = err.diagnostics
        for d in diags:
            print(render_text(d, text))
            failed = failed or d.severity == ERROR
    return 1 if failed else 0
