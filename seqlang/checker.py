"""The static checker: every rule over a loaded program, with the project's settings applied.

Rules only report. This module decides what a user sees: which codes are
selected for which file and at what severity (`seqlang.config`), what a
`# seq: ignore[CODE, ...]` comment silences, and which of those comments
silence nothing (SEQ090), so that every caller (the CLI, `seqlang.check`, the
compiler) sees the same findings.

Suppression comments apply to findings that start on their line in the
checked file. SEQ001 cannot be silenced: a file that does not parse has not
been checked. A comment naming a code that is switched off for the file is not
reported as unused, since the same file may be checked under another setting;
`SEQ090` in a comment silences the unused-suppression report of its own line.
"""

from __future__ import annotations

import gc
import re
from dataclasses import dataclass, replace
from pathlib import Path

from .config import OFF, Config, discover
from .diagnostics import ERROR, WARNING, Diagnostic, SeqSyntaxError
from .graph import StepGraph, lower
from .loader import Program, display_path, load_text
from .nodes import Module, Span
from .rules import RuleContext, all_rules

SYNTAX = "SEQ001"
IMPORT = "SEQ012"
UNUSED_SUPPRESSION = "SEQ090"
_SUPPRESSION = re.compile(r"#\s*seq:\s*ignore\[([^\]]*)\]")
_CODE = re.compile(r"[^,\s]+")


@dataclass(frozen=True)
class CodeInfo:
    """What every output says about a code: rules and the codes the front end reports."""

    code: str
    name: str  # kebab-case
    severity: str  # the default
    summary: str  # one line


_FRONT_END = (
    CodeInfo(SYNTAX, "syntax-error", ERROR, "the text is not a valid .seq module"),
    CodeInfo(IMPORT, "import-error", ERROR, "an import that cannot be found, or an import cycle"),
    CodeInfo(UNUSED_SUPPRESSION, "unused-suppression", WARNING,
             "a `# seq: ignore[...]` comment that silences nothing"),
)


def known_codes() -> dict[str, CodeInfo]:
    """Every code a check can report, in code order."""
    codes = {info.code: info for info in _FRONT_END}
    for found in all_rules().values():
        codes[found.code] = CodeInfo(found.code, found.name, found.severity, found.summary)
    return dict(sorted(codes.items()))


@dataclass(frozen=True)
class Checked:
    """The findings for one file, and the text of every file they point into."""

    diagnostics: tuple[Diagnostic, ...]
    sources: dict[str, str]


def check_path(path: str | Path, config: Config | None = None) -> list[Diagnostic]:
    """Every finding for a .seq file, syntax errors and import errors included, by position.

    Settings are discovered from the file's folder unless given. OSError and
    UnicodeDecodeError propagate: an unreadable file has no findings to give.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    settings = config if config is not None else discover(path)
    return list(check_source(text, display_path(path), settings).diagnostics)


def check_source(text: str, path: str, config: Config) -> Checked:
    """Check `text` as the module at `path` (imports resolve relative to it)."""
    try:
        program = load_text(text, path)
    except SeqSyntaxError as err:
        return Checked(tuple(err.diagnostics), {path: text})
    return Checked(tuple(check_program(program, config)), dict(program.sources))


def check_program(program: Program, config: Config) -> list[Diagnostic]:
    """The findings for the program's root module, settings and suppressions applied."""
    # As in the parser: what the rules build (graphs, sets, findings) is acyclic, so the cycle
    # collector would find next to nothing, yet it would rescan the whole IR every few
    # thousand allocations. Pausing it keeps a large file's check linear; any cycle a rule
    # does make is collected once it runs again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _check_program(program, config)
    finally:
        if collecting:
            gc.enable()


def _check_program(program: Program, config: Config) -> list[Diagnostic]:
    module = program.root
    graphs: dict[str, StepGraph] = {}
    for seq in module.sequences:
        if seq.name not in graphs:
            graphs[seq.name] = lower(seq)
    ctx = RuleContext(program, module, program.scope(module), graphs)
    for found in all_rules().values():
        if config.level(found.code, found.severity, module.path) != OFF:
            ctx.rule = found
            found.check(ctx)
    shown = _apply_levels([*program.diagnostics, *ctx.found], config)
    kept, unused = _suppress(shown, module, config)
    return sorted([*kept, *unused], key=Diagnostic.sort_key)


def _apply_levels(diagnostics: list[Diagnostic], config: Config) -> list[Diagnostic]:
    out = []
    for diag in diagnostics:
        level = config.level(diag.code, diag.severity, diag.span.file)
        if level != OFF:
            out.append(diag if level == diag.severity else replace(diag, severity=level))
    return out


@dataclass
class _Entry:
    """One code named in a suppression comment."""

    code: str
    span: Span
    used: bool = False


def _suppressions(module: Module) -> dict[int, list[_Entry]]:
    """Line -> the codes its `# seq: ignore[...]` comment names."""
    by_line: dict[int, list[_Entry]] = {}
    for comment in module.comments:
        found = _SUPPRESSION.search(comment.text)
        if found is None:
            continue
        start = comment.span.column + found.start(1)
        for code in _CODE.finditer(found.group(1)):
            line = comment.span.line
            span = Span(module.path, line, start + code.start(), line, start + code.end())
            by_line.setdefault(line, []).append(_Entry(code.group().upper(), span))
    return by_line


def _suppress(diagnostics: list[Diagnostic], module: Module, config: Config
              ) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """Findings the comments leave, and the SEQ090 reports for codes that silenced nothing."""
    by_line = _suppressions(module)
    if not by_line:
        return diagnostics, []
    kept = [d for d in diagnostics if not _silenced(d, module.path, by_line)]
    level = config.level(UNUSED_SUPPRESSION, WARNING, module.path)
    if level == OFF:
        return kept, []
    known = known_codes()
    unused = []
    for entries in by_line.values():
        for entry in entries:
            if entry.used or entry.code == UNUSED_SUPPRESSION:
                continue
            if entry.code not in known:
                unused.append(Diagnostic(
                    UNUSED_SUPPRESSION, level, f"`{entry.code}` is not a seqlang code",
                    entry.span, "codes look like SEQ020; `seqlang rule` lists them"))
            elif entry.code == SYNTAX:
                unused.append(Diagnostic(
                    UNUSED_SUPPRESSION, level, "SEQ001 cannot be silenced: a file with syntax "
                    "errors has not been checked", entry.span, "fix the syntax error instead"))
            elif config.level(entry.code, known[entry.code].severity, module.path) != OFF:
                unused.append(Diagnostic(
                    UNUSED_SUPPRESSION, level,
                    f"`# seq: ignore[{entry.code}]` silences nothing on this line",
                    entry.span, f"remove {entry.code} from the comment"))
    return kept, [d for d in unused if not _silenced(d, module.path, by_line)]


def _silenced(diag: Diagnostic, path: str, by_line: dict[int, list[_Entry]]) -> bool:
    if diag.code == SYNTAX or diag.span.file != path:
        return False
    for entry in by_line.get(diag.span.line, ()):
        if entry.code == diag.code:
            entry.used = True
            return True
    return False
