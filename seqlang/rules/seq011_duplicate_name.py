"""SEQ011: a label, a declaration, a sequence setting or a contact block given twice.

Templates, schedules, sequences and contact fields each form one namespace
across a module and the modules it imports, because a name that means two
things would make `email welcome` depend on declaration order. Names are taken
in the order the loader's scope resolves them, the module's own declarations
first and then each import's; every later meaning is reported where it is
written: at the declaration in this module, or at the `import` that brings it.
Labels are unique within their sequence.

Two more things exist once and are easy to write twice:

* A sequence setting (`name`, `from`, `timezone`, `send on`, `track`, `exit
  when`). The first one is the one used (`Sequence.setting`), so a second one
  is silently ignored, which is never what its author meant. Each later one is
  reported, underlined whole when it fits on one line (else at its keyword),
  with a hint that says how to say both things in one setting where the
  language can (`track opens, clicks`, `exit when A or B`). The two forms of
  `timezone` are one setting.
* A module's `contact` block. The fields of every block join, as the fields of
  an import's block do, but a reader of one block cannot tell what the module
  declares; the second block is reported at its keyword. Fields declared in
  both are reported as duplicate fields on top of that.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import nodes as n
from ..diagnostics import ERROR
from ..graph import StepGraph
from . import RuleContext, rule
from .flow import flow
from .sites import find, name_span

_KINDS = {n.Template: "template", n.Schedule: "schedule", n.Sequence: "sequence"}
_SETTINGS: dict[type, tuple[str, str]] = {  # setting -> (its keyword, the finding's hint)
    n.DisplayName: ("name", "a sequence has one display name; remove one of the two"),
    n.Sender: ("from", "a sequence sends from one mailbox; remove one of the two (an email "
               "may give its own `from`)"),
    n.Timezone: ("timezone", "remove one of the two; `timezone contact.FIELD default \"Zone\"` "
                 "takes the contact's zone with a fallback"),
    n.SendOn: ("send on", "a sequence sends on one schedule; remove one of the two, or declare "
               "one schedule with every open day and hour"),
    n.Track: ("track", "list everything to track in one setting: `track opens, clicks`"),
    n.ExitWhen: ("exit when", "join the conditions in one setting: `exit when A or B`"),
}


@rule("SEQ011", "duplicate-name", ERROR,
      "a label, declaration, sequence setting or contact block that is given twice")
def check(ctx: RuleContext) -> None:
    first: dict[tuple[str, str], tuple[str, int]] = {}  # (kind, name) -> (module path, line)
    for decl in ctx.module.decls:
        for kind, name, span, line in _declared(decl, ctx.source):
            key = (kind, name)
            if key in first:
                ctx.report(span, f"{kind} `{name}` is already declared {_at(first[key], ctx)}",
                           "rename one of them, or remove this one")
            else:
                first[key] = (ctx.module.path, line)
    imported: dict[str, int] = {}
    for imp, path in ctx.program.edges.get(ctx.module.path, []):
        if path is None or path not in ctx.program.modules:
            continue
        if path in imported:
            ctx.report(imp.span, f'"{imp.path}" is already imported on line {imported[path]}',
                       "remove this import")
            continue
        imported[path] = imp.span.line
        _imported(ctx, imp, ctx.program.modules[path], first)
    _contact_blocks(ctx)
    for seq, graph in ctx.sequences():
        _settings(ctx, seq)
        _labels(ctx, seq, graph)


def _declared(decl: n.Decl, source: str) -> Iterator[tuple[str, str, n.Span, int]]:
    """(kind, name, span of the name, line) of each name a declaration introduces."""
    if isinstance(decl, n.Template | n.Schedule | n.Sequence):
        yield _KINDS[type(decl)], decl.name, name_span(source, decl), decl.span.line
    elif isinstance(decl, n.Contact):
        for fld in decl.fields:
            start = fld.span
            name = n.Span(start.file, start.line, start.column, start.line,
                          start.column + len(fld.name))
            yield "contact field", fld.name, name, start.line


def _imported(ctx: RuleContext, imp: n.Import, module: n.Module,
              first: dict[tuple[str, str], tuple[str, int]]) -> None:
    """Names the import brings that the module or an earlier import already declares."""
    clashes = []
    source = ctx.program.sources.get(module.path, "")
    for decl in module.decls:
        for kind, name, _, line in _declared(decl, source):
            key = (kind, name)
            if key in first:
                clashes.append(f"{kind} `{name}` (already declared {_at(first[key], ctx)})")
            else:
                first[key] = (module.path, line)
    if clashes:
        shown = "; ".join(clashes[:3]) + (f"; and {len(clashes) - 3} more" if len(clashes) > 3
                                          else "")
        ctx.report(imp.span, f'"{imp.path}" declares names this module already has: {shown}',
                   "rename the names on one side, or remove the duplicate declarations")


def _at(where: tuple[str, int], ctx: RuleContext) -> str:
    path, line = where
    return f"on line {line}" if path == ctx.module.path else f"in {path} on line {line}"


def _labels(ctx: RuleContext, seq: n.Sequence, graph: StepGraph) -> None:
    seen: dict[str, int] = {}
    for _, step in flow(graph).steps:
        if step.label is None:
            continue
        if step.label.name in seen:
            ctx.report(step.label.span,
                       f"label `{step.label.name}` is already used on line "
                       f"{seen[step.label.name]} of sequence `{seq.name}`",
                       "labels name one step each; rename this one")
        else:
            seen[step.label.name] = step.label.span.line


def _contact_blocks(ctx: RuleContext) -> None:
    blocks = ctx.module.of(n.Contact)
    for block in blocks[1:]:
        line = blocks[0].span.line
        ctx.report(find(ctx.source, block.span, r"contact\b") or block.span,
                   f"this module already has a contact block, on line {line}",
                   f"move these fields into the contact block on line {line}: a module has one")


def _settings(ctx: RuleContext, seq: n.Sequence) -> None:
    seen: dict[type, n.Setting] = {}
    for setting in seq.settings:
        first = seen.setdefault(type(setting), setting)
        if first is setting:
            continue
        keyword, hint = _SETTINGS[type(setting)]
        ctx.report(_setting_span(ctx.source, setting, keyword),
                   f"`{keyword}` is already set on line {first.span.line} of sequence "
                   f"`{seq.name}`: this one is ignored", hint)


def _setting_span(source: str, setting: n.Setting, keyword: str) -> n.Span:
    """The whole setting when it is one line, else its keyword (an `exit when` condition
    may run over several lines)."""
    span = setting.span
    if span.line == span.end_line:
        return span
    return find(source, span, keyword.replace(" ", r"\s+")) or span
