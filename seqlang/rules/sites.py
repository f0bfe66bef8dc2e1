"""Where in a module a rule points, and how it shows what it found.

The IR keeps a span per node, but some findings are about a part of a node
that has no node of its own: a declaration's name, the time zone string of a
`timezone` setting, the first line of a multi-line `if`. Underlining the whole
declaration would bury the point, so these helpers find the part in the
module's text, starting at the node's span. The rest names conditions, steps
and durations in messages the way the user wrote them.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from functools import lru_cache
from itertools import accumulate

from .. import nodes as n
from ..graph import StepGraph, step_kind

STRING = r'"(?:[^"\\\n]|\\.)*"'


# ---- positions in the text ------------------------------------------------------


@lru_cache(maxsize=16)
def _line_starts(source: str) -> tuple[int, ...]:
    return (0, *accumulate(len(line) + 1 for line in source.split("\n")[:-1]))


def _offset(source: str, line: int, column: int) -> int:
    starts = _line_starts(source)
    return starts[line - 1] + column - 1 if 1 <= line <= len(starts) else len(source)


def _position(source: str, offset: int) -> tuple[int, int]:
    starts = _line_starts(source)
    line = bisect_right(starts, offset)
    return line, offset - starts[line - 1] + 1


def _span_of(source: str, file: str, start: int, end: int) -> n.Span:
    """The span of `source[start:end]`."""
    line, column = _position(source, start)
    end_line, end_column = _position(source, end)
    return n.Span(file, line, column, end_line, end_column)


def find(source: str, span: n.Span, pattern: str) -> n.Span | None:
    """The span of `pattern`'s first group (or whole match) matched where `span` starts."""
    start = _offset(source, span.line, span.column)
    found = re.compile(pattern).match(source, start)
    if found is None:
        return None
    group = 1 if found.re.groups else 0
    return _span_of(source, span.file, found.start(group), found.end(group))


def find_all(source: str, span: n.Span, pattern: str) -> list[n.Span]:
    """Spans of every match of `pattern` inside `span`."""
    start = _offset(source, span.line, span.column)
    end = _offset(source, span.end_line, span.end_column)
    return [_span_of(source, span.file, m.start(), m.end())
            for m in re.compile(pattern).finditer(source, start, end)]


def name_span(source: str, decl: n.Schedule | n.Template | n.Sequence) -> n.Span:
    """The name after `schedule`, `template` or `sequence`."""
    keyword = {n.Schedule: "schedule", n.Template: "template", n.Sequence: "sequence"}[type(decl)]
    return find(source, decl.span, rf"{keyword}\s+([A-Za-z_]\w*)") or decl.span


def _first_line(span: n.Span, source: str) -> n.Span:
    """`span` cut at the end of its first line, trailing `{` and blanks left out."""
    if span.line == span.end_line:
        return span
    start = _offset(source, span.line, span.column)
    line_end = source.find("\n", start)
    text = source[start:line_end if line_end >= 0 else len(source)]
    kept = len(re.sub(r"\s*(#.*)?$", "", text).removesuffix("{").rstrip())
    return n.Span(span.file, span.line, span.column, span.line, span.column + max(kept, 1))


def step_head(step: n.Step, source: str) -> n.Span:
    """What to underline for a finding about a whole step: its label and keyword, with the
    condition of an `if` or the names of an `email`, but not the blocks nested in it."""
    if step.span.line == step.span.end_line:
        return step.span
    if isinstance(step, n.If):
        last = step.within or step.branches[0].cond
        return _from_start(step.span, last.span)
    names = (step.reply_to or step.template) if isinstance(step, n.EmailStep) else None
    if names is not None:
        return _from_start(step.span, names.span)
    keyword = _keyword(step)
    label = r"[A-Za-z_]\w*\s*:\s*" if step.label is not None else ""
    found = find(source, step.span, rf"({label}{keyword})\b")
    return found or _first_line(step.span, source)


def _from_start(span: n.Span, last: n.Span) -> n.Span:
    return n.Span(span.file, span.line, span.column, last.end_line, last.end_column)


# ---- conditions ---------------------------------------------------------------------


def atoms(cond: n.Cond, negation: n.Not | None = None
          ) -> Iterator[tuple[n.EventCond | n.FieldCond, n.Not | None]]:
    """Every event and field test in a condition, with the `not` that negates it: the
    nearest of an odd number of `not`s around it, or None when the test counts as written
    (a negated test is true exactly when the test is false)."""
    if isinstance(cond, n.And | n.Or):
        for operand in cond.operands:
            yield from atoms(operand, negation)
    elif isinstance(cond, n.Not):
        yield from atoms(cond.operand, cond if negation is None else None)
    else:
        yield cond, negation


def negated(atom: n.EventCond, negation: n.Not) -> tuple[n.Span, str]:
    """Where and how to show a negated test: `not opened(a)` when the `not` applies to it
    directly, else the test alone, said to be under a `not`."""
    if negation.operand is atom:
        return negation.span, f"`not {show_cond(atom)}`"
    return atom.span, f"`{show_cond(atom)}` under a `not`"


def show_cond(cond: n.EventCond) -> str:
    """An event test as the user wrote it, for messages."""
    if cond.step is None:
        return cond.kind
    url = f', "{cond.url}"' if cond.url is not None else ""
    return f"{cond.kind}({cond.step.name}{url})"


def describe(graph: StepGraph, node: str) -> str:
    """A step as a person finds it in the file: its label, or its kind and line."""
    step = graph.step(node)
    if step.label is not None and graph.label_node(step.label.name) == node:
        return step.label.name
    return f"{_keyword(step)} (line {step.span.line})"


_UNIT_WORDS = {"business_day": "business day", "business_hour": "business hour"}


def show_duration(duration: n.Duration) -> str:
    unit = _UNIT_WORDS.get(duration.unit, duration.unit)
    return f"{duration.amount} {unit}{'' if abs(duration.amount) == 1 else 's'}"


def text_at(source: str, span: n.Span) -> str:
    """The text a span covers, as written."""
    return source[_offset(source, span.line, span.column):
                  _offset(source, span.end_line, span.end_column)]


def _keyword(step: n.Step) -> str:
    """The word a step starts with: its graph kind up to the first `-` (`wait-until` is `wait`)."""
    return step_kind(step).partition("-")[0]
