"""`seqlang graph`: draw a sequence's step graph as Mermaid, DOT or SVG.

Exit 0 when drawn, 1 when the file has syntax errors, 2 for unreadable input,
an unknown or ambiguous sequence, or SVG without Graphviz installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..diagnostics import SeqSyntaxError, render_text
from ..graph import lower
from ..loader import display_path
from ..parser import parse
from ..pictures import GraphvizError, dot, mermaid, svg
from . import UNREADABLE, read_input, write_output

FORMATS = ("mermaid", "dot", "svg")
_BY_SUFFIX = {".mmd": "mermaid", ".mermaid": "mermaid", ".dot": "dot", ".gv": "dot",
              ".svg": "svg"}


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("path", metavar="FILE", help="a .seq file")
    parser.add_argument("--sequence", metavar="NAME",
                        help="the sequence to draw (needed when the file has several)")
    parser.add_argument("--format", choices=FORMATS,
                        help="mermaid (default), dot, or svg (runs Graphviz's `dot`); "
                             "taken from the -o file's extension when not given")
    parser.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")


def _fail(message: str) -> int:
    print(f"seqlang graph: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    path = display_path(args.path)
    text = read_input("graph", args.path)
    if text is None:
        return UNREADABLE
    try:
        module = parse(text, path)
    except SeqSyntaxError as err:
        for diag in err.diagnostics:
            print(render_text(diag, text), file=sys.stderr)
        return 1
    names = [s.name for s in module.sequences]
    if args.sequence is not None and args.sequence not in names:
        known = ", ".join(names) if names else "none"
        return _fail(f"{path} has no sequence {args.sequence!r} (its sequences: {known})")
    if args.sequence is None and len(names) != 1:
        if not names:
            return _fail(f"{path} has no sequence to draw")
        return _fail(f"{path} has several sequences ({', '.join(names)}); "
                     "choose one with --sequence NAME")
    chosen = args.sequence or names[0]
    graph = lower(next(s for s in module.sequences if s.name == chosen))
    fmt = args.format or _BY_SUFFIX.get(Path(args.output or "").suffix.lower(), "mermaid")
    if fmt == "mermaid":
        picture = mermaid(graph)
    else:
        picture = dot(graph)
        if fmt == "svg":
            try:
                picture = svg(picture)
            except GraphvizError as exc:
                return _fail(str(exc))
    return write_output("graph", picture, args.output)
