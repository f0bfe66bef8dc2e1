"""Conditions (`if`, `if ... within`, `exit when`) evaluated against what is known of one
enrollment: its events, its contact's fields, and whether the address is suppressed.

Event conditions are scoped to the enrollment (its own emails' opens, clicks and replies),
except `bounced` and `unsubscribed`, which are facts about the address: an address that
bounced or unsubscribed anywhere counts, because a suppression applies to every sequence.
A click counts as an open of its email: a reader who clicked has opened it, even when the
open pixel was blocked. A missing contact field makes every comparison false except `!=`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seqlang import nodes as n


@dataclass(frozen=True, slots=True)
class EventFact:
    kind: str
    step: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    events: tuple[EventFact, ...]
    fields: Mapping[str, Any]
    suppression: str | None = None  # the reason, when the address is suppressed


def holds(cond: n.Cond, facts: Facts) -> bool:
    if isinstance(cond, n.And):
        return all(holds(c, facts) for c in cond.operands)
    if isinstance(cond, n.Or):
        return any(holds(c, facts) for c in cond.operands)
    if isinstance(cond, n.Not):
        return not holds(cond.operand, facts)
    if isinstance(cond, n.EventCond):
        return _event_holds(cond, facts)
    return _field_holds(cond, facts.fields)


def _event_holds(cond: n.EventCond, facts: Facts) -> bool:
    if cond.kind in ("bounced", "unsubscribed") and facts.suppression == cond.kind:
        return True
    kinds = ("opened", "clicked") if cond.kind == "opened" else (cond.kind,)
    step = cond.step.name if cond.step is not None else None
    for event in facts.events:
        if event.kind not in kinds or (step is not None and event.step != step):
            continue
        if cond.url is None or (event.url or "").startswith(cond.url):
            return True
    return False


def _field_holds(cond: n.FieldCond, fields: Mapping[str, Any]) -> bool:
    name = cond.field.name
    present = name in fields and fields[name] is not None and fields[name] != ""
    if cond.op == "exists":
        return present
    if not present:
        return cond.op == "!="
    value = fields[name]
    if cond.op == "in":
        assert isinstance(cond.value, tuple)
        return any(_equal(value, v) for v in cond.value)
    if cond.op == "contains":
        if isinstance(value, list | tuple):
            return any(_equal(item, cond.value) for item in value)
        return str(cond.value) in str(value)
    if cond.op == "==":
        return _equal(value, cond.value)
    if cond.op == "!=":
        return not _equal(value, cond.value)
    left, right = _numbers(value, cond.value)
    if left is None or right is None:
        left, right = str(value), str(cond.value)
    return {
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[cond.op]


def _equal(value: Any, literal: Any) -> bool:
    left, right = _numbers(value, literal)
    if left is not None and right is not None:
        return left == right
    if isinstance(literal, bool) or isinstance(value, bool):
        return _truth(value) == _truth(literal)
    return str(value) == str(literal)


def _numbers(a: Any, b: Any) -> tuple[float | None, float | None]:
    return _number(a), _number(b)


def _number(value: Any) -> float | None:
    """Numbers, and numeric text (CSV imports give text); booleans are not numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(
        text
    )
