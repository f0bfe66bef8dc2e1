"""SEQ052: a condition that can never be true where it stands.

Detected cases, each conservative (no report unless it is certain):

1. An event test in an `if` that `exit when` already covers. `exit when` is
   checked before every step and on every event, so once the event happens the
   enrollment has exited before any `if` can see it. Covered means implied by
   one top-level `or` term of `exit when` (or of the default
   `replied or unsubscribed or bounced`): `replied` covers `replied(L)`,
   `clicked(L)` covers `clicked(L, url)`, `clicked(L, "https://a")` covers
   `clicked(L, "https://a/b")`. Under a `not` the test is then always true,
   which is reported the same way: the branch it guards is decided in advance.
2. An `and` that requires a test and its negation (`opened(a) and not
   opened(a)`), or one contact field equal to two different values.
3. A positive event test in `exit when` about an email step no path reaches:
   that email is never sent, so nothing can happen to it.
"""

from __future__ import annotations

from collections.abc import Iterator

from .. import nodes as n
from ..diagnostics import WARNING
from ..graph import StepGraph
from . import RuleContext, rule
from .flow import flow
from .sites import atoms, negated, show_cond, text_at

_DEFAULT_EXIT = ("without an `exit when` setting a sequence exits when the contact replies, "
                 "unsubscribes or bounces")


@rule("SEQ052", "impossible-condition", WARNING,
      "a condition that can never be true where it stands (e.g. `replied` after "
      "`exit when replied`)")
def check(ctx: RuleContext) -> None:
    for seq, graph in ctx.sequences():
        reachable = flow(graph).reachable
        for site in flow(graph).sites:
            if site.node is not None and site.node not in reachable:
                continue  # SEQ020
            _contradictions(ctx, site.cond)
            for atom, negation in atoms(site.cond):
                if not isinstance(atom, n.EventCond):
                    continue
                if site.node is None:
                    if negation is None:
                        _never_sent(ctx, graph, atom, reachable)
                else:
                    _exited_before(ctx, seq, atom, negation)


def _never_sent(ctx: RuleContext, graph: StepGraph, atom: n.EventCond,
                reachable: frozenset[str]) -> None:
    if atom.step is None:
        return
    email = graph.label_node(atom.step.name)
    if email is not None and email not in reachable and isinstance(graph.step(email),
                                                                    n.EmailStep):
        ctx.report(atom.span, f"`{show_cond(atom)}` can never be true: no path reaches email "
                   f"`{atom.step.name}`, so it is never sent",
                   f"make `{atom.step.name}` reachable, or remove this test")


def _exited_before(ctx: RuleContext, seq: n.Sequence, atom: n.EventCond,
                   negation: n.Not | None) -> None:
    term = next((t for t in _terms(seq.exit_when) if _covers(t, atom)), None)
    if term is None:
        return
    setting = seq.setting(n.ExitWhen)
    if isinstance(setting, n.ExitWhen):
        why = (f"`exit when` on line {setting.span.line} ends the enrollment when "
               f"{_event(term)}")
        hint = f"remove `{show_cond(term)}` from `exit when` to branch on it, or remove this test"
    else:
        why = _DEFAULT_EXIT
        others = " or ".join(k for k in ("replied", "unsubscribed", "bounced") if k != term.kind)
        hint = ("to branch on it, set `exit when` to the events that should end the sequence, "
                f"e.g. `exit when {others}`")
    if negation is not None:
        span, shown = negated(atom, negation)
        ctx.report(span, f"{shown} is always true here: {why}", hint)
    else:
        ctx.report(atom.span, f"`{show_cond(atom)}` can never be true here: {why}", hint)


def _terms(exit_when: n.Cond) -> list[n.EventCond]:
    """The top-level `or` terms of `exit when` that are single event tests."""
    terms = exit_when.operands if isinstance(exit_when, n.Or) else (exit_when,)
    return [t for t in terms if isinstance(t, n.EventCond)]


def _covers(term: n.EventCond, atom: n.EventCond) -> bool:
    """Whether `atom` being true makes `term` true."""
    if term.kind != atom.kind:
        return False
    if term.step is None:  # `replied`, `bounced`, `unsubscribed`: any of them
        return True
    if atom.step is None or atom.step.name != term.step.name:
        return False
    return term.url is None or (atom.url is not None and atom.url.startswith(term.url))


def _event(term: n.EventCond) -> str:
    step = f" `{term.step.name}`" if term.step is not None else ""
    if term.kind == "replied":
        return f"the contact replies{' to' + step if step else ''}"
    if term.kind == "opened":
        return f"the contact opens{step}"
    if term.kind == "clicked":
        prefix = f' starting with "{term.url}"' if term.url else ""
        return f"the contact clicks a link{prefix} in{step}"
    return "an email bounces" if term.kind == "bounced" else "the contact unsubscribes"


def _subconditions(cond: n.Cond) -> Iterator[n.Cond]:
    yield cond
    if isinstance(cond, n.And | n.Or):
        for operand in cond.operands:
            yield from _subconditions(operand)
    elif isinstance(cond, n.Not):
        yield from _subconditions(cond.operand)


def _contradictions(ctx: RuleContext, cond: n.Cond) -> None:
    for sub in _subconditions(cond):
        if not isinstance(sub, n.And):
            continue
        operands = set(sub.operands)
        opposite = next((op for op in sub.operands
                         if isinstance(op, n.Not) and op.operand in operands), None)
        if opposite is not None:
            shown = text_at(ctx.source, opposite.operand.span)
            ctx.report(sub.span, f"this condition can never be true: it requires `{shown}` "
                       "and its opposite at once", "remove one of the two tests")
            continue
        equal: dict[str, n.FieldCond] = {}
        for op in sub.operands:
            if not (isinstance(op, n.FieldCond) and op.op == "=="):
                continue
            first = equal.setdefault(op.field.name, op)
            if first.value != op.value:
                ctx.report(sub.span, f"this condition can never be true: `contact."
                           f"{op.field.name}` cannot equal both {_literal(first.value)} and "
                           f"{_literal(op.value)}", "did you mean `or`, or `in [...]`?")
                break


def _literal(value: n.Scalar | tuple[n.Scalar, ...] | None) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)
