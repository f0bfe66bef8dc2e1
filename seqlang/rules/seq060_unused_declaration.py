"""SEQ060: a template, schedule or import that nothing uses.

Templates and schedules are reported only in a module that declares a
sequence: a module without one is a library, whose declarations exist for the
modules that import it (stdlib/schedules.seq is one).

An import is unused when none of the names it brings is used: its templates
(`email NAME`), its schedules (`send on NAME`) and its contact fields. A field
counts as used when a condition or `timezone contact.FIELD` names it, or when
this module's inline email text mentions `contact.FIELD`; a module that takes
any text from a file (`body file "..."`) is taken to use every field, since
this rule does not read template files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .. import nodes as n
from ..diagnostics import WARNING
from . import RuleContext, rule
from .flow import flow
from .sites import atoms, name_span

_FIELD_IN_TEXT = re.compile(r"\bcontact\s*\.\s*([A-Za-z_]\w*)")


@dataclass
class _Uses:
    """Names the module's sequences use; `fields` is None when file text may use any field."""

    templates: set[str] = field(default_factory=set)
    schedules: set[str] = field(default_factory=set)
    fields: set[str] | None = field(default_factory=set)


@rule("SEQ060", "unused-declaration", WARNING, "a template, schedule or import that is not used")
def check(ctx: RuleContext) -> None:
    uses = _uses(ctx)
    if ctx.module.sequences:
        for decl in ctx.module.templates:
            if decl.name not in uses.templates:
                ctx.report(name_span(ctx.source, decl), f"template `{decl.name}` is never used",
                           f"send it with `email {decl.name}`, or remove it")
        for decl in ctx.module.schedules:
            if decl.name not in uses.schedules:
                ctx.report(name_span(ctx.source, decl), f"schedule `{decl.name}` is never used",
                           f"use it with `send on {decl.name}`, or remove it")
    for imp, path in ctx.program.edges.get(ctx.module.path, []):
        module = ctx.program.modules.get(path) if path is not None else None
        if module is None:
            continue  # SEQ012
        provides_used = (
            any(t.name in uses.templates for t in module.templates)
            or any(s.name in uses.schedules for s in module.schedules)
            or any(uses.fields is None or f.name in uses.fields
                   for c in module.of(n.Contact) for f in c.fields)
        )
        if not provides_used:
            ctx.report(imp.span, f'nothing that "{imp.path}" declares is used here',
                       "remove the import")


def _uses(ctx: RuleContext) -> _Uses:
    uses = _Uses()
    bodies = [t.body for t in ctx.module.templates]
    for seq, graph in ctx.sequences():
        for setting in seq.settings:
            if isinstance(setting, n.SendOn):
                uses.schedules.add(setting.schedule.name)
            elif isinstance(setting, n.Timezone) and setting.field is not None:
                _add_fields(uses, [setting.field.name])
        for site in flow(graph).sites:
            _add_fields(uses, (a.field.name for a, _ in atoms(site.cond)
                               if isinstance(a, n.FieldCond)))
        for _, step in flow(graph).steps:
            if isinstance(step, n.EmailStep):
                if step.template is not None:
                    uses.templates.add(step.template.name)
                if step.body is not None:
                    bodies.append(step.body)
    for text in _texts(bodies):
        if text.file:
            uses.fields = None
        else:
            _add_fields(uses, _FIELD_IN_TEXT.findall(text.text))
    return uses


def _add_fields(uses: _Uses, names: Iterable[str]) -> None:
    if uses.fields is not None:
        uses.fields.update(names)


def _texts(bodies: list[n.EmailBody]) -> Iterator[n.TextValue]:
    for body in bodies:
        for item in body.items:
            fields = item.fields if isinstance(item, n.Variant) else (item,)
            yield from (f.value for f in fields)
