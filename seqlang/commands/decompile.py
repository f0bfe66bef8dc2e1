"""`seqlang decompile`: print canonical .seq text for a JSON IR file.

Exits 0, 1 (not JSON, or not a valid document) or 2 (unreadable). A document
from a builder is checked before it is turned into text, and a fault is named
by the JSON path the builder's author can look up.
"""

from __future__ import annotations

import argparse
import json
import sys

from .. import format as format_seq
from ..diagnostics import source_excerpt
from ..jsonir import JsonIRError, from_json
from ..nodes import Span
from . import UNREADABLE, read_input


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("path", metavar="FILE",
                        help="a JSON IR document, as `seqlang compile` writes")


def run(args: argparse.Namespace) -> int:
    text = read_input("decompile", args.path)
    if text is None:
        return UNREADABLE
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        span = Span(args.path, exc.lineno, exc.colno, exc.lineno, exc.colno + 1)
        print(f"{args.path}:{exc.lineno}:{exc.colno}: error: not valid JSON: {exc.msg}",
              file=sys.stderr)
        print(source_excerpt(text, span), file=sys.stderr)
        return 1
    try:
        module = from_json(document)
    except JsonIRError as exc:
        print(f"{args.path}: error: {exc}", file=sys.stderr)
        return 1
    sys.stdout.write(format_seq(module))
    return 0
