"""Checker settings: `[tool.seqlang]` in pyproject.toml, or a seqlang.toml.

A project keeps its policy next to its files, so the checker finds it by
walking up from each checked file (the nearest one wins, as with ruff and
eslint), and a file in a sub-project can follow a different policy. In one
directory seqlang.toml wins over pyproject.toml; a pyproject.toml without a
`[tool.seqlang]` table does not count and the walk goes on.

    select = ["SEQ"]                       # codes or prefixes; default: every code
    ignore = ["SEQ043"]
    exclude = ["build/**"]                 # skipped when a directory is searched
    [severity]                             # per code: "error", "warning" or "off"
    SEQ020 = "error"
    [per-file-ignores]                     # globs relative to the config file's folder
    "legacy/*.seq" = ["SEQ060"]

(In pyproject.toml the same keys live under `[tool.seqlang]`.)  A mistake in
the settings is a `ConfigError` naming the file, line and column: a policy
that silently does nothing is worse than none.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from .diagnostics import ERROR, WARNING, source_excerpt
from .nodes import Span

PYPROJECT = "pyproject.toml"
SEQLANG_TOML = "seqlang.toml"
OFF = "off"
LEVELS = (ERROR, WARNING, OFF)
SYNTAX_CODE = "SEQ001"  # a file that does not parse cannot be checked: never silenced
_KEYS = ("select", "ignore", "exclude", "severity", "per-file-ignores")


class ConfigError(Exception):
    """A settings file that cannot be used; `str()` is the full report with the source line."""

    def __init__(self, file: Path, text: str, line: int, column: int, message: str,
                 hint: str | None = None, width: int = 0):
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        parts = [f"{file}:{line}:{column}: error: {message}"]
        excerpt = source_excerpt(text, Span(str(file), line, column, line, column + width))
        if excerpt:
            parts.append(excerpt)
        if hint:
            parts.append(f"     = hint: {hint}")
        super().__init__("\n".join(parts))


@dataclass(frozen=True)
class Config:
    """Which codes are reported for which files, and at what severity."""

    select: tuple[str, ...] = ("SEQ",)
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    severity: dict[str, str] = field(default_factory=dict)
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    root: Path | None = None  # the folder globs are relative to; None: no settings file

    def level(self, code: str, default: str, file: str) -> str:
        """The severity `code` is reported at in `file`, or OFF when it is not reported."""
        if code == SYNTAX_CODE:
            return ERROR
        if not _matches(code, self.select) or _matches(code, self.ignore):
            return OFF
        if self.per_file_ignores:
            relative = _relative(self.root, file)
            for pattern, codes in self.per_file_ignores:
                if _matches(code, codes) and _glob_match(pattern, relative):
                    return OFF
        return self.severity.get(code, default)

    def excluded(self, file: Path) -> bool:
        relative = _relative(self.root, str(file))
        return any(_glob_match(pattern, relative) for pattern in self.exclude)

    def with_selection(self, select: Iterable[str] | None, ignore: Iterable[str]) -> Config:
        """Command-line `--select` replaces the configured selection; `--ignore` adds to it."""
        chosen = tuple(select) if select is not None else self.select
        return replace(self, select=chosen, ignore=(*self.ignore, *ignore))


@lru_cache(maxsize=4096)
def _relative(root: Path | None, file: str) -> str:
    """`file` as globs see it: relative to the settings file's folder when inside it."""
    path = Path(file).resolve()
    if root is not None and path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    return path.as_posix()


def _matches(code: str, selectors: Iterable[str]) -> bool:
    return any(code.startswith(s) for s in selectors)


def unknown_selector(selector: str, known: Iterable[str]) -> bool:
    """A selector is a code or a prefix of one; anything else is a typo to report."""
    return not any(code.startswith(selector) for code in known)


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    """gitignore-style globs: `*` stays within a folder, `**` crosses folders, and a
    pattern without `/` matches a file name in any folder."""
    if "/" not in pattern:
        pattern = "**/" + pattern
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def _glob_match(pattern: str, relative: str) -> bool:
    return _glob_regex(pattern.removeprefix("./")).fullmatch(relative) is not None


# ---- reading settings files ----------------------------------------------------------


def discover(file: str | Path) -> Config:
    """The settings that apply to `file`: the nearest settings file above it, else defaults."""
    return _discover_from(Path(file).resolve().parent)


def _discover_from(folder: Path) -> Config:
    for here in (folder, *folder.parents):
        for candidate in (here / SEQLANG_TOML, here / PYPROJECT):
            try:
                stat = candidate.stat()
            except OSError:
                continue
            found = _load_version(candidate, stat.st_mtime_ns, stat.st_size)
            if found is not None:
                return found
    return Config()


@lru_cache(maxsize=256)
def _load_version(path: Path, mtime_ns: int, size: int) -> Config | None:
    """A settings file is read once per version, so that checking many files stays cheap
    and a long-running process (an editor) still sees edits."""
    return load_config(path)


def load_config(path: Path) -> Config | None:
    """Settings from one file; None for a pyproject.toml that has no `[tool.seqlang]` table."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", 1, 1, f"cannot read settings: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, column = _toml_position(str(exc), text)
        message = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", str(exc))
        raise ConfigError(path, text, line, column, f"invalid TOML: {message}") from None
    if path.name == PYPROJECT:
        table = data.get("tool", {}).get("seqlang")
        if table is None:
            return None
        section = "[tool.seqlang]"
    else:
        table, section = data, SEQLANG_TOML
    from .checker import known_codes  # the checker imports this module first

    return _Reader(path, text, section, frozenset(known_codes())).read(table)


def _toml_position(message: str, text: str) -> tuple[int, int]:
    found = re.search(r"at line (\d+), column (\d+)", message)
    if found:
        return int(found.group(1)), int(found.group(2))
    if "end of document" in message:  # point just after the last thing written
        written = text.rstrip()
        return written.count("\n") + 1, len(written) - written.rfind("\n")
    return 1, 1


class _Reader:
    """Validates one settings table, locating each mistake in the file's text."""

    def __init__(self, path: Path, text: str, section: str, known: frozenset[str]):
        self.path = path
        self.text = text
        self.section = section
        self.known = known

    def fail(self, key: str, message: str, hint: str | None = None, name: str | None = None,
             value: str | None = None) -> ConfigError:
        """An error about setting `key`, placed where `name` (default: `key`) is assigned,
        or at `value` written after that."""
        line, column, width = self._locate(name if name is not None else key, value)
        return ConfigError(self.path, self.text, line, column,
                           f"{self.section} `{key}`: {message}", hint, width)

    def _locate(self, key: str, value: str | None) -> tuple[int, int, int]:
        """Line, column and width of the first assignment of `key` (bare or quoted) in this
        tool's part of the file, or of the first `"value"` after it; else the table header."""
        header = re.search(r"^\s*\[tool\.seqlang", self.text, re.MULTILINE)
        section = header.start() if header and self.path.name == PYPROJECT else 0
        name = re.escape(key)
        assigned = re.compile(rf'^[ \t]*(?:"{name}"|\'{name}\'|{name})\s*=', re.MULTILINE)
        found = assigned.search(self.text, section)
        start, width = (found.end() - len(found.group().lstrip()), 0) if found else (None, 0)
        if found is not None and value is not None:
            written = re.compile(f'["\']{re.escape(value)}["\']').search(self.text, found.end())
            if written:
                start, width = written.start(), len(written.group())
        if start is None:
            start = header.start() if header else 0
        line = self.text.count("\n", 0, start) + 1
        return line, start - (self.text.rfind("\n", 0, start) + 1) + 1, width

    def read(self, table: dict[str, Any]) -> Config:
        for key in table:
            if key not in _KEYS:
                raise self.fail(key, "unknown setting", "settings are " + ", ".join(_KEYS))
        select = self.codes("select", table.get("select", ["SEQ"]))
        ignore = self.codes("ignore", table.get("ignore", []))
        exclude = self.strings("exclude", table.get("exclude", []))
        severity = self.severities(table.get("severity", {}))
        per_file = table.get("per-file-ignores", {})
        if not isinstance(per_file, dict):
            raise self.fail("per-file-ignores", "must be a table of glob = [codes]")
        return Config(
            select=select,
            ignore=ignore,
            exclude=exclude,
            severity=severity,
            per_file_ignores=tuple(
                (glob, self.codes(f'per-file-ignores."{glob}"', codes, name=glob))
                for glob, codes in per_file.items()
            ),
            root=self.path.parent.resolve(),
        )

    def strings(self, key: str, value: Any, name: str | None = None) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings", name=name)
        return tuple(value)

    def codes(self, key: str, value: Any, name: str | None = None) -> tuple[str, ...]:
        codes = self.strings(key, value, name)
        for code in codes:
            if unknown_selector(code, self.known):
                raise self.fail(key, f"`{code}` is not a code or a prefix of one",
                                "codes look like SEQ020; a prefix such as SEQ02 selects a group",
                                name=name, value=code)
        return codes

    def severities(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.fail("severity", 'must be a table of CODE = "error" | "warning" | "off"')
        for code, level in value.items():
            if code not in self.known:
                raise self.fail(f"severity.{code}", f"`{code}` is not a code",
                                'severity is set per code, e.g. SEQ020 = "error"', name=code)
            if level not in LEVELS:
                raise self.fail(f"severity.{code}", f"`{level}` is not a severity",
                                'use "error", "warning" or "off"', name=code, value=str(level))
        return dict(value)

