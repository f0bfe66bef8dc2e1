"""`seqlang check`: report findings in .seq files.

Exit status: 0 when nothing reaches the failing level, 1 when something does
(errors; with `--strict`, warnings too), 2 for a usage problem: a bad flag, an
unknown code, broken settings, a path that cannot be read, or paths that hold
no .seq file at all (checking nothing is almost always a mistaken path in CI).
Findings of the files that could be read are printed either way.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path

from ..checker import check_source, known_codes
from ..config import ConfigError, discover, unknown_selector
from ..diagnostics import ERROR, Diagnostic
from ..loader import display_path
from ..nodes import Span
from ..outputs import Report, formats

SUFFIX = ".seq"
OK, FAILED, USAGE = 0, 1, 2


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.epilog = (
        "exit status: 0 nothing at the failing level, 1 errors (with --strict, warnings too), "
        "2 bad flags, broken settings or unreadable input. Settings: [tool.seqlang] in "
        "pyproject.toml, or seqlang.toml, nearest above each file. Silence one finding with "
        "`# seq: ignore[CODE]` at the end of its line."
    )
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help=".seq files, or folders to search for *.seq")
    parser.add_argument("--format", choices=("text", "json", "sarif", "github"), default="text",
                        help="output format (default: text)")
    parser.add_argument("--strict", action="store_true", help="warnings fail the check too")
    parser.add_argument("--select", action="append", metavar="CODES",
                        help="only these codes or prefixes, comma-separated (replaces the "
                             "configured selection)")
    parser.add_argument("--ignore", action="append", metavar="CODES", default=[],
                        help="also leave out these codes or prefixes, comma-separated")


def run(args: argparse.Namespace) -> int:
    codes = known_codes()
    try:
        select = _selectors(args.select, codes) if args.select is not None else None
        ignore = _selectors(args.ignore, codes)
    except ValueError as exc:
        print(f"seqlang check: {exc}", file=sys.stderr)
        return USAGE
    status = OK
    files: list[Path] = []
    for given in args.paths:
        found, trouble = _expand(Path(given))
        files.extend(found)
        if trouble:
            print(f"seqlang check: {trouble}", file=sys.stderr)
            status = USAGE
    if not files and status == OK:
        print("seqlang check: no .seq files in " + ", ".join(args.paths), file=sys.stderr)
        return USAGE
    gathered = _Gathered()
    for file in files:
        gathered.check(file, select, ignore)
    if gathered.unusable:
        status = USAGE
    if not gathered.checked:
        return status  # nothing was checked; stderr says why
    diagnostics = tuple(sorted(gathered.findings.values(), key=Diagnostic.sort_key))
    report = Report(diagnostics, gathered.sources, gathered.checked, codes)
    sys.stdout.write(formats()[args.format](report))
    if status == OK and any(d.severity == ERROR or args.strict for d in diagnostics):
        status = FAILED
    return status


class _Gathered:
    """Findings gathered over the files of one run. A finding in an imported module is
    reported by every file that imports it, so findings are kept once each."""

    def __init__(self) -> None:
        self.findings: dict[tuple[str, Span, str], Diagnostic] = {}
        self.sources: dict[str, str] = {}
        self.checked = 0
        self.unusable = False  # a file could not be read, or its settings are broken
        self._settings_errors: set[str] = set()

    def check(self, file: Path, select: tuple[str, ...] | None, ignore: tuple[str, ...]) -> None:
        try:
            config = discover(file).with_selection(select, ignore)
            text = file.read_text(encoding="utf-8")
        except ConfigError as exc:
            self.unusable = True
            if str(exc) not in self._settings_errors:  # once, not once per file under it
                self._settings_errors.add(str(exc))
                print(exc, file=sys.stderr)
            return
        except (OSError, UnicodeDecodeError) as exc:
            self.unusable = True
            print(f"seqlang check: cannot read {file}: {exc}", file=sys.stderr)
            return
        result = check_source(text, display_path(file), config)
        self.checked += 1
        self.sources.update(result.sources)
        for diag in result.diagnostics:
            self.findings.setdefault((diag.code, diag.span, diag.message), diag)


def _selectors(values: list[str], codes: Iterable[str]) -> tuple[str, ...]:
    out = tuple(v.strip() for value in values for v in value.split(",") if v.strip())
    for selector in out:
        if unknown_selector(selector, codes):
            raise ValueError(f"`{selector}` is not a code or a prefix of one "
                             "(`seqlang rule` lists the codes)")
    return out


def _expand(path: Path) -> tuple[list[Path], str | None]:
    """The .seq files a PATH argument names, or why it names none."""
    if path.is_dir():
        return _search(path), None
    if path.exists():
        return [path], None
    return [], f"cannot read {path}: no such file or folder"


def _search(folder: Path) -> list[Path]:
    """Every *.seq below `folder`, in name order; hidden folders and configured excludes
    are skipped (a path named explicitly is always checked)."""
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            file = Path(root, name)
            if name.endswith(SUFFIX) and not _excluded(file):
                found.append(file)
    return found


def _excluded(file: Path) -> bool:
    try:
        return discover(file).excluded(file)
    except ConfigError:
        return False  # reported when the file itself is checked

