"""The one step-graph lowering of the project.

Each sequence becomes a `networkx.DiGraph` with an entry node, an exit node and
one node per step. The checker runs graph algorithms on it, the JSON IR lists
its edges, and the engine walks it: a step's successors are looked up in its
`routes`, never recomputed from the IR.

Routes are the labelled ways out of a node (`next`, `then:0`, `else`,
`timeout`, `split:1`, `goto`). Two routes may lead to the same node (an `if`
whose branches are both empty), so the DiGraph keeps one edge per target and
lists the routes it carries in the edge's `routes` attribute.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import networkx as nx

from . import nodes as n

ENTRY = "<entry>"
EXIT = "<exit>"

_KINDS = {
    n.EmailStep: "email",
    n.Wait: "wait",
    n.WaitUntil: "wait-until",
    n.If: "if",
    n.Split: "split",
    n.Goto: "goto",
    n.Exit: "exit",
    n.Task: "task",
    n.Webhook: "webhook",
}


def step_kind(step: n.Step) -> str:
    return _KINDS[type(step)]


def route_kind(route: str) -> str:
    """The edge kind of a route: `then:1` is a `then` edge, `split:0` a `split` edge."""
    return route.split(":", 1)[0]


@dataclass(frozen=True)
class StepGraph:
    sequence: n.Sequence
    graph: nx.DiGraph

    def step(self, node: str) -> n.Step:
        return self.graph.nodes[node]["step"]

    def routes(self, node: str) -> dict[str, str]:
        return self.graph.nodes[node]["routes"]

    def step_nodes(self) -> Iterator[str]:
        """Step node ids in source pre-order."""
        return (v for v in self.graph.nodes if v not in (ENTRY, EXIT))

    def node_of(self, step: n.Step) -> str:
        return self.graph.graph["node_of"][id(step)]

    def label_node(self, label: str) -> str | None:
        return self.graph.graph["labels"].get(label)


def step_ids(sequence: n.Sequence) -> list[tuple[str, n.Step]]:
    """Node ids in pre-order: a step's label, or `kind-N` (N counts steps from 1).

    `-` cannot occur in a name, so a generated id never collides with a label; a
    duplicated label keeps its first step, later ones fall back to `kind-N`.
    """
    out: list[tuple[str, n.Step]] = []
    _number(sequence.steps, set(), out)
    return out


def _number(steps: tuple[n.Step, ...], seen: set[str], out: list[tuple[str, n.Step]]) -> None:
    """`step_ids` for `steps` and the steps nested in them: the pre-order of
    `nodes.walk_steps`, without a generator per level of nesting (every step of every
    checked file passes here)."""
    for step in steps:
        kind = type(step)
        label = step.label
        if label is not None and label.name not in seen:
            seen.add(label.name)
            out.append((label.name, step))
        else:
            out.append((f"{_KINDS[kind]}-{len(out) + 1}", step))
        if kind is n.If:
            for branch in step.branches:
                _number(branch.body.steps, seen, out)
            if step.else_body is not None:
                _number(step.else_body.steps, seen, out)
        elif kind is n.Split:
            for cohort in step.branches:
                _number(cohort.body.steps, seen, out)


def lower(sequence: n.Sequence) -> StepGraph:
    """Lower `sequence` to its step graph.

    Checking lowers every sequence of every file, so the walk builds plain dicts
    and lists and hands them to networkx in bulk: one networkx call per node and
    per edge, and reading routes back through `g.nodes[...]`, cost more than the
    walk itself. Nodes go in in pre-order and edges in the order the walk finds
    them (a block's last step first), which fixes the order of every adjacency
    dict.
    """
    ids = step_ids(sequence)
    node_of = {id(step): node for node, step in ids}
    labels = {
        step.label.name: node
        for node, step in ids
        if step.label is not None and node == step.label.name
    }
    walk = _Walk(node_of, labels)
    start = walk.block(sequence.steps, EXIT)
    walk.edges.append((ENTRY, start, {"kind": "next", "routes": ["next"]}))
    g = nx.DiGraph(sequence=sequence.name)
    g.graph["node_of"] = node_of
    g.graph["labels"] = labels
    g.add_nodes_from([ENTRY, *(node for node, _ in ids), EXIT])
    attrs = g.nodes
    attrs[ENTRY].update(kind="entry", step=None, routes={"next": start})
    for node, step in ids:
        attrs[node].update(kind=_KINDS[type(step)], step=step, routes=walk.routes[node])
    attrs[EXIT].update(kind="exit", step=None, routes={})
    g.add_edges_from(walk.edges)
    return StepGraph(sequence, g)


@dataclass(frozen=True)
class _Walk:
    """The routes and edges of one sequence, found block by block.

    A class rather than nested functions: a nested function that calls itself makes a
    reference cycle, so everything it holds would wait for the cycle collector, which
    the checker pauses while it works.
    """

    node_of: dict[int, str]
    labels: dict[str, str]
    routes: dict[str, dict[str, str]] = field(default_factory=dict)
    edges: list[tuple[str, str, dict]] = field(default_factory=list)

    def block(self, steps: tuple[n.Step, ...], succ: str) -> str:
        """Lower `steps`, the last going on to `succ`; the node the block starts at."""
        node_of, routes, edges = self.node_of, self.routes, self.edges
        for step in reversed(steps):
            me = node_of[id(step)]
            kind = type(step)
            if kind is n.If:
                routes[me] = {}
                shared: dict[str, dict] = {}
                for i, branch in enumerate(step.branches):
                    self.way_out(me, f"then:{i}", self.block(branch.body.steps, succ), shared,
                                 {"cond": branch.cond})
                otherwise = self.block(step.else_body.steps, succ) if step.else_body else succ
                if step.within is not None:
                    self.way_out(me, "timeout", otherwise, shared, {"duration": step.within})
                else:
                    self.way_out(me, "else", otherwise, shared)
            elif kind is n.Split:
                routes[me] = {}
                shared = {}
                for i, cohort in enumerate(step.branches):
                    self.way_out(me, f"split:{i}", self.block(cohort.body.steps, succ), shared,
                                 {"weight": cohort.weight})
            elif kind is n.Goto:
                target = self.labels.get(step.target.name)
                routes[me] = {"goto": target} if target is not None else {}
                if target is not None:
                    edges.append((me, target, {"kind": "goto", "routes": ["goto"]}))
            else:
                dst = EXIT if kind is n.Exit else succ
                routes[me] = {"next": dst}
                edges.append((me, dst, {"kind": "next", "routes": ["next"]}))
            succ = me
        return succ

    def way_out(self, me: str, route: str, dst: str, shared: dict[str, dict],
                data: dict | None = None) -> None:
        """A route of an `if` or a `split`; routes to the same target share one edge."""
        self.routes[me][route] = dst
        edge = shared.get(dst)
        if edge is not None:
            edge["routes"].append(route)
        else:
            edge = shared[dst] = {"kind": route_kind(route), "routes": [route]}
            if data is not None:
                edge.update(data)
            self.edges.append((me, dst, edge))
