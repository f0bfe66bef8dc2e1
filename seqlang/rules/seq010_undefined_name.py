"""SEQ010: a name that points at nothing.

Labels are looked up in their own sequence; templates, schedules and contact
fields in the module and the modules it imports directly (the loader's scope).
An event condition or `reply to` must name an email step: naming a `wait` is
as undefined, for that purpose, as naming nothing.

"Did you mean" hints compare the name with every known one, so only the first
SUGGESTIONS findings of a module get one: a file with hundreds of undefined
names is broken wholesale, and comparing each with thousands of labels would
make this rule quadratic.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from .. import nodes as n
from ..diagnostics import ERROR
from ..graph import StepGraph
from . import RuleContext, rule
from .flow import flow
from .sites import atoms

ALWAYS_FIELDS = ("email",)
SUGGESTIONS = 20


@rule("SEQ010", "undefined-name", ERROR,
      "a label, template, schedule or contact field that is not declared")
def check(ctx: RuleContext) -> None:
    names = _Names(ctx)
    for seq, graph in ctx.sequences():
        for setting in seq.settings:
            if isinstance(setting, n.SendOn):
                names.schedule(setting.schedule)
            elif isinstance(setting, n.Timezone) and setting.field is not None:
                names.field(setting.field)
        for site in flow(graph).sites:
            for atom, _ in atoms(site.cond):
                if isinstance(atom, n.FieldCond):
                    names.field(atom.field)
                elif atom.step is not None:
                    names.email_label(graph, atom.step, f"`{atom.kind}`")
        for _, step in flow(graph).steps:
            if isinstance(step, n.Goto):
                names.label(graph, step.target)
            elif isinstance(step, n.EmailStep):
                if step.template is not None:
                    names.template(step.template)
                if step.reply_to is not None:
                    names.email_label(graph, step.reply_to, "`reply to`")


class _Names:
    def __init__(self, ctx: RuleContext):
        self.ctx = ctx
        self.fields = {*ctx.scope.fields, *ALWAYS_FIELDS}
        self.suggestions = SUGGESTIONS
        edges = ctx.program.edges.get(ctx.module.path, [])
        self.import_failed = any(path is None for _, path in edges)

    def label(self, graph: StepGraph, ref: n.Ref) -> None:
        labels = graph.graph.graph["labels"]
        if ref.name not in labels:
            self.ctx.report(ref.span, f"no step is labelled `{ref.name}` in sequence "
                            f"`{graph.sequence.name}`", self._suggest(ref.name, labels)
                            or f"label the step to go to: `{ref.name}: ...`")

    def email_label(self, graph: StepGraph, ref: n.Ref, used_by: str) -> None:
        node = graph.label_node(ref.name)
        if node is None:
            emails = [name for name, v in graph.graph.graph["labels"].items()
                      if isinstance(graph.step(v), n.EmailStep)]
            self.ctx.report(ref.span, f"no email step is labelled `{ref.name}` in sequence "
                            f"`{graph.sequence.name}`", self._suggest(ref.name, emails)
                            or f"{used_by} names an email step by its label: "
                            f"`{ref.name}: email ...`")
        elif not isinstance(graph.step(node), n.EmailStep):
            kind = graph.graph.nodes[node]["kind"]
            self.ctx.report(ref.span, f"`{ref.name}` labels a `{kind}` step, not an email",
                            f"{used_by} needs the label of an email step")

    def template(self, ref: n.Ref) -> None:
        if ref.name not in self.ctx.scope.templates:
            self.ctx.report(ref.span, f"no template is named `{ref.name}`",
                            self._suggest(ref.name, self.ctx.scope.templates)
                            or self._declare(f"declare `template {ref.name} {{ ... }}` or "
                                             "import the module that declares it"))

    def schedule(self, ref: n.Ref) -> None:
        if ref.name not in self.ctx.scope.schedules:
            self.ctx.report(ref.span, f"no schedule is named `{ref.name}`",
                            self._suggest(ref.name, self.ctx.scope.schedules)
                            or self._declare(f"declare `schedule {ref.name} {{ ... }}` or import "
                                             'the module that declares it, e.g. `import '
                                             '"std/schedules"`'))

    def field(self, ref: n.Ref) -> None:
        if ref.name not in self.fields:
            self.ctx.report(ref.span, f"the contact block declares no field `{ref.name}`",
                            self._suggest(ref.name, self.fields)
                            or self._declare(f"declare it: `contact {{ {ref.name}: string? }}`"))

    def _declare(self, hint: str) -> str:
        """A failed import (SEQ012) may be what declares the name: say so."""
        if self.import_failed:
            return hint + "; or it comes from an import that could not be loaded (SEQ012)"
        return hint

    def _suggest(self, name: str, known: Iterable[str]) -> str | None:
        if self.suggestions <= 0:
            return None
        self.suggestions -= 1
        close = difflib.get_close_matches(name, sorted(known), n=1)
        return f"did you mean `{close[0]}`?" if close else None
