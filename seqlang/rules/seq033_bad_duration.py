"""SEQ033: a `wait` or `within` duration of zero, below zero, or over 365 days.

Zero and negative durations wait for nothing (and a loop through them would
spin); over a year is almost always a unit mistake (`400 days` for `40 days`),
and a date that far off is better written `wait until`. A business day counts
as a day and a business hour as an hour for the limit.
"""

from __future__ import annotations

from .. import nodes as n
from ..diagnostics import ERROR
from . import RuleContext, rule
from .flow import flow
from .sites import show_duration

LIMIT_DAYS = 365
_MINUTES_PER_DAY = 24 * 60


@rule("SEQ033", "bad-duration", ERROR, "a duration of zero, below zero, or over 365 days")
def check(ctx: RuleContext) -> None:
    for _, graph in ctx.sequences():
        for _, step in flow(graph).steps:
            if isinstance(step, n.Wait):
                _duration(ctx, step.duration, "wait")
            elif isinstance(step, n.If) and step.within is not None:
                _duration(ctx, step.within, "within")


def _duration(ctx: RuleContext, duration: n.Duration, where: str) -> None:
    shown = f"`{where} {show_duration(duration)}`"
    if duration.amount == 0:
        ctx.report(duration.span, f"{shown} lasts no time at all",
                   "use at least `1 minute`, or remove it")
    elif duration.amount < 0:
        ctx.report(duration.span, f"{shown} is negative; time only runs forward",
                   f"write `{show_duration(n.Duration(-duration.amount, duration.unit))}`")
    elif duration.approx_minutes > LIMIT_DAYS * _MINUTES_PER_DAY:
        ctx.report(duration.span, f"{shown} is longer than {LIMIT_DAYS} days",
                   "check the number and unit; for a fixed date far ahead use `wait until`")
