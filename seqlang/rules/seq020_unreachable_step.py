"""SEQ020: a step no enrollment can reach.

Reachability is taken from `<entry>` in the step graph. Only the first step of
each unreachable run is reported: the steps after it (or nested in it) are
unreachable for the same reason, and one finding per cause is what a person
fixes.
"""

from __future__ import annotations

from itertools import pairwise

from .. import nodes as n
from ..diagnostics import WARNING
from ..graph import StepGraph
from . import RuleContext, rule
from .flow import flow
from .sites import step_head


@rule("SEQ020", "unreachable-step", WARNING, "a step that no path from the start reaches")
def check(ctx: RuleContext) -> None:
    for seq, graph in ctx.sequences():
        covered = set(flow(graph).reachable)
        previous: dict[int, n.Step] | None = None
        for node in graph.step_nodes():
            if node in covered:
                continue
            if previous is None:
                previous = _previous_siblings(seq.steps, {})
            step = graph.step(node)
            ctx.report(step_head(step, ctx.source), "this step can never run: no path from "
                       "the start of the sequence reaches it", _hint(previous.get(id(step))))
            _cover(graph, node, covered)


def _cover(graph: StepGraph, start: str, covered: set[str]) -> None:
    """Mark what `start` leads to, so that its run is reported once."""
    stack = [start]
    covered.add(start)
    while stack:
        for succ in graph.graph.successors(stack.pop()):
            if succ not in covered:
                covered.add(succ)
                stack.append(succ)


def _previous_siblings(steps: tuple[n.Step, ...], into: dict[int, n.Step]) -> dict[int, n.Step]:
    """The step written just before each step of the same block."""
    for before, step in pairwise(steps):
        into[id(step)] = before
    for step in steps:
        for block in n.child_steps(step):
            _previous_siblings(block.steps, into)
    return into


def _hint(before: n.Step | None) -> str:
    if isinstance(before, n.Goto):
        return (f"it follows `goto {before.target.name}` on line {before.span.line}, which never "
                "continues to the next step; remove it, or label it and `goto` it")
    if isinstance(before, n.Exit):
        return (f"it follows `exit` on line {before.span.line}, which ends the enrollment; "
                "remove it, or label it and `goto` it")
    if isinstance(before, n.Split) and not before.branches:
        return (f"the `split` on line {before.span.line} has no branches, so nothing runs after "
                "it; remove it, or label it and `goto` it")
    if isinstance(before, n.If | n.Split):
        keyword = "if" if isinstance(before, n.If) else "split"
        return (f"every branch of the `{keyword}` on line {before.span.line} ends in `exit` or "
                "`goto`; remove it, or label it and `goto` it")
    return "remove it, or label it and `goto` it"
