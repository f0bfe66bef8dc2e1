"""SEQ051: `opened(L)` or `clicked(L)` while `track` turns that tracking off.

Without the tracking pixel or rewritten links the engine never learns of an
open or a click, so the test can never be true, whatever its `not`s make of
it. Conditions in `exit when` and in every `if` are checked.
"""

from __future__ import annotations

from .. import nodes as n
from ..diagnostics import ERROR
from . import RuleContext, rule
from .flow import flow
from .sites import atoms, show_cond


@rule("SEQ051", "untracked-event", ERROR,
      "`opened`/`clicked` while `track` turns that tracking off (it can never be true)")
def check(ctx: RuleContext) -> None:
    for seq, graph in ctx.sequences():
        track = seq.track
        if track.opens and track.clicks:
            continue
        setting = "track none" if not (track.opens or track.clicks) else (
            "track opens" if track.opens else "track clicks")
        for site in flow(graph).sites:
            for atom, _ in atoms(site.cond):
                if not isinstance(atom, n.EventCond):
                    continue
                off = ((atom.kind == "opened" and not track.opens)
                       or (atom.kind == "clicked" and not track.clicks))
                if off:
                    what = "opens" if atom.kind == "opened" else "clicks"
                    ctx.report(atom.span,
                               f"`{show_cond(atom)}` can never be true: `{setting}` on line "
                               f"{track.span.line} turns off tracking of {what}",
                               f"add `{what}` to the `track` setting, or test something else")
