"""SEQ031: a time zone that is not in the IANA database.

The list is the one the engine resolves zones with (`zoneinfo`, backed by the
`tzdata` package), read once per process.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from zoneinfo import available_timezones

from .. import nodes as n
from ..diagnostics import ERROR
from . import RuleContext, rule
from .sites import STRING, find


@lru_cache(maxsize=1)
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


@lru_cache(maxsize=1)
def _by_lower_case() -> dict[str, str]:
    return {zone.lower(): zone for zone in known_zones()}


@rule("SEQ031", "unknown-timezone", ERROR, "a time zone that is not an IANA zone name")
def check(ctx: RuleContext) -> None:
    for seq in ctx.module.sequences:
        for setting in seq.settings:
            if isinstance(setting, n.Timezone) and setting.zone is not None:
                _check_zone(ctx, setting, setting.zone)


def _check_zone(ctx: RuleContext, setting: n.Timezone, zone: str) -> None:
    if zone not in known_zones():
        pattern = rf"timezone\s+(?:contact\s*\.\s*\w+\s+default\s+)?({STRING})"
        span = find(ctx.source, setting.span, pattern) or setting.span
        ctx.report(span, f'unknown time zone "{zone}"', _hint(zone))


def _hint(zone: str) -> str:
    same = _by_lower_case().get(zone.lower())
    close = [same] if same else difflib.get_close_matches(zone, sorted(known_zones()), n=1)
    if close:
        return f'did you mean "{close[0]}"?'
    return 'use an IANA zone name such as "America/New_York" or "Europe/Paris"'
