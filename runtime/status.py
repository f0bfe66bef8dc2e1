"""Where an enrollment stands and why: the answers `seqlang status` gives.

An operator asking "why has nobody been emailed?" needs the step, what it waits for (a wait,
a condition with its deadline, the send window, a retry), until when in the contact's own
time, and what to do about a paused or failed run. An overview per sequence adds the counts by
state and the sends whose fate is unknown, which need a person to look.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from runtime import schema as t
from runtime.claims import position_of
from runtime.deploy import deployed
from runtime.deployed import DeployedSequence
from runtime.engine import Position
from runtime.store import Store
from runtime.timing import OpenHours
from seqlang import formatter
from seqlang import nodes as n
from seqlang.graph import ENTRY, EXIT

E, V = t.enrollments, t.sequence_versions
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Explanation:
    enrollment: int
    sequence: str
    version: int
    email: str
    state: str
    time_zone: str
    step: str
    why: str  # one sentence: what it waits for, or how it ended
    until: str | None  # ISO, in the enrollment's zone
    reason: str | None
    sends: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    history: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        lines = [
            f"enrollment {self.enrollment}: {self.email} in {self.sequence} "
            f"(version {self.version}), {self.state}",
            f"  at step {self.step}: {self.why}",
        ]
        if self.reason and self.reason not in self.why:
            lines.append(f"  reason: {self.reason}")
        lines.append(f"  time zone: {self.time_zone}")
        for send in self.sends:
            lines.append(f"  send {send['step']} #{send['visit']}: {send['state']} "
                         f"{send['subject']!r} {send['message_id']}")
        for task in self.tasks:
            done = "done" if task["done_at"] else "open"
            lines.append(f"  task {task['id']} ({done}): {task['text']}")
        lines.append("  history:")
        for entry in self.history:
            extra = ", ".join(f"{k}={v}" for k, v in entry["detail"].items())
            lines.append(f"    {entry['at']}  {entry['kind']:<9} {entry['step']}"
                         + (f"  {extra}" if extra else ""))
        return "\n".join(lines)


def explain(store: Store, enrollment_id: int) -> Explanation:
    with store.read() as conn:
        row = conn.execute(
            sa.select(E, t.contacts.c.email, V.c.version)
            .join(t.contacts, t.contacts.c.id == E.c.contact_id)
            .join(V, V.c.id == E.c.version_id)
            .where(E.c.id == enrollment_id)
        ).first()
        if row is None:
            raise LookupError(f"no enrollment {enrollment_id}")
        sends = conn.execute(
            sa.select(t.sends.c.step, t.sends.c.visit, t.sends.c.state, t.sends.c.subject,
                      t.sends.c.message_id, t.sends.c.error, t.sends.c.sent_at)
            .where(t.sends.c.enrollment_id == enrollment_id).order_by(t.sends.c.id)
        ).all()
        tasks = conn.execute(
            sa.select(t.tasks.c.id, t.tasks.c.step, t.tasks.c.text, t.tasks.c.done_at)
            .where(t.tasks.c.enrollment_id == enrollment_id).order_by(t.tasks.c.id)
        ).all()
        history = conn.execute(
            sa.select(t.step_history.c.at, t.step_history.c.kind, t.step_history.c.step,
                      t.step_history.c.detail)
            .where(t.step_history.c.enrollment_id == enrollment_id)
            .order_by(t.step_history.c.id)
        ).all()
    zone = ZoneInfo(row.time_zone)
    seq = deployed(store, row.version_id)
    position = position_of(row)
    until = position.wakes_at
    return Explanation(
        enrollment=row.id,
        sequence=row.sequence,
        version=row.version,
        email=row.email,
        state=row.state,
        time_zone=row.time_zone,
        step=row.position,
        why=_why(row.state, position, seq, zone, row.reason),
        until=_local(until, zone) if until and row.state == "active" else None,
        reason=row.reason,
        sends=[{**s._asdict(), "sent_at": _local(s.sent_at, zone)} for s in sends],
        tasks=[{**k._asdict(), "done_at": _local(k.done_at, zone)} for k in tasks],
        history=[{**h._asdict(), "at": _local(h.at, zone)} for h in history],
    )


def _why(state: str, position: Position, seq: DeployedSequence, zone: ZoneInfo,
         reason: str | None) -> str:
    node = position.node
    if state == "completed":
        return "reached the end of the sequence"
    if state in ("exited", "failed"):
        return f"{state}: {reason}"
    if state == "paused":
        return f"paused: {reason}"
    if node == ENTRY:
        return "enrolled; the first step runs at the next tick"
    if node == EXIT:
        return "at the end; completes at the next tick"
    step = seq.graph.step(node)
    until = position.wakes_at
    when = _local(until, zone) if until else "now"
    if position.wait == "wait" and isinstance(step, n.Wait):
        return f"waiting ({formatter.duration(step.duration)}) until {when}"
    if position.wait == "until":
        return f"waiting until {when}"
    if position.wait == "within" and isinstance(step, n.If):
        cond = formatter.condition(step.branches[0].cond)
        return f"waiting for {cond} until {when}; if it has not happened by then, takes `else`"
    if position.wait == "window":
        assert seq.send_window is not None
        return (f"email due outside the send window {seq.window_name} "
                f"({describe_hours(seq.send_window)}, {zone.key}); it leaves at {when}")
    if position.wait == "retry":
        return (f"email failed to send with a transient error ({position.attempts} so far); "
                f"trying again at {when}")
    return "due: runs at the next tick"


def describe_hours(hours: OpenHours) -> str:
    days = ",".join(_DAYS[d] for d in sorted(hours.days))
    windows = ",".join(f"{a:%H:%M}-{b:%H:%M}" for a, b in hours.hours)
    closed = f", closed on {'/'.join(hours.holidays)} holidays" if hours.holidays else ""
    return f"{days} {windows}{closed}"


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None


@dataclass(frozen=True)
class SequenceStatus:
    sequence: str
    versions: int
    states: dict[str, int]
    unknown_sends: list[dict[str, Any]]  # each needs a person to check the mailbox
    failed: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def text(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.states.items())) or "no enrollments"
        lines = [f"{self.sequence} ({self.versions} version{'s' * (self.versions != 1)}): "
                 f"{counts}"]
        for send in self.unknown_sends:
            lines.append(f"  UNKNOWN send: enrollment {send['enrollment_id']} step {send['step']}"
                         f" {send['message_id']} to {send['to_address']}")
        for item in self.failed:
            lines.append(f"  failed: enrollment {item['id']}: {item['reason']}")
        return "\n".join(lines)


def overview(store: Store, sequence: str | None = None) -> list[SequenceStatus]:
    with store.read() as conn:
        names = [sequence] if sequence else list(conn.execute(
            sa.select(V.c.sequence).distinct().order_by(V.c.sequence)).scalars())
        out = []
        for name in names:
            versions = conn.execute(
                sa.select(sa.func.count()).where(V.c.sequence == name)).scalar_one()
            if not versions:
                raise LookupError(f"sequence {name!r} is not deployed")
            states = dict(conn.execute(
                sa.select(E.c.state, sa.func.count()).where(E.c.sequence == name)
                .group_by(E.c.state)).all())
            unknown = conn.execute(
                sa.select(t.sends.c.enrollment_id, t.sends.c.step, t.sends.c.message_id,
                          t.sends.c.to_address)
                .join(E, E.c.id == t.sends.c.enrollment_id)
                .where(E.c.sequence == name, t.sends.c.state == "unknown")
                .order_by(t.sends.c.id)).all()
            failed = conn.execute(
                sa.select(E.c.id, E.c.reason)
                .where(E.c.sequence == name, E.c.state == "failed").order_by(E.c.id)).all()
            out.append(SequenceStatus(name, versions, states,
                                      [u._asdict() for u in unknown],
                                      [f._asdict() for f in failed]))
    return out
