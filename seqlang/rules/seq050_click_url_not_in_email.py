"""SEQ050: `clicked(L, "prefix")` where L's body has no link starting with that prefix.

Such a branch can never be taken, which usually means the URL in the
condition and the URL in the email drifted apart.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import nodes as n
from ..diagnostics import WARNING
from ..graph import StepGraph
from ..template_refs import Link, links
from ..templates import email_versions, load
from . import RuleContext, rule

SHOWN_LINKS = 3


@rule("SEQ050", "click-url-not-in-email", WARNING,
      "clicked(L, url) where no link in L's body starts with url")
def check(ctx: RuleContext) -> None:
    for seq, graph in ctx.sequences():
        for cond in _clicks_with_url(seq):
            assert cond.step is not None and cond.url is not None
            found = _links_of(cond.step.name, graph, ctx)
            if found is None or any(link.may_start_with(cond.url) for link in found):
                continue
            shown = [link.text + ("..." if link.dynamic else "") for link in found[:SHOWN_LINKS]]
            hint = (f"its links: {', '.join(shown)}" if shown
                    else f"`{cond.step.name}` has no links in its body")
            ctx.report(cond.span,
                       f'no link in `{cond.step.name}` starts with "{cond.url}"', hint)


def _event_conds(cond: n.Cond) -> Iterator[n.EventCond]:
    if isinstance(cond, n.EventCond):
        yield cond
    elif isinstance(cond, n.Not):
        yield from _event_conds(cond.operand)
    elif isinstance(cond, n.And | n.Or):
        for operand in cond.operands:
            yield from _event_conds(operand)


def _clicks_with_url(seq: n.Sequence) -> Iterator[n.EventCond]:
    conds: list[n.Cond] = [seq.exit_when]
    for step in n.walk_steps(seq.steps):
        if isinstance(step, n.If):
            conds.extend(branch.cond for branch in step.branches)
    for cond in conds:
        for event in _event_conds(cond):
            if event.kind == "clicked" and event.step is not None and event.url is not None:
                yield event


def _links_of(label: str, graph: StepGraph, ctx: RuleContext) -> list[Link] | None:
    """Links across every version of the email labelled `label`; None when unknowable."""
    node = graph.label_node(label)
    step = graph.step(node) if node is not None else None
    if not isinstance(step, n.EmailStep):
        return None
    found: list[Link] = []
    for version in email_versions(step, ctx.scope, graph):
        for part in version.bodies:
            text = load(part, ctx.program).text
            if text is None:
                return None
            found.extend(links(text))
    return list(dict.fromkeys(found))
