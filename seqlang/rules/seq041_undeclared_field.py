"""SEQ041: a template reading a contact field that may not exist.

The engine renders strictly: a field the contact block never declares, or an
optional one that this contact lacks, stops the email at send time instead of
printing a blank.

A library module (no sequence, no contact block: `stdlib/templates.seq`) cannot
know its importers' fields, and cannot declare them either without clashing
with every importer's contact block. There a field is fine when it has a
default, and a field without one is the finding.
"""

from __future__ import annotations

import difflib

from ..diagnostics import WARNING
from ..loader import Scope
from ..nodes import Span
from ..template_refs import FieldUse, field_column, field_uses
from ..templates import Loaded, declared_parts, load, part_span
from . import RuleContext, rule

ALWAYS_PRESENT = "email"


@rule("SEQ041", "undeclared-field", WARNING,
      "template uses an undeclared contact field, or an optional one without a default")
def check(ctx: RuleContext) -> None:
    reported: set[tuple[Span, str]] = set()
    library = not ctx.scope.fields and not ctx.module.sequences
    for part in declared_parts(ctx.module):
        loaded = load(part, ctx.program)
        if loaded.tree is None:
            continue
        for use in field_uses(loaded.tree):
            finding = _library_finding(use) if library else _finding(use, ctx.scope)
            if finding is None:
                continue
            span = _use_span(loaded, ctx, use)
            if (span, use.name) in reported:
                continue
            reported.add((span, use.name))
            ctx.report(span, *finding)


def _library_finding(use: FieldUse) -> tuple[str, str] | None:
    if use.name == ALWAYS_PRESENT or use.guarded:
        return None
    hint = f"write `{{{{ contact.{use.name} | default(\"...\") }}}}`"
    return (f"`contact.{use.name}` has no default in a library template: importers may not "
            "declare it"), hint


def _finding(use: FieldUse, scope: Scope) -> tuple[str, str] | None:
    if use.name == ALWAYS_PRESENT:
        return None
    declared = scope.fields.get(use.name)
    if declared is None:
        close = difflib.get_close_matches(use.name, [*scope.fields, ALWAYS_PRESENT], n=1)
        if close:
            hint = f"did you mean `contact.{close[0]}`?"
        elif scope.fields:
            hint = f"declare it in the contact block, e.g. `{use.name}: string?`"
        else:
            hint = f"declare the fields templates use: `contact {{ {use.name}: string? }}`"
        return f"`contact.{use.name}` is not declared in the contact block", hint
    if declared.optional and not use.guarded:
        hint = (f"write `{{{{ contact.{use.name} | default(\"...\") }}}}` or wrap the use in "
                f"`{{% if contact.{use.name} is defined %}}`")
        return f"`contact.{use.name}` is optional and used without a default", hint
    return None


def _use_span(loaded: Loaded, ctx: RuleContext, use: FieldUse) -> Span:
    lines = (loaded.text or "").split("\n")
    text = lines[use.line - 1] if 1 <= use.line <= len(lines) else ""
    column, width = field_column(text, use.name)
    return part_span(loaded, ctx.program, use.line, column, width)
