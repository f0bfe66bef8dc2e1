"""Graph facts that several rules need, computed once per lowered sequence.

Reachability and dominators each serve more than one rule; computing them per
rule would multiply the checker's cost by the number of rules that ask. Every
fact here is linear (or, for networkx's dominators, near linear on the graphs
a structured language produces) in the number of steps.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from weakref import WeakKeyDictionary, ref

import networkx as nx

from .. import nodes as n
from ..graph import ENTRY, StepGraph

# Keyed by the networkx graph, whose hash is its identity (a StepGraph hashes its whole IR).
_FLOWS: WeakKeyDictionary[nx.DiGraph, Flow] = WeakKeyDictionary()


def flow(graph: StepGraph) -> Flow:
    """The shared facts about `graph`, kept as long as the graph lives."""
    found = _FLOWS.get(graph.graph)
    if found is None or found._graph() is not graph:
        found = _FLOWS[graph.graph] = Flow(graph)
    return found


@dataclass(frozen=True)
class Site:
    """A condition and where it is evaluated: the `if` step's node, or None for `exit when`,
    which is evaluated before every step and on every event rather than at one place."""

    cond: n.Cond
    node: str | None


class Flow:
    """Holds its graph weakly: a strong reference would keep the cache's key alive."""

    def __init__(self, graph: StepGraph):
        self._graph = ref(graph)

    @property
    def graph(self) -> StepGraph:
        graph = self._graph()
        assert graph is not None, "facts are only asked for while their graph is in use"
        return graph

    @cached_property
    def steps(self) -> list[tuple[str, n.Step]]:
        """(node, step) for every step, in source pre-order."""
        return [(node, step) for node, step in self.graph.graph.nodes(data="step")
                if step is not None]

    @cached_property
    def sites(self) -> list[Site]:
        """The sequence's conditions in source order: `exit when` first, then each `if`'s."""
        exit_when = self.graph.sequence.setting(n.ExitWhen)
        found = [Site(exit_when.cond, None)] if isinstance(exit_when, n.ExitWhen) else []
        found.extend(Site(branch.cond, node) for node, step in self.steps
                     if isinstance(step, n.If) for branch in step.branches)
        return found

    @cached_property
    def order(self) -> dict[str, int]:
        """Each node's position in source order (nodes are added in pre-order)."""
        return {node: i for i, node in enumerate(self.graph.graph)}

    @cached_property
    def reachable(self) -> frozenset[str]:
        """Nodes some enrollment can arrive at: everything reachable from `<entry>`."""
        return frozenset(nx.descendants(self.graph.graph, ENTRY)) | {ENTRY}

    @cached_property
    def _dominator_intervals(self) -> dict[str, tuple[int, int]]:
        """Pre/post numbers of the dominator tree: `a` dominates `b` exactly when `a`'s
        interval contains `b`'s, which answers each question in O(1) instead of a walk
        up the tree."""
        children: dict[str, list[str]] = {}
        for node, parent in nx.immediate_dominators(self.graph.graph, ENTRY).items():
            if parent is not None and parent != node:
                children.setdefault(parent, []).append(node)
        intervals: dict[str, tuple[int, int]] = {}
        enter: dict[str, int] = {}
        clock = 0
        stack: list[tuple[str, bool]] = [(ENTRY, False)]
        while stack:
            node, done = stack.pop()
            if done:
                intervals[node] = (enter[node], clock)
            else:
                enter[node] = clock
                stack.append((node, True))
                stack.extend((child, False) for child in children.get(node, ()))
            clock += 1
        return intervals

    def dominates(self, a: str, b: str) -> bool:
        """Whether every path from `<entry>` to `b` passes through `a` (a node dominates
        itself); False for a node no path reaches."""
        intervals = self._dominator_intervals
        if a not in intervals or b not in intervals:
            return False
        (a_in, a_out), (b_in, b_out) = intervals[a], intervals[b]
        return a_in <= b_in and b_out <= a_out

    @cached_property
    def loops(self) -> list[tuple[set[str], list[str]]]:
        """The loops of the whole step graph (see `loops_of`).

        Only a `goto` leads back to an earlier step (or to itself): every other edge goes
        forward in source order. Without such a `goto` the graph has no cycle, which is
        cheaper to see than to search for.
        """
        labels = self.graph.graph.graph["labels"]
        order = self.order
        if not any(isinstance(step, n.Goto) and step.target.name in labels
                   and order[labels[step.target.name]] <= order[node]
                   for node, step in self.steps):
            return []
        return list(self.loops_of(self.graph.graph))

    @cached_property
    def on_loops(self) -> frozenset[str]:
        """Nodes on some loop: every cycle of a subgraph lies among them."""
        return frozenset(node for component, _ in self.loops for node in component)

    def loops_of(self, graph: nx.DiGraph) -> Iterator[tuple[set[str], list[str]]]:
        """Each loop of `graph` (a subgraph of this flow's graph): its strongly connected
        component, and one cycle through the component's first node in source order,
        closed by repeating that node. Loops come in source order."""
        found = []
        for component in nx.strongly_connected_components(graph):
            if len(component) == 1:
                (node,) = component
                if not graph.has_edge(node, node):
                    continue
            head = min(component, key=self.order.__getitem__)
            found.append((self.order[head], component, _cycle_through(graph, component, head)))
        for _, component, cycle in sorted(found, key=lambda item: item[0]):
            yield component, cycle


def _cycle_through(graph: nx.DiGraph, component: set[str], head: str) -> list[str]:
    """A shortest cycle from `head` back to it inside `component` (breadth first)."""
    parent: dict[str, str] = {}
    queue = deque([head])
    while queue:
        node = queue.popleft()
        for succ in graph.successors(node):
            if succ == head:
                path = [node]
                while path[-1] != head:
                    path.append(parent[path[-1]])
                return [*reversed(path), head]
            if succ in component and succ not in parent:
                parent[succ] = node
                queue.append(succ)
    raise ValueError(f"{head} is on no cycle")
