"""SEQ043: an email whose body never offers `unsubscribe_url`.

Bulk-sender rules (CAN-SPAM, Gmail's and Yahoo's) expect a visible way out in
every marketing email; the `List-Unsubscribe` header alone is not enough.
"""

from __future__ import annotations

from .. import nodes as n
from ..diagnostics import WARNING
from ..template_refs import uses_variable
from ..templates import EmailVersion, TemplatePart, email_versions, load
from . import RuleContext, rule

UNSUBSCRIBE = "unsubscribe_url"


@rule("SEQ043", "no-unsubscribe-link", WARNING, "email body has no unsubscribe_url link")
def check(ctx: RuleContext) -> None:
    reported: set[n.Span] = set()
    for seq, graph in ctx.sequences():
        for step in n.walk_steps(seq.steps):
            if not isinstance(step, n.EmailStep):
                continue
            for version in email_versions(step, ctx.scope, graph):
                if not _lacks_link(version, ctx):
                    continue
                span = _where(step, version.bodies[0])
                if span in reported:
                    continue
                reported.add(span)
                which = f"variant {version.variant} of this email" if version.variant else (
                    "this email")
                ctx.report(span, f"{which} has no unsubscribe link in its body",
                           f'add <a href="{{{{ {UNSUBSCRIBE} }}}}">Unsubscribe</a> to '
                           f"{_describe(version.bodies[0])}")


def _lacks_link(version: EmailVersion, ctx: RuleContext) -> bool:
    """True only when every body part was read and parsed and none uses the variable."""
    if not version.bodies:
        return False
    trees = [load(part, ctx.program).tree for part in version.bodies]
    if any(tree is None for tree in trees):
        return False
    return not any(uses_variable(tree, UNSUBSCRIBE) for tree in trees if tree is not None)


def _inside(inner: n.Span, outer: n.Span) -> bool:
    return (inner.file == outer.file
            and (outer.line, outer.column) <= (inner.line, inner.column)
            and (inner.end_line, inner.end_column) <= (outer.end_line, outer.end_column))


def _where(step: n.EmailStep, body: TemplatePart) -> n.Span:
    """The body field when the step writes it, else the template name it comes from."""
    if _inside(body.field.span, step.span):
        return body.field.span
    return step.template.span if step.template is not None else step.span


def _describe(part: TemplatePart) -> str:
    if part.is_file:
        return f'the {part.key} file "{part.value.text}"'
    return f"the {part.key} at {part.field.span.file}:{part.field.span.line}"
