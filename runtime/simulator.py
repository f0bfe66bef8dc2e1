"""`seqlang simulate`: one contact through a sequence, in seconds, with scripted events.

The simulator is the production engine, not a model of it: it deploys the file into a private
in-memory database, enrolls the contact, and runs the same `process_due` tick with a virtual
clock that jumps from one due moment (or scripted event) to the next, sending through a
recording transport. The timeline is the enrollment's step history, with the scripted events
placed where they happened, every time shown in the enrollment's own zone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from runtime import schema as t
from runtime.config import EngineConfig
from runtime.deploy import prepare, store_versions
from runtime.enroll import EnrollError, contact_fields, enroll
from runtime.events import INGESTED_KINDS, record_event
from runtime.store import Store, open_store
from runtime.tick import process_due
from runtime.timing import add_calendar, local_moment, resolve_zone
from runtime.transports.memory import MemoryTransport

OWNER = "simulator"
MAX_TICKS = 10_000  # a sequence that keeps waking without end still stops
_OFFSET = re.compile(r"\+(\d+)(m|h|d|w)")


class SimulationError(ValueError):
    """The request cannot be simulated: a bad offset, event or contact."""


@dataclass(frozen=True)
class ScriptedEvent:
    kind: str
    label: str | None
    url: str | None
    at: datetime
    text: str


@dataclass(frozen=True)
class Simulation:
    sequence: str
    email: str
    time_zone: str
    start: str
    until: str
    state: str
    reason: str | None
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "contact": self.email,
            "time_zone": self.time_zone,
            "start": self.start,
            "until": self.until,
            "state": self.state,
            "reason": self.reason,
            "timeline": self.timeline,
        }

    def text(self) -> str:
        lines = [f"{self.sequence}: {self.email} ({self.time_zone}), {self.start} to {self.until}"]
        for entry in self.timeline:
            lines.append(f"{entry['at']}  {entry['kind']:<12} {entry['step']:<14} "
                         f"{_summary(entry)}".rstrip())
        ending = f"{self.state}" + (f": {self.reason}" if self.reason else "")
        lines.append(f"final state: {ending}")
        return "\n".join(lines)


def _summary(entry: dict[str, Any]) -> str:
    kind = entry["kind"]
    if kind == "sent":
        variant = f" (variant {entry['variant']})" if entry.get("variant") else ""
        return f"{entry['subject']!r} to {entry['to']}{variant}"
    parts = [f"until {entry['until']}" if "until" in entry else "",
             entry.get("route", ""), entry.get("reason", ""), entry.get("text", ""),
             entry.get("url", ""), entry.get("note", "")]
    return "  ".join(p for p in parts if p)


def parse_moment(text: str, start: datetime, zone: ZoneInfo) -> datetime:
    """`+90m`, `+26h`, `+3d`, `+2w` after `start`, or an ISO time (local to `zone` when it
    has no offset). Minutes and hours are elapsed time; days and weeks keep the local time of
    day across DST, as `wait` does."""
    text = text.strip()
    match = _OFFSET.fullmatch(text)
    if match:
        amount, unit = int(match[1]), match[2]
        if unit in "dw" and amount:
            return add_calendar(start, amount, "day" if unit == "d" else "week", zone)
        return start + timedelta(minutes=amount * (60 if unit == "h" else 1))
    try:
        return local_moment(text, zone)
    except ValueError:
        raise SimulationError(
            f"{text!r} is neither an offset (+90m, +26h, +3d, +2w) nor an ISO time") from None


def parse_event(text: str, start: datetime, zone: ZoneInfo) -> ScriptedEvent:
    """`KIND [LABEL] [URL] +OFFSET`, e.g. `opened welcome +2h` or `clicked content
    https://example.com/tips +1d`."""
    words = text.split()
    if len(words) < 2 or words[0] not in INGESTED_KINDS:
        raise SimulationError(
            f"event {text!r}: expected `KIND [LABEL] [URL] +OFFSET` with KIND one of "
            + ", ".join(INGESTED_KINDS))
    kind, *middle, when = words
    label = url = None
    for word in middle:
        if "://" in word:
            url = word
        elif label is None:
            label = word
        else:
            raise SimulationError(f"event {text!r}: unexpected {word!r}")
    if url is not None and kind != "clicked":
        raise SimulationError(f"event {text!r}: only `clicked` takes a URL")
    return ScriptedEvent(kind, label, url, parse_moment(when, start, zone), text)


def simulate(path: str | Path, contact: Mapping[str, Any], *, start: datetime | str,
             events: Sequence[str] = (), until: str = "+30d", sequence: str | None = None,
             config: EngineConfig | None = None, enrollment_id: int | None = None
             ) -> Simulation:
    """Run one contact through the sequence from `start` (an aware datetime, or ISO text that
    is local to the enrollment's zone without an offset) until `until` (offset or ISO).

    `enrollment_id` makes the simulated enrollment carry that id, so that its split cohorts
    and email variants, which are drawn from the id, are those of that real enrollment."""
    prepared = prepare(path)
    name = _sequence_name(sequence, list(prepared.sequences))
    seq = prepared.sequences[name]
    contact = {"email": "contact@example.com", **contact}
    try:
        email, fields = contact_fields(contact, seq)
    except EnrollError as error:
        raise SimulationError(f"contact: {error}") from None
    zone = resolve_zone(fields.get(seq.zone_field) if seq.zone_field else None,
                        seq.zone_default)
    if isinstance(start, str):
        try:
            begin = local_moment(start, zone)
        except ValueError:
            raise SimulationError(f"--start {start!r} is not an ISO date-time") from None
    else:
        begin = start
    end = parse_moment(until, begin, zone)
    script = sorted((parse_event(e, begin, zone) for e in events), key=lambda e: e.at)
    for event in script:
        if event.label is not None and event.label not in seq.emails:
            raise SimulationError(
                f"event {event.text!r}: {name} has no email step {event.label!r}; its email "
                "steps are " + ", ".join(seq.emails))
    store = open_store("sqlite://")
    try:
        store_versions(store, prepared, begin)
        enrolled = enroll(store, name, contact, begin)
        if enrollment_id is not None:
            with store.write() as conn:
                conn.execute(sa.update(t.enrollments).where(t.enrollments.c.id == enrolled)
                             .values(id=enrollment_id))
            enrolled = enrollment_id
        run = _Run(store, enrolled, zone, config or EngineConfig())
        run.play(begin, end, script)
        state, reason = run.final()
    finally:
        store.close()
    return Simulation(name, email, zone.key, _iso(begin, zone), _iso(end, zone), state, reason,
                      run.timeline)


def _sequence_name(wanted: str | None, names: list[str]) -> str:
    if wanted is not None:
        if wanted not in names:
            raise SimulationError(f"no sequence {wanted!r}; the file has " + ", ".join(names))
        return wanted
    if len(names) > 1:
        raise SimulationError("the file has several sequences; choose one with --sequence: "
                              + ", ".join(names))
    return names[0]


class _Run:
    def __init__(self, store: Store, enrollment: int, zone: ZoneInfo,
                 config: EngineConfig) -> None:
        self.store = store
        self.enrollment = enrollment
        self.zone = zone
        self.config = config
        self.transport = MemoryTransport()
        self.timeline: list[dict[str, Any]] = []
        self._seen = 0

    def play(self, begin: datetime, end: datetime, script: list[ScriptedEvent]) -> None:
        now = begin
        self._tick(now)
        for _ in range(MAX_TICKS):
            due = self._next_run()
            moments = [m for m in (due, script[0].at if script else None) if m is not None]
            if not moments or min(moments) > end:
                return
            now = max(now, min(moments))
            while script and script[0].at <= now:
                self._fire(script.pop(0), now)
            self._tick(now)

    def _tick(self, now: datetime) -> None:
        process_due(self.store, self.transport, now, OWNER, config=self.config)
        H = t.step_history
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(H.c.id, H.c.at, H.c.kind, H.c.step, H.c.detail)
                .where(H.c.enrollment_id == self.enrollment, H.c.id > self._seen)
                .order_by(H.c.id)).all()
        for row in rows:
            self._seen = row.id
            detail = dict(row.detail)
            detail.pop("message_id", None)
            if "until" in detail:
                detail["until"] = _iso(datetime.fromisoformat(detail["until"]), self.zone)
            if row.kind == "sent":
                detail.setdefault("variant", None)
            self.timeline.append({"at": _iso(row.at, self.zone), "kind": row.kind,
                                  "step": row.step, **detail})

    def _fire(self, event: ScriptedEvent, now: datetime) -> None:
        S = t.sends
        query = sa.select(S.c.id, S.c.step).where(S.c.enrollment_id == self.enrollment,
                                                  S.c.state == "sent")
        if event.label is not None:
            query = query.where(S.c.step == event.label)
        with self.store.read() as conn:
            send = conn.execute(query.order_by(S.c.id.desc()).limit(1)).first()
        entry: dict[str, Any] = {"at": _iso(event.at, self.zone), "kind": event.kind,
                                 "step": event.label or (send.step if send else "")}
        if event.url:
            entry["url"] = event.url
        if send is None:
            which = f"email {event.label}" if event.label else "email"
            entry["note"] = f"ignored: no {which} had been sent by then"
        else:
            record_event(self.store, event.kind, send_id=send.id, url=event.url, now=now,
                         at=event.at)
        self.timeline.append(entry)

    def _next_run(self) -> datetime | None:
        E = t.enrollments
        with self.store.read() as conn:
            return conn.execute(sa.select(E.c.next_run_at).where(
                E.c.id == self.enrollment, E.c.state == "active")).scalar()

    def final(self) -> tuple[str, str | None]:
        E = t.enrollments
        with self.store.read() as conn:
            row = conn.execute(sa.select(E.c.state, E.c.reason)
                               .where(E.c.id == self.enrollment)).one()
        return row.state, row.reason


def _iso(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="seconds")
