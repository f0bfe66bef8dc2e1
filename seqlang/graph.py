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
from dataclasses import dataclass

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
    seen: set[str] = set()
    out = []
    for index, step in enumerate(n.walk_steps(sequence.steps), start=1):
        label = step.label.name if step.label is not None else None
        if label is not None and label not in seen:
            seen.add(label)
            out.append((label, step))
        else:
            out.append((f"{step_kind(step)}-{index}", step))
    return out


def lower(sequence: n.Sequence) -> StepGraph:
    g = nx.DiGraph(sequence=sequence.name)
    ids = step_ids(sequence)
    node_of = {id(step): node for node, step in ids}
    labels = {
        step.label.name: node
        for node, step in ids
        if step.label is not None and node == step.label.name
    }
    g.graph["node_of"] = node_of
    g.graph["labels"] = labels
    g.add_node(ENTRY, kind="entry", step=None, routes={})
    for node, step in ids:
        g.add_node(node, kind=step_kind(step), step=step, routes={})
    g.add_node(EXIT, kind="exit", step=None, routes={})

    def connect(src: str, route: str, dst: str, **attrs) -> None:
        g.nodes[src]["routes"][route] = dst
        if g.has_edge(src, dst):
            g.edges[src, dst]["routes"].append(route)
        else:
            g.add_edge(src, dst, kind=route_kind(route), routes=[route], **attrs)

    def block(steps: tuple[n.Step, ...], cont: str) -> str:
        succ = cont
        for step in reversed(steps):
            lower_step(step, succ)
            succ = node_of[id(step)]
        return succ

    def lower_step(step: n.Step, succ: str) -> None:
        me = node_of[id(step)]
        if isinstance(step, n.If):
            for i, branch in enumerate(step.branches):
                connect(me, f"then:{i}", block(branch.body.steps, succ), cond=branch.cond)
            otherwise = block(step.else_body.steps, succ) if step.else_body else succ
            if step.within is not None:
                connect(me, "timeout", otherwise, duration=step.within)
            else:
                connect(me, "else", otherwise)
        elif isinstance(step, n.Split):
            for i, branch in enumerate(step.branches):
                connect(me, f"split:{i}", block(branch.body.steps, succ), weight=branch.weight)
        elif isinstance(step, n.Goto):
            target = labels.get(step.target.name)
            if target is not None:
                connect(me, "goto", target)
        elif isinstance(step, n.Exit):
            connect(me, "next", EXIT)
        else:
            connect(me, "next", succ)

    connect(ENTRY, "next", block(sequence.steps, EXIT))
    return StepGraph(sequence, g)
