"""The rule registry: one module per rule, each registered with `@rule`.

A rule is a pure function from a `RuleContext` to diagnostics, reported through
`ctx.report`, so that severity overrides, suppression comments and selection
are applied in one place (the checker), never inside a rule.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..diagnostics import Diagnostic
from ..graph import StepGraph, lower
from ..loader import Program, Scope
from ..nodes import Module, Sequence, Span


@dataclass(frozen=True)
class Rule:
    code: str  # "SEQ023"
    name: str  # kebab-case, "signal-before-step"
    severity: str  # default severity: "error" or "warning"
    summary: str  # one line
    check: Callable[[RuleContext], None]


@dataclass
class RuleContext:
    """What a rule may look at for one module; `graphs` holds one lowered graph per sequence."""

    program: Program
    module: Module
    scope: Scope
    graphs: dict[str, StepGraph]
    rule: Rule | None = None
    found: list[Diagnostic] = field(default_factory=list)
    _more_graphs: dict[int, StepGraph] = field(default_factory=dict, repr=False)

    def report(self, span: Span, message: str, hint: str | None = None) -> None:
        assert self.rule is not None
        self.found.append(Diagnostic(self.rule.code, self.rule.severity, message, span, hint))

    def sequences(self) -> Iterator[tuple[Sequence, StepGraph]]:
        for seq in self.module.sequences:
            yield seq, self.graph(seq)

    def graph(self, seq: Sequence) -> StepGraph:
        """The lowered graph of `seq`; a second sequence of the same name (SEQ011) gets its own."""
        found = self.graphs.get(seq.name)
        if found is not None and found.sequence is seq:
            return found
        if id(seq) not in self._more_graphs:
            self._more_graphs[id(seq)] = lower(seq)
        return self._more_graphs[id(seq)]

    @property
    def source(self) -> str:
        """The module's text, for spans finer than the IR keeps (a declaration's name)."""
        return self.program.sources.get(self.module.path, "")


REGISTRY: dict[str, Rule] = {}


def rule(code: str, name: str, severity: str, summary: str):
    """Register the decorated function as rule `code`."""

    def register(fn: Callable[[RuleContext], None]) -> Callable[[RuleContext], None]:
        if code in REGISTRY:
            raise ValueError(f"rule {code} registered twice")
        REGISTRY[code] = Rule(code, name, severity, summary, fn)
        return fn

    return register


def all_rules() -> dict[str, Rule]:
    """Every rule, importing the rule modules of this package on first use."""
    if not REGISTRY:
        for info in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{info.name}")
    return dict(sorted(REGISTRY.items()))
