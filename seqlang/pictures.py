"""Pictures of a step graph: Mermaid and Graphviz DOT text, and SVG through Graphviz.

The pictures are drawn from `seqlang.graph.lower`, the same graph the checker
and the engine walk, so a picture never disagrees with what runs. Every route
of a step is its own arrow: an `if` whose branches are both empty shows two
arrows to the same step, which is what the engine will do.
"""

from __future__ import annotations

import shutil
import subprocess

from . import nodes as n
from .formatter import condition, duration
from .graph import ENTRY, EXIT, StepGraph

MAX_DETAIL = 48
SVG_TIMEOUT_SECONDS = 60


class GraphvizError(Exception):
    """SVG could not be made; the message says why and what to do."""


# ---- words ---------------------------------------------------------------------------


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL - 3] + "..."


def _email_detail(step: n.EmailStep) -> str:
    words = ["email"]
    if step.template is not None:
        words.append(step.template.name)
    if step.reply_to is not None:
        words.append(f"reply to {step.reply_to.name}")
    if step.body is not None and step.template is None:
        subject = step.body.get("subject")
        variants = step.body.variants
        if subject is not None and not subject.value.file:
            words.append(_quote(_short(subject.value.text)))
        elif variants:
            words.append(f"({len(variants)} variants)")
    return " ".join(words)


def step_summary(step: n.Step) -> str:
    """One line that names a step the way its source does: `email welcome`, `wait 2 days`."""
    if isinstance(step, n.EmailStep):
        text = _email_detail(step)
    elif isinstance(step, n.Wait):
        text = f"wait {duration(step.duration)}"
    elif isinstance(step, n.WaitUntil):
        text = f"wait until {step.at}"
    elif isinstance(step, n.If):
        if len(step.branches) == 1:
            text = f"if {_short(condition(step.branches[0].cond))}"
        else:
            text = f"if ({len(step.branches)} conditions)"
        if step.within is not None:
            text += f" within {duration(step.within)}"
    elif isinstance(step, n.Split):
        text = "split " + " / ".join(f"{b.weight}%" for b in step.branches)
    elif isinstance(step, n.Goto):
        text = f"goto {step.target.name}"
    elif isinstance(step, n.Exit):
        text = "exit" if step.reason is None else f"exit {_quote(_short(step.reason))}"
    elif isinstance(step, n.Task):
        text = f"task {_quote(_short(step.text))}"
    else:
        text = f"webhook {_quote(_short(step.url))}"
    return text if step.label is None else f"{step.label.name}: {text}"


def node_text(graph: StepGraph, node: str) -> str:
    if node == ENTRY:
        return "start"
    if node == EXIT:
        return "end"
    return step_summary(graph.step(node))


def route_text(graph: StepGraph, node: str, route: str) -> str:
    """An arrow's words: the branch condition, `else`, the timeout, a split weight or `goto`.

    The first branch of an `if` reads `then: COND`, later ones `else if: COND`, as written.
    """
    step = graph.step(node) if node not in (ENTRY, EXIT) else None
    kind, _, index = route.partition(":")
    if kind == "then" and isinstance(step, n.If):
        word = "then" if index == "0" else "else if"
        return f"{word}: {condition(step.branches[int(index)].cond)}"
    if kind == "timeout" and isinstance(step, n.If) and step.within is not None:
        return f"timeout {duration(step.within)}"
    if kind == "split" and isinstance(step, n.Split):
        return f"{step.branches[int(index)].weight}%"
    return "" if kind == "next" else kind


def _arrows(graph: StepGraph) -> list[tuple[str, str, str]]:
    return [(src, dst, route_text(graph, src, route))
            for src in graph.graph.nodes for route, dst in graph.routes(src).items()]


# ---- Mermaid ----------------------------------------------------------------------------

_MERMAID_ESCAPES = str.maketrans({
    "#": "#35;", '"': "#quot;", "&": "#amp;", "<": "#lt;", ">": "#gt;", "|": "#124;",
})


def _mermaid_text(text: str) -> str:
    return '"' + text.translate(_MERMAID_ESCAPES) + '"'


def _mermaid_shape(graph: StepGraph, node: str) -> tuple[str, str]:
    if node in (ENTRY, EXIT):
        return "([", "])"
    kind = graph.graph.nodes[node]["kind"]
    if kind == "if":
        return "{", "}"
    if kind == "split":
        return "{{", "}}"
    return "[", "]"


def mermaid(graph: StepGraph) -> str:
    """A Mermaid `flowchart TD`; every label is quoted and entity-escaped."""
    ids = {node: f"n{i}" for i, node in enumerate(graph.graph.nodes)}
    lines = ["flowchart TD"]
    for node, ident in ids.items():
        left, right = _mermaid_shape(graph, node)
        lines.append(f"  {ident}{left}{_mermaid_text(node_text(graph, node))}{right}")
    for src, dst, words in _arrows(graph):
        label = f"|{_mermaid_text(words)}|" if words else ""
        lines.append(f"  {ids[src]} -->{label} {ids[dst]}")
    return "\n".join(lines) + "\n"


# ---- Graphviz ---------------------------------------------------------------------------

_DOT_SHAPES = {"if": "diamond", "split": "hexagon"}


def dot(graph: StepGraph) -> str:
    """A Graphviz digraph; every id and label is a quoted, escaped DOT string."""
    ids = {node: f"n{i}" for i, node in enumerate(graph.graph.nodes)}
    lines = [
        f"digraph {_quote(graph.sequence.name)} {{",
        '  node [shape=box, fontname="Helvetica"];',
        '  edge [fontname="Helvetica"];',
    ]
    for node, ident in ids.items():
        if node in (ENTRY, EXIT):
            shape: str | None = "oval"
        else:
            shape = _DOT_SHAPES.get(graph.graph.nodes[node]["kind"])
        extra = f", shape={shape}" if shape else ""
        lines.append(f"  {ident} [label={_quote(node_text(graph, node))}{extra}];")
    for src, dst, words in _arrows(graph):
        label = f" [label={_quote(words)}]" if words else ""
        lines.append(f"  {ids[src]} -> {ids[dst]}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def svg(dot_text: str) -> str:
    """Run Graphviz's `dot -Tsvg`; raises GraphvizError when it is missing or fails."""
    program = shutil.which("dot")
    if program is None:
        raise GraphvizError(
            "SVG output needs Graphviz's `dot` program, which is not installed; install it "
            "(`apt-get install graphviz`, `brew install graphviz`) or use `--format dot`"
        )
    try:
        done = subprocess.run([program, "-Tsvg"], input=dot_text, capture_output=True,
                              text=True, timeout=SVG_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GraphvizError(f"Graphviz `dot` could not run: {exc}") from exc
    if done.returncode != 0:
        raise GraphvizError(f"Graphviz `dot` failed: {done.stderr.strip()}")
    return done.stdout
