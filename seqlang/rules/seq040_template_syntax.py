"""SEQ040: a template that is not valid Jinja fails every send that uses it."""

from __future__ import annotations

from ..diagnostics import ERROR
from ..nodes import Span
from ..templates import declared_parts, line_span, load
from . import RuleContext, rule


@rule("SEQ040", "template-syntax", ERROR, "Jinja template syntax error")
def check(ctx: RuleContext) -> None:
    reported: set[Span] = set()
    for part in declared_parts(ctx.module):
        loaded = load(part, ctx.program)
        problem = loaded.syntax_error
        if problem is None:
            continue
        span = line_span(loaded, ctx.program, problem.line)
        if span in reported:
            continue
        reported.add(span)
        hint = None
        if loaded.file is not None:
            named = part.value.span
            hint = f"this file is the {part.key} named at {named.file}:{named.line}"
        ctx.report(span, f"Jinja syntax error in the {part.key}: {problem.message}", hint)
