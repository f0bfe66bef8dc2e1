"""Where each email's subject, body, text and html come from, and their parsed Jinja.

Every template rule and, later, anything that renders or simulates an email
must agree on which source an email step really sends: a step's own block
overrides the template it names, and a variant overrides both. Keeping that
resolution in one module is what makes the rules agree with the engine.

Layers replace the body as a whole: a layer that gives any of `body`, `text`
or `html` replaces all three from the layer below, because an email has either
one `body` or separate `text`/`html` parts, never a mix of layers' parts.

Template files are read and parsed once per file version (path, mtime, size),
so a file shared by many templates costs one parse however many rules and
emails look at it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from textwrap import dedent

from jinja2 import TemplateSyntaxError
from jinja2 import nodes as jinja
from jinja2.sandbox import ImmutableSandboxedEnvironment

from . import nodes as n
from .graph import StepGraph
from .loader import STD_PREFIX, Program, Scope, display_path, stdlib_path

SUBJECT = "subject"
BODY_KEYS = ("body", "text", "html")
TEMPLATE_KEYS = (SUBJECT, *BODY_KEYS)

_ENV = ImmutableSandboxedEnvironment()


@dataclass(frozen=True, slots=True)
class TemplatePart:
    """One subject/body/text/html field as written in a .seq file."""

    field: n.ContentField

    @property
    def key(self) -> str:
        return self.field.key

    @property
    def value(self) -> n.TextValue:
        return self.field.value

    @property
    def is_file(self) -> bool:
        return self.field.value.file


@dataclass(frozen=True, slots=True)
class EmailVersion:
    """What one cohort of an email step is sent: `variant` is None when there are no variants."""

    variant: str | None
    parts: tuple[TemplatePart, ...]

    def get(self, key: str) -> TemplatePart | None:
        return next((p for p in self.parts if p.key == key), None)

    @property
    def bodies(self) -> tuple[TemplatePart, ...]:
        return tuple(p for p in self.parts if p.key in BODY_KEYS)


@dataclass(frozen=True, slots=True)
class JinjaProblem:
    """A Jinja syntax error: the line is Jinja's, counted within the template source."""

    line: int
    message: str


@dataclass(frozen=True)
class Loaded:
    """A part's template source and its Jinja tree, or why there is none."""

    part: TemplatePart
    file: str | None  # display path of the template file; None for inline text
    text: str | None  # None when the file cannot be read
    tree: jinja.Template | None  # None when unreadable or not valid Jinja
    syntax_error: JinjaProblem | None = None
    read_error: str | None = None


# ---- finding the parts ------------------------------------------------------------


def _content_fields(items: tuple[n.ContentField | n.Variant, ...]) -> Iterator[n.ContentField]:
    for item in items:
        if isinstance(item, n.Variant):
            yield from item.fields
        else:
            yield item


def declared_parts(module: n.Module) -> Iterator[TemplatePart]:
    """Every template part written in this module, each once, in source order."""
    for decl in module.decls:
        bodies: list[n.EmailBody] = []
        if isinstance(decl, n.Template):
            bodies.append(decl.body)
        elif isinstance(decl, n.Sequence):
            bodies.extend(s.body for s in n.walk_steps(decl.steps)
                          if isinstance(s, n.EmailStep) and s.body is not None)
        for body in bodies:
            for fld in _content_fields(body.items):
                if fld.key in TEMPLATE_KEYS:
                    yield TemplatePart(fld)


def _layer(fields: tuple[n.ContentField, ...]) -> dict[str, n.ContentField]:
    """A layer's parts by key; the first field of a key wins, as in `EmailBody.get`."""
    out: dict[str, n.ContentField] = {}
    for fld in fields:
        if fld.key in TEMPLATE_KEYS:
            out.setdefault(fld.key, fld)
    return out


def _overlay(below: dict[str, n.ContentField], above: dict[str, n.ContentField]
             ) -> dict[str, n.ContentField]:
    merged = dict(below)
    if any(k in above for k in BODY_KEYS):
        for key in BODY_KEYS:
            merged.pop(key, None)
    merged.update(above)
    return merged


def email_versions(step: n.EmailStep, scope: Scope, graph: StepGraph | None = None
                   ) -> tuple[EmailVersion, ...]:
    """The parts each cohort of `step` is sent, one version per variant.

    A `reply to L` email without its own subject is sent L's subject (prefixed
    `Re:` by the engine); `graph` finds L. An unknown template name contributes
    nothing: that is an undefined-name finding, not a template one.
    """
    return _versions(step, scope, graph, frozenset())


def _versions(step: n.EmailStep, scope: Scope, graph: StepGraph | None,
              replying: frozenset[int]) -> tuple[EmailVersion, ...]:
    template = scope.templates.get(step.template.name) if step.template is not None else None
    layers: list[n.EmailBody] = [b for b in (template.body if template else None, step.body)
                                 if b is not None]
    base: dict[str, n.ContentField] = {}
    for body in layers:
        base = _overlay(base, _layer(body.fields))
    if SUBJECT not in base and step.reply_to is not None and graph is not None:
        inherited = _replied_subject(step, scope, graph, replying | {id(step)})
        if inherited is not None:
            base[SUBJECT] = inherited.field
    variants = next((b.variants for b in reversed(layers) if b.variants), ())
    if not variants:
        return (EmailVersion(None, _ordered(base)),)
    return tuple(EmailVersion(v.name, _ordered(_overlay(base, _layer(v.fields))))
                 for v in variants)


def _replied_subject(step: n.EmailStep, scope: Scope, graph: StepGraph,
                     replying: frozenset[int]) -> TemplatePart | None:
    """The subject of the email `step` replies to; None in a cycle of replies (SEQ024's)."""
    assert step.reply_to is not None
    node = graph.label_node(step.reply_to.name)
    target = graph.step(node) if node is not None else None
    if not isinstance(target, n.EmailStep) or id(target) in replying:
        return None
    return _versions(target, scope, graph, replying)[0].get(SUBJECT)


def _ordered(fields: dict[str, n.ContentField]) -> tuple[TemplatePart, ...]:
    return tuple(TemplatePart(fields[k]) for k in TEMPLATE_KEYS if k in fields)


# ---- reading and parsing ------------------------------------------------------------


def template_path(part: TemplatePart) -> Path:
    """A `file "path"` is relative to the .seq file whose text names it."""
    declared_in = part.value.span.file
    if declared_in.startswith(STD_PREFIX):
        base = stdlib_path(declared_in.removeprefix(STD_PREFIX)).parent
    else:
        base = Path(declared_in).parent
    return base / part.value.text


@lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[jinja.Template | None, JinjaProblem | None]:
    try:
        return _ENV.parse(text), None
    except TemplateSyntaxError as exc:
        message = " ".join((exc.message or str(exc)).split())
        return None, JinjaProblem(exc.lineno or 1, message)


@lru_cache(maxsize=512)
def _read(path: Path, mtime_ns: int, size: int) -> str:
    """Keyed by mtime and size, so an edited file is read again and an unchanged one never."""
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=512)
def _shown(path: Path, cwd: Path) -> str:
    """The loader's name for a file (it depends on the working directory, hence the key)."""
    return display_path(path)


def load(part: TemplatePart, program: Program) -> Loaded:
    """The part's source and tree; a template file's text joins `program.sources`.

    Registering the file's text lets a finding inside the template show its
    source line like a finding in the .seq file does.
    """
    if not part.is_file:
        tree, problem = _parse(part.value.text)
        return Loaded(part, None, part.value.text, tree, problem)
    path = template_path(part).absolute()
    shown = _shown(path, Path.cwd())
    try:
        stat = path.stat()
        text = _read(path, stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError:
        return Loaded(part, shown, None, None, read_error="not found")
    except IsADirectoryError:
        return Loaded(part, shown, None, None, read_error="is a directory, not a file")
    except (OSError, UnicodeDecodeError) as exc:
        return Loaded(part, shown, None, None, read_error=f"cannot be read: {exc}")
    program.sources.setdefault(shown, text)
    tree, problem = _parse(text)
    return Loaded(part, shown, text, tree, problem)


# ---- positions inside templates -----------------------------------------------------


def _token_text(value: n.TextValue, program: Program) -> str | None:
    """The literal as written in the .seq file (quotes and escapes included)."""
    source = program.sources.get(value.span.file)
    if source is None:
        return None
    lines = source.split("\n")
    s = value.span
    if not 1 <= s.line <= s.end_line <= len(lines):
        return None
    chunk = lines[s.line - 1:s.end_line]
    chunk[-1] = chunk[-1][:s.end_column - 1]
    chunk[0] = chunk[0][s.column - 1:]
    return "\n".join(chunk)


def _plain_positions(raw: str, line: int, column: int) -> list[tuple[int, int]]:
    """The .seq position of each character of a `"..."` string's value, and of its end."""
    out = []
    i = 1
    while i < len(raw) - 1:
        out.append((line, column + i))
        i += 2 if raw[i] == "\\" else 1
    out.append((line, column + len(raw) - 1))
    return out


def _long_positions(raw: str, line: int, column: int) -> list[tuple[int, int]]:
    """As `_plain_positions`, for a `\"\"\"...\"\"\"` string (see the parser's dedent)."""
    body = raw[3:-3]
    first_line, first_col = line, column + 3
    if body.startswith("\n"):
        body = body[1:]
        first_line, first_col = line + 1, 1
    raw_lines = body.split("\n")
    kept = dedent(body).split("\n")
    out = []
    for i, (before, after) in enumerate(zip(raw_lines, kept, strict=True)):
        start = (first_col if i == 0 else 1) + len(before) - len(after)
        out.extend((first_line + i, start + j) for j in range(len(after) + 1))
    return out


def _seq_position(part: TemplatePart, program: Program, line: int, column: int
                  ) -> tuple[int, int]:
    """Where template line/column (1-based) of an inline part lies in the .seq file."""
    s = part.value.span
    raw = _token_text(part.value, program)
    if raw is None:
        return s.line, s.column
    if raw.startswith('"""'):
        positions = _long_positions(raw, s.line, s.column)
    else:
        positions = _plain_positions(raw, s.line, s.column)
    lines = part.value.text.split("\n")
    line = min(max(line, 1), len(lines))
    index = sum(len(x) + 1 for x in lines[:line - 1]) + min(column - 1, len(lines[line - 1]))
    return positions[min(index, len(positions) - 1)]


def part_span(loaded: Loaded, program: Program, line: int, column: int, width: int) -> n.Span:
    """A span inside the template: in the template file, or inside the .seq string literal."""
    if loaded.file is not None:
        return n.Span(loaded.file, line, column, line, column + width)
    start = _seq_position(loaded.part, program, line, column)
    end = _seq_position(loaded.part, program, line, column + width)
    if end[0] != start[0] or end[1] <= start[1]:
        end = (start[0], start[1] + 1)
    return n.Span(loaded.part.value.span.file, *start, *end)


def line_span(loaded: Loaded, program: Program, line: int) -> n.Span:
    """The whole of one template line, for findings Jinja places by line only."""
    text = loaded.text or ""
    lines = text.split("\n")
    width = len(lines[line - 1]) if 1 <= line <= len(lines) else 0
    return part_span(loaded, program, line, 1, max(width, 1))


def path_span(part: TemplatePart, program: Program) -> n.Span:
    """The path string of `file "path"` (the part's own span starts at `file`)."""
    s = part.value.span
    raw = _token_text(part.value, program)
    if raw is None or s.line != s.end_line or '"' not in raw:
        return s
    return n.Span(s.file, s.line, s.column + raw.index('"'), s.end_line, s.end_column)
