"""SEQ032: a schedule that is never open, or that the engine could not read.

Reported: no `days` (never open), no `hours` (never open), a time range that
does not start before it ends, time ranges that overlap (open time would count
twice in `business hours`), and a holiday calendar the `holidays` package does
not have ("US" or a subdivision "US-CA", aliases as the package accepts them).
"""

from __future__ import annotations

import difflib
from functools import lru_cache

import holidays

from .. import nodes as n
from ..diagnostics import ERROR
from . import RuleContext, rule
from .sites import STRING, find_all, name_span


@lru_cache(maxsize=1)
def _countries() -> dict[str, list[str]]:
    return holidays.list_supported_countries(include_aliases=True)


@lru_cache(maxsize=256)
def known_calendar(code: str) -> bool:
    country, _, subdivision = code.partition("-")
    if country not in _countries():
        return False
    if not subdivision or subdivision in _countries()[country]:
        return True
    aliases = getattr(holidays.country_holidays(country), "subdivisions_aliases", {})
    return subdivision in aliases


@rule("SEQ032", "bad-schedule", ERROR,
      "a schedule with no days or hours, a backwards or overlapping time range, "
      "or an unknown holiday calendar")
def check(ctx: RuleContext) -> None:
    for schedule in ctx.module.schedules:
        missing = [(what, example) for what, example, given in (
            ("days", "days mon-fri", schedule.weekdays),
            ("hours", "hours 09:00-17:00", schedule.time_ranges)) if not given]
        if missing:
            ctx.report(name_span(ctx.source, schedule),
                       f"schedule `{schedule.name}` has no "
                       + " and no ".join(what for what, _ in missing) + ", so it is never open",
                       "add " + " and ".join(f"`{example}`" for _, example in missing))
        _time_ranges(ctx, schedule.time_ranges)
        for entry in schedule.entries:
            if isinstance(entry, n.Holidays):
                _calendars(ctx, entry)


def _time_ranges(ctx: RuleContext, ranges: tuple[n.TimeRange, ...]) -> None:
    ordered = []
    for r in ranges:
        if r.start >= r.end:
            word = "ends when it starts" if r.start == r.end else "ends before it starts"
            ctx.report(r.span, f"time range `{r.start}-{r.end}` {word}",
                       "write the earlier time first; a range cannot pass midnight, so split "
                       "it: `hours 22:00-24:00, 00:00-02:00`")
        else:
            ordered.append(r)
    ordered.sort(key=lambda r: (r.start, r.span.line, r.span.column))
    widest: n.TimeRange | None = None  # of the ranges so far, the one that ends last
    for after in ordered:
        if widest is not None and after.start < widest.end:
            ctx.report(after.span,
                       f"time range `{after.start}-{after.end}` overlaps "
                       f"`{widest.start}-{widest.end}`",
                       "merge the overlapping ranges into one")
        if widest is None or after.end > widest.end:
            widest = after


def _calendars(ctx: RuleContext, entry: n.Holidays) -> None:
    spans = find_all(ctx.source, entry.span, STRING)
    for index, code in enumerate(entry.regions):
        if known_calendar(code):
            continue
        span = spans[index] if index < len(spans) else entry.span
        ctx.report(span, f'unknown holiday calendar "{code}"', _hint(code))


def _hint(code: str) -> str:
    country, _, subdivision = code.partition("-")
    if country in _countries():
        known = _countries()[country]
        if not known:
            return f'"{country}" has no subdivisions; write "{country}"'
        close = difflib.get_close_matches(subdivision.upper(), known, n=1)
        if close:
            return f'did you mean "{country}-{close[0]}"?'
        more = ", ..." if len(known) > 10 else ""
        return f'subdivisions of "{country}" are ' + ", ".join(known[:10]) + more
    close = difflib.get_close_matches(country.upper(), list(_countries()), n=1)
    if close:
        return f'did you mean "{close[0]}"?'
    return 'use a country code of the `holidays` package, e.g. "US" or "US-CA"'
