"""SEQ023: `opened(L)`, `clicked(L)` or `replied(L)` where email L may not have been sent.

In an `if`, the email step L must dominate the `if` (every path from the start
to it passes through L); otherwise some enrollments test an email they never
received, and the test is silently false.

`exit when` is different: it is not evaluated at one place but before every
step and on every event, so L never dominates it. A positive test there is a
standing watch, false until L is sent and then true once the contact acts on
it; that is the meaning a user wants (`exit when clicked(pitch, "https://cal")`)
and is not reported. A test under an odd number of `not`s is reported: it is
true before L is sent, so the enrollment would exit at its first step.
An `if` no path reaches is left to SEQ020.
"""

from __future__ import annotations

from .. import nodes as n
from ..diagnostics import ERROR
from . import RuleContext, rule
from .flow import flow
from .sites import atoms, negated, show_cond


@rule("SEQ023", "condition-before-email", ERROR,
      "`opened`/`clicked`/`replied(L)` where L does not run before it on every path")
def check(ctx: RuleContext) -> None:
    for _, graph in ctx.sequences():
        facts = flow(graph)
        for site in flow(graph).sites:
            if site.node is not None and site.node not in facts.reachable:
                continue
            for atom, negation in atoms(site.cond):
                if not isinstance(atom, n.EventCond) or atom.step is None:
                    continue
                label = atom.step.name
                email = graph.label_node(label)
                if email is None or not isinstance(graph.step(email), n.EmailStep):
                    continue  # SEQ010
                if site.node is None:
                    if negation is not None:
                        span, shown = negated(atom, negation)
                        ctx.report(span, f"{shown} in `exit when` is true before `{label}` "
                                   "is sent, so every enrollment exits at its first step",
                                   f"test it in an `if` after `{label}` instead")
                elif not facts.dominates(email, site.node):
                    ctx.report(atom.span,
                               f"`{show_cond(atom)}` is tested where email `{label}` may not "
                               "have been sent: not every path to this `if` passes through it",
                               f"move the `if` after `{label}` on every path, or into the "
                               f"block that sends `{label}`")
