"""The walker: what each step means, for the production tick and the simulator alike.

A `Walk` takes one enrollment from where it stands along THE step graph of its deployed
version (`seqlang.graph.lower`; successors come from each node's `routes`, never from the IR)
until it must wait or ends. It is pure: the clock is an argument (`now`; nothing here reads
the system time), and at each email the walk stops with a `PendingSend` that the caller hands
to a `Mailer` (which reserves, sends and records it) before resuming the walk with the
outcome. Everything else the walk does (history, tasks, webhook rows, the new position) comes
back as data for the caller to write in one transaction.

Position: the node the enrollment is at, already entered. Entering a node counts a visit;
(enrollment, node, visit) names an email send, so a re-walk after a crash finds the same send
instead of making a second one. `wait`/`resume_at`/`deadline` say what a waiting enrollment
waits for, separately from `next_run_at`, so that an event can wake it early to re-check
`exit when` and `within` conditions and put it back to sleep when nothing changed.

Every executed step is logged to `seqlang.engine` as one record whose `extra` fields are
`enrollment`, `step`, `outcome`, `duration_ms` and `reason`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time as perf
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from runtime.backoff import backoff
from runtime.conditions import Facts, holds
from runtime.config import EngineConfig
from runtime.deployed import DeployedSequence, EmailPlan, EmailVersion, Source
from runtime.message import MessageError, OutgoingMessage, build_message, parse_mailbox
from runtime.message import reply_subject as re_subject
from runtime.render import RenderError, email_context, html_to_text
from runtime.timing import (
    add_business_days,
    add_business_hours,
    add_calendar,
    add_elapsed,
    is_open,
    local_moment,
    next_open,
)
from runtime.tracking import SendKey, track_html, unsubscribe_url
from seqlang import formatter
from seqlang import nodes as n
from seqlang.graph import ENTRY, EXIT

log = logging.getLogger("seqlang.engine")
# What a waiting enrollment waits for, in the words of the step log's `reason`.
_WAITS = {"wait": "wait", "until": "wait until", "within": "condition within a deadline",
          "window": "send window", "retry": "send retry"}


@dataclass(frozen=True, slots=True)
class Position:
    node: str = ENTRY
    wait: str | None = None  # "wait", "until", "within", "window" or "retry"
    resume_at: datetime | None = None
    deadline: datetime | None = None
    visits: Mapping[str, int] = field(default_factory=dict)
    variants: Mapping[str, str] = field(default_factory=dict)
    cohorts: Mapping[str, int] = field(default_factory=dict)
    steps: int = 0
    attempts: int = 0  # transient send failures of the email at this node

    @property
    def wakes_at(self) -> datetime | None:
        return self.deadline if self.wait == "within" else self.resume_at


@dataclass(frozen=True, slots=True)
class SentEmail:
    """A send on record for this enrollment, in any state."""

    step: str
    visit: int
    state: str
    message_id: str
    thread_id: str | None
    subject: str


@dataclass(frozen=True)
class Enrollment:
    id: int
    email: str
    zone: ZoneInfo
    position: Position
    facts: Facts
    sends: Sequence[SentEmail] = ()


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    at: datetime
    kind: str  # sent waiting branch task webhook exited completed failed skipped paused
    step: str
    detail: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NewTask:
    step: str
    visit: int
    text: str


@dataclass(frozen=True, slots=True)
class NewWebhook:
    step: str
    visit: int
    url: str
    body: str


@dataclass(frozen=True)
class Effects:
    """What the walk produced and nobody has written yet."""

    history: list[HistoryEntry] = field(default_factory=list)
    tasks: list[NewTask] = field(default_factory=list)
    webhooks: list[NewWebhook] = field(default_factory=list)


@dataclass(frozen=True)
class SendRequest:
    enrollment_id: int
    step: str
    visit: int
    variant: str | None
    message: OutgoingMessage
    retry: bool = False  # an earlier attempt under the same key failed before acceptance


@dataclass(frozen=True, slots=True)
class Sent:
    message_id: str
    thread_id: str


@dataclass(frozen=True, slots=True)
class Suppressed:
    reason: str


@dataclass(frozen=True, slots=True)
class Transient:
    reason: str
    retry_after: float | None = None


@dataclass(frozen=True, slots=True)
class Permanent:
    reason: str


@dataclass(frozen=True, slots=True)
class Unknown:
    reason: str


@dataclass(frozen=True, slots=True)
class LeaseLost:
    """Another worker owns the enrollment now; this walk must write nothing more."""


SendOutcome = Sent | Suppressed | Transient | Permanent | Unknown | LeaseLost


@dataclass(frozen=True)
class PendingSend:
    """A walk stopped at an email: send this, then resume the walk with the outcome."""

    request: SendRequest


class Mailer(Protocol):
    def send(self, pending: PendingSend) -> SendOutcome:
        """Reserve, send, record. The transport's failures come back as outcomes, never
        raised."""


@dataclass(frozen=True)
class WalkResult:
    state: str  # active paused completed exited failed
    position: Position
    next_run_at: datetime | None
    reason: str | None
    effects: Effects
    lease_lost: bool = False
    sent: int = 0
    retried: bool = False


def pick(enrollment_id: int, node: str, weights: Sequence[int]) -> int:
    """A weighted choice fixed by (enrollment, node): the same answer on every walk and worker."""
    digest = hashlib.sha256(f"{enrollment_id}\x00{node}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % sum(weights)
    for index, weight in enumerate(weights):
        if point < weight:
            return index
        point -= weight
    raise AssertionError("unreachable: point < sum(weights)")


def retry_delay(attempt: int, enrollment_id: int, config: EngineConfig,
                retry_after: float | None = None) -> timedelta:
    """When to try a transient failure again; a provider's Retry-After is a floor."""
    delay = backoff(attempt, f"send:{enrollment_id}", config.retry_base, config.retry_cap)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


@dataclass(frozen=True, slots=True)
class _Route:
    route: str


@dataclass(frozen=True, slots=True)
class _Sleep:
    position: Position


@dataclass(frozen=True, slots=True)
class _End:
    state: str
    reason: str | None


_Result = _Route | _Sleep | _End


class Walk:
    """One enrollment's walk, stopped at each email so that sending (the store and the
    transport) stays outside it: `start()`, then `resume(outcome)` while it returns a
    PendingSend."""

    def __init__(self, sequence: DeployedSequence, enrollment: Enrollment, now: datetime,
                 config: EngineConfig) -> None:
        self.seq = sequence
        self.enr = enrollment
        self.now = now
        self.config = config
        self.pos = enrollment.position
        self.effects = Effects()
        self.sends = {(s.step, s.visit): s for s in enrollment.sends}
        self.sent = 0
        self.retried = False
        self._said: str | None = None  # the history kind the current step recorded, if any
        self._said_reason: str | None = None
        self._walking = self._run()
        self._steps: dict[str, Callable[[str, Any], _Result]] = {
            "wait": self._wait,
            "wait-until": self._wait_until,
            "if": self._if,
            "split": self._split,
            "goto": lambda node, step: _Route("goto"),
            "exit": self._exit,
            "task": self._task,
            "webhook": self._webhook,
        }

    def start(self) -> WalkResult | PendingSend:
        return self._continue(None)

    def resume(self, outcome: SendOutcome) -> WalkResult | PendingSend:
        return self._continue(outcome)

    def _continue(self, outcome: SendOutcome | None) -> WalkResult | PendingSend:
        try:
            return self._walking.send(outcome)
        except StopIteration as done:
            return done.value

    # -- the loop ------------------------------------------------------------------------

    def _run(self) -> Generator[PendingSend, SendOutcome, WalkResult]:
        graph = self.seq.graph
        if self.pos.node == ENTRY and (ended := self._enter(graph.routes(ENTRY)["next"])):
            return ended
        while True:
            node = self.pos.node
            if node == EXIT:
                self._history("completed", node)
                return self._result("completed", None)
            if holds(self.seq.exit_when, self.enr.facts):
                reason = f"exit when {formatter.condition(self.seq.exit_when)}"
                self._history("exited", node, reason=reason)
                return self._result("exited", reason)
            started = perf.perf_counter()
            self._said = self._said_reason = None
            kind = graph.graph.nodes[node]["kind"]
            try:
                if kind == "email":
                    outcome = yield from self._email(node, graph.step(node))
                else:
                    outcome = self._steps[kind](node, graph.step(node))
            except _LeaseLostError:
                self._log(node, "lease lost", started, None)
                return self._result("active", None, lease_lost=True)
            if isinstance(outcome, _Route):
                said = self._said if self._said in _ACTIONS else outcome.route
                self._log(node, said, started, self._said_reason)
                target = graph.routes(node).get(outcome.route)
                if target is None:
                    reason = f"step {node}: no `{outcome.route}` route in the step graph"
                    return self._fail(node, reason)
                if ended := self._enter(target):
                    return ended
            elif isinstance(outcome, _Sleep):
                self._log(node, "waiting", started, _WAITS.get(outcome.position.wait or ""))
                self.pos = outcome.position
                return self._result("active", None)
            else:
                self._log(node, outcome.state, started, outcome.reason)
                self._history(outcome.state, node, reason=outcome.reason)
                return self._result(outcome.state, outcome.reason)

    def _enter(self, node: str) -> WalkResult | None:
        visits = dict(self.pos.visits)
        if node != EXIT:
            visits[node] = visits.get(node, 0) + 1
        self.pos = replace(self.pos, node=node, wait=None, resume_at=None, deadline=None,
                           visits=visits, steps=self.pos.steps + 1, attempts=0)
        if self.pos.steps > self.config.max_steps:
            reason = (f"step budget of {self.config.max_steps} steps used up at {node}: "
                      "a `goto` loop that never waits or ends?")
            return self._fail(node, reason)
        return None

    def _fail(self, node: str, reason: str) -> WalkResult:
        self._history("failed", node, reason=reason)
        return self._result("failed", reason)

    def _result(self, state: str, reason: str | None, lease_lost: bool = False) -> WalkResult:
        wakes = self.pos.wakes_at if state == "active" else None
        return WalkResult(state, self.pos, wakes, reason, self.effects, lease_lost, self.sent,
                          self.retried)

    def _history(self, kind: str, node: str, **detail: Any) -> None:
        self._said, self._said_reason = kind, detail.get("reason")
        clean = {k: v for k, v in detail.items() if v is not None}
        self.effects.history.append(HistoryEntry(self.now, kind, node, clean))

    def _log(self, node: str, outcome: str, started: float, reason: str | None) -> None:
        if log.isEnabledFor(logging.INFO):
            duration = (perf.perf_counter() - started) * 1000
            log.info(
                "enrollment %s step %s: %s%s",
                self.enr.id, node, outcome, f" ({reason})" if reason else "",
                extra={"enrollment": self.enr.id, "step": node, "outcome": outcome,
                       "duration_ms": round(duration, 3), "reason": reason},
            )

    def _visit(self, node: str) -> int:
        return self.pos.visits.get(node, 1)

    def _sleep(self, wait: str, *, until: datetime) -> _Sleep:
        if wait == "within":
            return _Sleep(replace(self.pos, wait=wait, deadline=until))
        return _Sleep(replace(self.pos, wait=wait, resume_at=until))

    def _later(self, duration: n.Duration, start: datetime) -> datetime:
        zone, amount, unit = self.enr.zone, duration.amount, duration.unit
        if unit == "minute":
            return add_elapsed(start, amount)
        if unit == "hour":
            return add_elapsed(start, amount * 60)
        if unit in ("day", "week"):
            return add_calendar(start, amount, unit, zone)
        if unit == "business_day":
            return add_business_days(start, amount, self.seq.business_hours, zone)
        return add_business_hours(start, amount, self.seq.business_hours, zone)

    # -- steps -----------------------------------------------------------------------------

    def _wait(self, node: str, step: n.Wait) -> _Result:
        if self.pos.wait == "wait" and self.pos.resume_at is not None:
            return _Route("next") if self.now >= self.pos.resume_at else _Sleep(self.pos)
        until = self._later(step.duration, self.now)
        self._history("waiting", node, until=until.isoformat(),
                      reason=formatter.duration(step.duration))
        return self._sleep("wait", until=until)

    def _wait_until(self, node: str, step: n.WaitUntil) -> _Result:
        if self.pos.wait == "until" and self.pos.resume_at is not None:
            return _Route("next") if self.now >= self.pos.resume_at else _Sleep(self.pos)
        until = local_moment(step.at, self.enr.zone)
        if until <= self.now:
            return _Route("next")
        self._history("waiting", node, until=until.isoformat(), reason=f"until {step.at}")
        return self._sleep("until", until=until)

    def _if(self, node: str, step: n.If) -> _Result:
        facts = self.enr.facts
        if step.within is None:
            for index, branch in enumerate(step.branches):
                if holds(branch.cond, facts):
                    self._history("branch", node, route=f"then:{index}",
                                  reason=formatter.condition(branch.cond))
                    return _Route(f"then:{index}")
            self._history("branch", node, route="else")
            return _Route("else")
        cond = step.branches[0].cond
        if holds(cond, facts):
            self._history("branch", node, route="then:0", reason=formatter.condition(cond))
            return _Route("then:0")
        watch = f"{formatter.condition(cond)} within {formatter.duration(step.within)}"
        if self.pos.wait == "within" and self.pos.deadline is not None:
            if self.now < self.pos.deadline:
                return _Sleep(self.pos)
            self._history("branch", node, route="timeout", reason=f"no {watch}")
            return _Route("timeout")
        deadline = self._later(step.within, self.now)
        self._history("waiting", node, until=deadline.isoformat(), reason=watch)
        return self._sleep("within", until=deadline)

    def _split(self, node: str, step: n.Split) -> _Result:
        cohort = self.pos.cohorts.get(node)
        if cohort is None:
            cohort = pick(self.enr.id, node, [b.weight for b in step.branches])
            self.pos = replace(self.pos, cohorts={**self.pos.cohorts, node: cohort})
        self._history("branch", node, route=f"split:{cohort}",
                      reason=f"{step.branches[cohort].weight}% cohort")
        return _Route(f"split:{cohort}")

    def _exit(self, node: str, step: n.Exit) -> _Result:
        return _End("exited", step.reason or f"exit step {node}")

    def _task(self, node: str, step: n.Task) -> _Result:
        self.effects.tasks.append(NewTask(node, self._visit(node), step.text))
        self._history("task", node, text=step.text)
        return _Route("next")

    def _webhook(self, node: str, step: n.Webhook) -> _Result:
        body = json.dumps(
            {
                "event": "step",
                "sequence": self.seq.name,
                "version": self.seq.version_id,
                "enrollment": self.enr.id,
                "step": node,
                "visit": self._visit(node),
                "contact": {"email": self.enr.email, "fields": dict(self.enr.facts.fields)},
                "at": self.now.isoformat(),
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        self.effects.webhooks.append(NewWebhook(node, self._visit(node), step.url, body))
        self._history("webhook", node, url=step.url)
        return _Route("next")

    # -- email -----------------------------------------------------------------------------

    def _email(self, node: str, step: n.EmailStep
               ) -> Generator[PendingSend, SendOutcome, _Result]:
        visit = self._visit(node)
        prior = self.sends.get((node, visit))
        if prior is not None and prior.state in ("sent", "unknown"):
            return _Route("next")
        if self.enr.facts.suppression is not None:
            self._history("skipped", node, reason=f"address {self.enr.facts.suppression}")
            return _Route("next")
        retrying = self.pos.wait == "retry" and self.pos.resume_at is not None
        if retrying and self.now < self.pos.resume_at:
            return _Sleep(self.pos)
        window = None if self.config.ignore_send_window else self.seq.send_window
        if window is not None and not is_open(self.now, window, self.enr.zone):
            opens = next_open(self.now, window, self.enr.zone)
            if self.pos.wait != "window":
                self._history("waiting", node, until=opens.isoformat(), reason="send window")
            return self._sleep("window", until=opens)
        plan = self.seq.emails[node]
        version = self._version(node, plan)
        try:
            message = self._compose(node, plan, version, visit)
        except (RenderError, MessageError) as error:
            return _End("failed", f"step {node}: {error}")
        request = SendRequest(self.enr.id, node, visit, version.variant, message,
                              retry=prior is not None)
        outcome = yield PendingSend(request)
        if isinstance(outcome, LeaseLost):
            raise _LeaseLostError
        return self._sent(node, visit, version, message, outcome)

    def _sent(self, node: str, visit: int, version: EmailVersion, message: OutgoingMessage,
              outcome: SendOutcome) -> _Result:
        if isinstance(outcome, Sent):
            self.sends[(node, visit)] = SentEmail(node, visit, "sent", outcome.message_id,
                                                  outcome.thread_id, message.subject)
            self.sent += 1
            self._history("sent", node, subject=message.subject, to=message.to,
                          variant=version.variant, message_id=outcome.message_id)
            return _Route("next")
        if isinstance(outcome, Suppressed):
            self._history("skipped", node, reason=f"address {outcome.reason}")
            return _Route("next")
        if isinstance(outcome, Transient):
            attempts = self.pos.attempts + 1
            if attempts >= self.config.max_send_attempts:
                return _End("failed", f"step {node}: gave up after {attempts} attempts: "
                            f"{outcome.reason}")
            delay = retry_delay(attempts, self.enr.id, self.config, outcome.retry_after)
            self.pos = replace(self.pos, attempts=attempts)
            self.retried = True
            until = self.now + delay
            self._history("waiting", node, until=until.isoformat(),
                          reason=f"retry {attempts} after transient error: {outcome.reason}")
            return self._sleep("retry", until=until)
        if isinstance(outcome, Permanent):
            return _End("failed", f"step {node}: {outcome.reason}")
        assert isinstance(outcome, Unknown)
        return _End("paused", outcome.reason)

    def _version(self, node: str, plan: EmailPlan) -> EmailVersion:
        if len(plan.versions) == 1:
            return plan.versions[0]
        chosen = self.pos.variants.get(node)
        for version in plan.versions:
            if version.variant == chosen:
                return version
        index = pick(self.enr.id, node, [v.weight for v in plan.versions])
        version = plan.versions[index]
        self.pos = replace(self.pos, variants={**self.pos.variants, node: version.variant})
        return version

    def _compose(self, node: str, plan: EmailPlan, version: EmailVersion,
                 visit: int) -> OutgoingMessage:
        sender_text = version.sender or self.seq.sender
        if sender_text is None:
            raise MessageError("from", "no sender: set `from` on the sequence or the email")
        sender_name, sender_address = parse_mailbox(sender_text, "from")
        key = SendKey(self.enr.id, node, visit)
        unsubscribe = unsubscribe_url(key, self.config)
        context = email_context(
            contact={**self.enr.facts.fields, "email": self.enr.email},
            sender={"name": sender_name, "email": sender_address},
            sequence={"name": self.seq.name, "display_name": self.seq.display_name},
            step={"id": node, "visit": visit},
            unsubscribe_url=unsubscribe,
        )
        replied = self._latest_send(plan.reply_to) if plan.reply_to else None
        subject_source = version.parts.get("subject")
        if subject_source is not None:
            subject = self._render("subject", subject_source, context)
        elif replied is not None:
            subject = re_subject(replied.subject)
        else:
            raise MessageError("subject", f"email {node} has no subject")
        bodies = version.body_parts()
        if not bodies:
            raise MessageError("body", f"email {node} has no body")
        html = self._render("html", bodies["html"], context) if "html" in bodies else None
        text = (self._render("text", bodies["text"], context) if "text" in bodies
                else html_to_text(html or ""))
        if html is not None:  # after the text part, which keeps the links as written
            html = track_html(html, key, self.seq.track, self.config)
        thread: dict[str, Any] = {}
        if replied is not None:
            thread = {
                "in_reply_to": replied.message_id,
                "references": self._thread_ids(replied),
                "thread_id": replied.thread_id,
            }
        return build_message(
            sender=(sender_name, sender_address),
            to=(None, self.enr.email),
            subject=subject,
            text=text,
            html=html,
            unsubscribe_url=unsubscribe,
            msgid_domain=self.config.msgid_domain,
            date=self.now,
            **thread,
        )

    def _render(self, part: Any, source: Source, context: Mapping[str, Any]) -> str:
        try:
            return self.seq.renderer.render(part, source.template(), context)
        except RenderError as error:
            raise RenderError(error.part, source.label, error.reason, error.line) from error

    def _latest_send(self, node: str) -> SentEmail | None:
        found = [s for s in self.sends.values() if s.step == node and s.state != "failed"]
        return max(found, key=lambda s: s.visit) if found else None

    def _thread_ids(self, replied: SentEmail) -> list[str]:
        """Earlier Message-IDs of the thread, oldest first, ending with the one replied to."""
        if replied.thread_id is None:
            return [replied.message_id]
        ids = [s.message_id for s in self.sends.values() if s.thread_id == replied.thread_id
               and s.message_id != replied.message_id and s.state != "failed"]
        return [*ids, replied.message_id]


_ACTIONS = frozenset({"sent", "skipped", "task", "webhook"})


class _LeaseLostError(Exception):
    """Unwinds the walk when the mailer finds the lease gone."""

