"""A deployed sequence version as the engine runs it: graph, settings, schedules and emails.

Built once per version and process from the stored bundle (never from files on disk), so the
walk itself only looks things up. What an email step sends comes from
`seqlang.templates.email_versions`, the same resolution the checker's template rules use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from runtime.bundle import Bundle, file_key, unbundle
from runtime.render import Renderer, TemplateSource, looks_like_html
from runtime.timing import DEFAULT_OPEN_HOURS, OpenHours
from seqlang import nodes as n
from seqlang.graph import StepGraph, lower
from seqlang.loader import Scope
from seqlang.templates import SUBJECT, email_versions


@dataclass(frozen=True, slots=True)
class Source:
    """One template part: its text and the name errors should show (file key or .seq place)."""

    text: str
    label: str
    file: str | None

    def template(self) -> TemplateSource:
        return TemplateSource(text=self.text)


@dataclass(frozen=True, slots=True)
class EmailVersion:
    """What one cohort of an email step sends; `variant` None when the step has no variants."""

    variant: str | None
    weight: int
    parts: dict[str, Source]
    sender: str | None

    def body_parts(self) -> dict[str, Source]:
        """`text`/`html` sources, a `body` placed by what it looks like (see runtime.render)."""
        out = {k: v for k, v in self.parts.items() if k in ("text", "html")}
        body = self.parts.get("body")
        if body is not None:
            out["html" if looks_like_html(body.text, body.file) else "text"] = body
        return out


@dataclass(frozen=True, slots=True)
class EmailPlan:
    node: str
    versions: tuple[EmailVersion, ...]
    reply_to: str | None  # node id of the email this one answers
    inherits_subject: bool  # a reply without a subject of its own: "Re: <that subject>"


@dataclass(frozen=True)
class DeployedSequence:
    version_id: int
    name: str
    display_name: str
    graph: StepGraph
    sender: str | None
    zone_field: str | None
    zone_default: str | None
    send_window: OpenHours | None  # `send on`; None sends at any time
    window_name: str | None
    business_hours: OpenHours  # what business waits count
    exit_when: n.Cond
    track: n.Track
    emails: dict[str, EmailPlan]
    fields: dict[str, n.ContactField]
    renderer: Renderer


def open_hours(schedule: n.Schedule) -> OpenHours:
    """A `schedule` declaration as timing's OpenHours; `24:00` closes at the end of the day."""
    def clock(text: str) -> time:
        return time.max if text == "24:00" else time.fromisoformat(text)

    windows = sorted((clock(r.start), clock(r.end)) for r in schedule.time_ranges)
    return OpenHours(schedule.weekdays, tuple(windows), schedule.holiday_regions)


def build(version_id: int, sequence_name: str, bundle: Bundle) -> DeployedSequence:
    program = unbundle(bundle)
    sequence = next(s for s in program.root.sequences if s.name == sequence_name)
    scope = program.scope(program.root)
    graph = lower(sequence)

    send_on = sequence.setting(n.SendOn)
    window = None
    if isinstance(send_on, n.SendOn):
        window = open_hours(scope.schedules[send_on.schedule.name])
    zone = sequence.setting(n.Timezone)
    sender = sequence.setting(n.Sender)
    display = sequence.setting(n.DisplayName)
    emails = {
        node: _email_plan(node, step, scope, graph, bundle)
        for node in graph.step_nodes()
        if isinstance(step := graph.step(node), n.EmailStep)
    }
    return DeployedSequence(
        version_id=version_id,
        name=sequence.name,
        display_name=display.text if isinstance(display, n.DisplayName) else sequence.name,
        graph=graph,
        sender=sender.address if isinstance(sender, n.Sender) else None,
        zone_field=zone.field.name if isinstance(zone, n.Timezone) and zone.field else None,
        zone_default=zone.zone if isinstance(zone, n.Timezone) else None,
        send_window=window,
        window_name=send_on.schedule.name if isinstance(send_on, n.SendOn) else None,
        business_hours=window or DEFAULT_OPEN_HOURS,
        exit_when=sequence.exit_when,
        track=sequence.track,
        emails=emails,
        fields=dict(scope.fields),
        renderer=Renderer(),
    )


def _email_plan(node: str, step: n.EmailStep, scope: Scope, graph: StepGraph,
                bundle: Bundle) -> EmailPlan:
    template = scope.templates.get(step.template.name) if step.template else None
    layers = [b for b in (template.body if template else None, step.body) if b is not None]
    weights = next(({v.name: v.weight for v in b.variants} for b in reversed(layers)
                    if b.variants), {})
    senders = _senders(layers)
    versions = tuple(
        EmailVersion(
            variant=version.variant,
            weight=weights.get(version.variant, 100) if version.variant else 100,
            parts={p.key: _source(p.field, bundle) for p in version.parts},
            sender=senders.get(version.variant, senders.get(None)),
        )
        for version in email_versions(step, scope)
    )
    reply_to = graph.label_node(step.reply_to.name) if step.reply_to else None
    inherits = reply_to is not None and any(SUBJECT not in v.parts for v in versions)
    return EmailPlan(node, versions, reply_to, inherits)


def _senders(layers: list[n.EmailBody]) -> dict[str | None, str]:
    """`from` per variant (None: the step's or template's own), later layers winning."""
    out: dict[str | None, str] = {}
    for body in layers:
        found = body.get("from")
        if found is not None:
            out[None] = found.value.text
        for variant in body.variants:
            for fld in variant.fields:
                if fld.key == "from":
                    out[variant.name] = fld.value.text
    return out


def _source(fld: n.ContentField, bundle: Bundle) -> Source:
    value = fld.value
    if value.file:
        key = file_key(value.span.file, value.text)
        return Source(bundle.files[key], key, key)
    return Source(value.text, f"{value.span.file}:{value.span.line}", None)
