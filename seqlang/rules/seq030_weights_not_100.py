"""SEQ030: split or variant weights that do not add up to 100%.

Cohorts are drawn from one 0-100 range per enrollment; a total under 100 would
leave some contacts in no cohort, a total over 100 would make the written
percentages lie. A `split` is reported at its keyword; variants at the first
`variant` of the email or template that declares them.
"""

from __future__ import annotations

from .. import nodes as n
from ..diagnostics import ERROR
from . import RuleContext, rule
from .flow import flow
from .sites import find, step_head

TOTAL = 100


@rule("SEQ030", "weights-not-100", ERROR, "split or variant weights do not sum to 100%")
def check(ctx: RuleContext) -> None:
    for template in ctx.module.templates:
        _variants(ctx, template.body)
    for _, graph in ctx.sequences():
        for _, step in flow(graph).steps:
            if isinstance(step, n.Split):
                weights = [b.weight for b in step.branches]
                if sum(weights) != TOTAL:
                    shown = " + ".join(f"{w}%" for w in weights) or "no branches"
                    ctx.report(step_head(step, ctx.source),
                               f"split weights add up to {sum(weights)}% ({shown}), "
                               f"not {TOTAL}%", _fix(sum(weights)))
            elif isinstance(step, n.EmailStep) and step.body is not None:
                _variants(ctx, step.body)


def _variants(ctx: RuleContext, body: n.EmailBody) -> None:
    variants = body.variants
    total = sum(v.weight for v in variants)
    if not variants or total == TOTAL:
        return
    shown = " + ".join(f"{v.name} {v.weight}%" for v in variants)
    first = variants[0]
    span = find(ctx.source, first.span, r"variant\s+[A-Za-z_]\w*\s+\d+\s*%") or first.span
    ctx.report(span, f"variant weights add up to {total}% ({shown}), not {TOTAL}%", _fix(total))


def _fix(total: int) -> str:
    if total < TOTAL:
        return f"{TOTAL - total}% of contacts would get no cohort; make the weights total {TOTAL}%"
    return f"the weights are {total - TOTAL}% over; make them total {TOTAL}%"
