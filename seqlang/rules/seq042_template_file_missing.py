"""SEQ042: a `file "path"` that names no readable file; the email could never be sent."""

from __future__ import annotations

from ..diagnostics import ERROR
from ..templates import declared_parts, load, path_span, template_path
from . import RuleContext, rule


@rule("SEQ042", "template-file-missing", ERROR, "template file not found")
def check(ctx: RuleContext) -> None:
    for part in declared_parts(ctx.module):
        if not part.is_file:
            continue
        loaded = load(part, ctx.program)
        if loaded.read_error is None:
            continue
        ctx.report(
            path_span(part, ctx.program),
            f'template file "{part.value.text}" {loaded.read_error}',
            f"looked for {template_path(part)}; a path is relative to the .seq file naming it",
        )
