"""`seqlang fmt`: rewrite .seq files in the canonical layout.

Exit codes follow black, which CI scripts and editors already understand: 0 done (or nothing
to change), 1 a file would change under --check or is not valid .seq, 2 an unreadable file or
a bad flag, 123 an internal error. Every result is parsed back and compared with the source
before anything is written, so a formatter bug can cost a user an error message, never a file.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from ..diagnostics import SeqSyntaxError, render_text
from ..formatter import format_module, verify
from ..parser import parse

STDIN = "-"
STDIN_NAME = "<stdin>"
OK, FAILED, UNREADABLE, INTERNAL = 0, 1, 2, 123


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("paths", nargs="+", metavar="FILE",
                        help=".seq files, or directories to search for them; `-` formats "
                             "stdin to stdout")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if any file would be reformatted")
    parser.add_argument("--diff", action="store_true",
                        help="print a unified diff of the changes instead of writing them")


class _Skipped(Exception):
    """A file left as it is; why has been printed already."""

    def __init__(self, status: int):
        super().__init__(status)
        self.status = status


def run(args: argparse.Namespace) -> int:
    status = OK
    for path in _expand(args.paths):
        try:
            status = max(status, _format_path(path, args.check, args.diff))
        except _Skipped as skipped:
            status = max(status, skipped.status)
    return status


def _expand(paths: list[str]) -> list[str]:
    """Directories stand for every .seq file under them, in a stable order."""
    out: list[str] = []
    for path in paths:
        if path != STDIN and Path(path).is_dir():
            out.extend(str(p) for p in sorted(Path(path).rglob("*.seq")) if p.is_file())
        else:
            out.append(path)
    return out


def _format_path(path: str, check: bool, diff: bool) -> int:
    name = STDIN_NAME if path == STDIN else path
    source = _read(path, name)
    # Keep a file's Windows line endings; everything inside works on "\n".
    newline = "\r\n" if source.partition("\n")[0].endswith("\r") else "\n"
    result = _format_text(source.replace("\r\n", "\n"), name).replace("\n", newline)
    changed = result != source
    if diff and changed:
        _print_diff(name, source, result)
    if check or diff:
        if changed and check:
            print(f"would reformat {name}", file=sys.stderr)
        return FAILED if changed and check else OK
    if path == STDIN:
        _write_stdout(result)
    elif changed:
        _write(path, result)
        print(f"reformatted {path}", file=sys.stderr)
    return OK


def _read(path: str, name: str) -> str:
    try:
        raw = _read_stdin() if path == STDIN else Path(path).read_bytes()
    except OSError as exc:
        print(f"seqlang fmt: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
        raise _Skipped(UNREADABLE) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        print(f"seqlang fmt: cannot read {name}:{line}:{column}: not UTF-8 text",
              file=sys.stderr)
        raise _Skipped(UNREADABLE) from None


def _format_text(text: str, name: str) -> str:
    try:
        module = parse(text, name)
    except SeqSyntaxError as err:
        for diag in err.diagnostics:
            print(render_text(diag, text), file=sys.stderr)
        raise _Skipped(FAILED) from None
    try:
        formatted = format_module(module)
        verify(module, formatted)
    except Exception as exc:  # any failure here is ours, and must spare the file
        print(f"seqlang fmt: internal error: cannot format {name}: {exc}; "
              "the file was left unchanged, please report this", file=sys.stderr)
        raise _Skipped(INTERNAL) from None
    return formatted


def _write(path: str, text: str) -> None:
    try:
        _replace(Path(path), text)
    except OSError as exc:
        print(f"seqlang fmt: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        raise _Skipped(UNREADABLE) from None


def _read_stdin() -> bytes:
    """Bytes, so that the locale's encoding and newline translation stay out of the way."""
    buffer = getattr(sys.stdin, "buffer", None)
    return sys.stdin.read().encode("utf-8") if buffer is None else buffer.read()


def _write_stdout(text: str) -> None:
    """UTF-8 whatever the locale, like the files `seqlang fmt` writes."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:
        sys.stdout.write(text)
        return
    sys.stdout.flush()
    buffer.write(text.encode("utf-8"))
    buffer.flush()


def _lines(text: str) -> list[str]:
    """Lines with their ends, split on "\\n" only: a comment may hold a form feed or U+2028."""
    return re.findall(r"[^\n]*\n|[^\n]+$", text)


def _print_diff(name: str, before: str, after: str) -> None:
    lines = difflib.unified_diff(_lines(before), _lines(after),
                                 f"{name}\t(original)", f"{name}\t(formatted)")
    _write_stdout("".join(line if line.endswith("\n")
                          else line + "\n\\ No newline at end of file\n" for line in lines))


def _replace(path: Path, text: str) -> None:
    """Write through a temporary file in the same directory, so a crash or a full disk never
    leaves half a file; the target keeps its permissions, and a symlink keeps pointing at it."""
    target = path.resolve()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        shutil.copymode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
