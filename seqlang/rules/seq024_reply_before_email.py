"""SEQ024: `email reply to L` where L may not have been sent yet.

A reply goes in L's thread (its message id, `In-Reply-To`, `Re:` subject), so L
must dominate the replying step: every path from the start to it passes
through L first. An email cannot reply to itself, even inside a loop: its
first run has no thread to join.
"""

from __future__ import annotations

from .. import nodes as n
from ..diagnostics import ERROR
from . import RuleContext, rule
from .flow import flow


@rule("SEQ024", "reply-before-email", ERROR,
      "`reply to L` where L does not run before it on every path")
def check(ctx: RuleContext) -> None:
    for _, graph in ctx.sequences():
        facts = flow(graph)
        for node in graph.step_nodes():
            step = graph.step(node)
            if not isinstance(step, n.EmailStep) or step.reply_to is None:
                continue
            label = step.reply_to.name
            target = graph.label_node(label)
            if target is None or not isinstance(graph.step(target), n.EmailStep):
                continue  # SEQ010
            if node not in facts.reachable:
                continue  # SEQ020
            if target == node:
                ctx.report(step.reply_to.span, f"`{label}` replies to itself: its first send "
                           "has no thread to reply in", "reply to an email sent before this one")
            elif not facts.dominates(target, node):
                ctx.report(step.reply_to.span,
                           f"`reply to {label}` where email `{label}` may not have been sent: "
                           "not every path to this step passes through it",
                           f"reply to an email that is sent on every path before this one, or "
                           f"move this step into the block that sends `{label}`")
