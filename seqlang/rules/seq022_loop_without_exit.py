"""SEQ022: a loop with no path out of it: the enrollment can never complete.

A loop here is a strongly connected component of the step graph that some
enrollment can reach; it is closed when no edge leaves it, so `<exit>` is out
of reach from every step on it. (A component one of whose steps is `exit` has
an edge to `<exit>` and is not closed.) Only the sequence's `exit when` can
still end such an enrollment, which is why this is a warning, not an error.
One report per loop, naming a cycle through it in order, at the `goto` that
closes the cycle.
"""

from __future__ import annotations

import networkx as nx

from ..diagnostics import WARNING
from . import RuleContext, rule
from .flow import flow
from .sites import describe


@rule("SEQ022", "loop-without-exit", WARNING,
      "a loop with no path out of it (the enrollment can never complete)")
def check(ctx: RuleContext) -> None:
    for _, graph in ctx.sequences():
        facts = flow(graph)
        for component, cycle in facts.loops:
            if cycle[0] not in facts.reachable or _leaves(graph.graph, component):
                continue
            names = " -> ".join(describe(graph, node) for node in cycle)
            ctx.report(graph.step(cycle[-2]).span,
                       f"this loop has no way out: {names}; the enrollment can never complete",
                       "give the loop a way out: an `exit`, or an `if` branch that does not "
                       "`goto` back")


def _leaves(graph: nx.DiGraph, component: set[str]) -> bool:
    return any(succ not in component for node in component for succ in graph.successors(node))
