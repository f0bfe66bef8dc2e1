"""SEQ021: a loop that can go round without waiting, so it would spin at one instant.

The question is asked of the graph of *instant* edges: every edge except those
leaving a `wait` of positive length, and except the timeout edge of
`if ... within`, which is taken only once the duration has passed. A cycle in
what remains is a way round the loop that takes no time. In particular:

* the first block of `if COND within D` does NOT count as waiting: when the
  condition is already true on arrival (the contact opened the email before),
  it is taken at once;
* `wait until` does not count: once its moment is past it passes straight on;
* a `wait` of zero or negative length does not count (SEQ033 reports it too).

Each loop is a strongly connected component of the instant graph (a step that
goes to itself is one too). Its report names one cycle through it in order,
starting at its first step in the file, and points at the `goto` that closes
that cycle (only a `goto` can lead back to an earlier step). A loop no
enrollment can reach is left to SEQ020.
"""

from __future__ import annotations

import networkx as nx

from .. import nodes as n
from ..diagnostics import ERROR
from ..graph import StepGraph
from . import RuleContext, rule
from .flow import flow
from .sites import describe


@rule("SEQ021", "loop-without-wait", ERROR,
      "a loop that can repeat without any wait (it would spin at one instant)")
def check(ctx: RuleContext) -> None:
    for _, graph in ctx.sequences():
        facts = flow(graph)
        if not facts.on_loops:
            continue
        instant = _instant_edges(graph, facts.on_loops)
        for _, cycle in facts.loops_of(instant):
            if cycle[0] not in facts.reachable:
                continue  # SEQ020
            closing = graph.step(cycle[-2])
            names = " -> ".join(describe(graph, node) for node in cycle)
            ctx.report(closing.span, f"this loop can repeat without waiting: {names}",
                       "put a `wait` on the loop; `wait until` and the first block of "
                       "`if ... within` can pass at once, so they do not count")


def _instant_edges(graph: StepGraph, on_loops: frozenset[str]) -> nx.DiGraph:
    """The instant edges between nodes on loops: no instant cycle can use any other."""
    waiting = {node for node, step in flow(graph).steps
               if isinstance(step, n.Wait) and step.duration.amount > 0}
    instant = nx.DiGraph()
    instant.add_edges_from(
        (src, dst) for src, dst, routes in graph.graph.edges(on_loops, data="routes")
        if dst in on_loops and src not in waiting and any(r != "timeout" for r in routes)
    )
    return instant
