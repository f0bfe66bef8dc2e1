"""seqlang: email sequences as checked, formatted, diffable, simulated code.

The library API. Importing it loads only the front end (Lark, networkx); the
engine lives in the separate `runtime` package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .diagnostics import Diagnostic, SeqError, SeqSyntaxError
from .graph import StepGraph, lower
from .loader import Program, load
from .nodes import Module
from .parser import parse

__all__ = [
    "Diagnostic",
    "Module",
    "Program",
    "SeqError",
    "SeqSyntaxError",
    "StepGraph",
    "check",
    "format",
    "from_json",
    "load",
    "lower",
    "parse",
    "to_json",
]


def format(source: str | Module, path: str = "<string>") -> str:
    """Canonical .seq text for source text or a parsed module."""
    from .formatter import format_module

    module = source if isinstance(source, Module) else parse(source, path)
    return format_module(module)


def to_json(module: Module) -> dict[str, Any]:
    """The versioned JSON IR document (`seqlang-ir` v1) of a module."""
    from .jsonir import to_json as convert

    return convert(module)


def from_json(document: dict[str, Any]) -> Module:
    """A module from a JSON IR document; raises JsonIRError naming the JSON path of a fault."""
    from .jsonir import from_json as convert

    return convert(document)


def check(path: str | Path) -> list[Diagnostic]:
    """Every finding for a .seq file, syntax errors included, sorted by position."""
    from .checker import check_path

    return check_path(path)
