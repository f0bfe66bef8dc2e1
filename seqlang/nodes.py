"""The IR of a .seq module: one frozen dataclass per node kind.

Every node carries a `span` so that any later stage (checker, formatter, engine
logs) can point back into the source. Spans and comments are excluded from
equality: two modules are equal when they mean the same thing, which is what
the formatter and the JSON round trip must preserve.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Span:
    """A source range; lines and columns are 1-based, `end_column` is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int


NO_SPAN = Span("<unknown>", 0, 0, 0, 0)


def _span() -> Span:
    return field(default=NO_SPAN, compare=False, repr=False)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Comment:
    text: str  # including the leading `#`
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Ref:
    """A name used to point at a declaration or a label."""

    name: str
    span: Span = _span()


# ---- top-level declarations -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Import:
    path: str
    span: Span = _span()


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class DayRange:
    first: str  # one of WEEKDAYS
    last: str | None = None
    span: Span = _span()

    def weekdays(self) -> tuple[int, ...]:
        """Weekday numbers (0 = Monday); a range may wrap, e.g. `fri-mon`."""
        start = WEEKDAYS.index(self.first)
        if self.last is None:
            return (start,)
        end = WEEKDAYS.index(self.last)
        count = (end - start) % 7 + 1
        return tuple((start + i) % 7 for i in range(count))


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: str  # "HH:MM"
    end: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Days:
    ranges: tuple[DayRange, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Hours:
    ranges: tuple[TimeRange, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Holidays:
    regions: tuple[str, ...]  # "US", "US-CA", ...
    span: Span = _span()


ScheduleEntry = Days | Hours | Holidays


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    entries: tuple[ScheduleEntry, ...]
    span: Span = _span()

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(
            d for e in self.entries if isinstance(e, Days) for r in e.ranges for d in r.weekdays()
        )

    @property
    def time_ranges(self) -> tuple[TimeRange, ...]:
        return tuple(r for e in self.entries if isinstance(e, Hours) for r in e.ranges)

    @property
    def holiday_regions(self) -> tuple[str, ...]:
        return tuple(h for e in self.entries if isinstance(e, Holidays) for h in e.regions)


FIELD_TYPES = ("string", "number", "bool", "date")


@dataclass(frozen=True, slots=True)
class ContactField:
    name: str
    type: str  # one of FIELD_TYPES
    optional: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Contact:
    fields: tuple[ContactField, ...]
    span: Span = _span()


# ---- email content ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextValue:
    """Inline text, or (when `file` is true) a path relative to the .seq file."""

    text: str
    file: bool = False
    span: Span = _span()


CONTENT_KEYS = ("subject", "body", "text", "html", "from")


@dataclass(frozen=True, slots=True)
class ContentField:
    key: str  # one of CONTENT_KEYS
    value: TextValue
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    weight: int
    fields: tuple[ContentField, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EmailBody:
    items: tuple[ContentField | Variant, ...]
    span: Span = _span()

    @property
    def fields(self) -> tuple[ContentField, ...]:
        return tuple(i for i in self.items if isinstance(i, ContentField))

    @property
    def variants(self) -> tuple[Variant, ...]:
        return tuple(i for i in self.items if isinstance(i, Variant))

    def get(self, key: str) -> ContentField | None:
        for item in self.items:
            if isinstance(item, ContentField) and item.key == key:
                return item
        return None


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    body: EmailBody
    span: Span = _span()


# ---- conditions -------------------------------------------------------------------

EVENT_KINDS = ("opened", "clicked", "replied", "bounced", "unsubscribed")


@dataclass(frozen=True, slots=True)
class EventCond:
    kind: str  # one of EVENT_KINDS
    step: Ref | None = None
    url: str | None = None
    span: Span = _span()


Scalar = str | int | float | bool
COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")


@dataclass(frozen=True, slots=True)
class FieldCond:
    field: Ref  # the contact field, without the `contact.` prefix
    op: str  # a COMPARE_OPS member, "in", "contains" or "exists"
    value: Scalar | tuple[Scalar, ...] | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Not:
    operand: Cond
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Cond, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Cond, ...]
    span: Span = _span()


Cond = EventCond | FieldCond | Not | And | Or

# ---- steps ----------------------------------------------------------------------

UNITS = ("minute", "hour", "day", "week", "business_day", "business_hour")


@dataclass(frozen=True, slots=True)
class Duration:
    amount: int
    unit: str  # one of UNITS
    span: Span = _span()

    @property
    def approx_minutes(self) -> int:
        """Size in minutes, counting a business day as a day; for range checks only."""
        per = {"minute": 1, "hour": 60, "day": 1440, "week": 10080}
        return self.amount * per.get(self.unit.removeprefix("business_"), 1)


@dataclass(frozen=True, slots=True)
class Block:
    steps: tuple[Step, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class EmailStep:
    label: Ref | None
    template: Ref | None
    reply_to: Ref | None
    body: EmailBody | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Wait:
    label: Ref | None
    duration: Duration
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class WaitUntil:
    label: Ref | None
    at: str  # ISO local date-time, "2026-12-01T09:00"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Branch:
    cond: Cond
    body: Block
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class If:
    """`if`/`else if`/`else`; with `within`, exactly one branch that may wait for its condition."""

    label: Ref | None
    branches: tuple[Branch, ...]
    else_body: Block | None
    within: Duration | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SplitBranch:
    weight: int
    body: Block
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Split:
    label: Ref | None
    branches: tuple[SplitBranch, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Goto:
    label: Ref | None
    target: Ref
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Exit:
    label: Ref | None
    reason: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Task:
    label: Ref | None
    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Webhook:
    label: Ref | None
    url: str
    span: Span = _span()


Step = EmailStep | Wait | WaitUntil | If | Split | Goto | Exit | Task | Webhook

# ---- sequences ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DisplayName:
    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Sender:
    address: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Timezone:
    """`timezone "Zone"` (field None) or `timezone contact.FIELD default "Zone"`."""

    field: Ref | None
    zone: str | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class SendOn:
    schedule: Ref
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Track:
    opens: bool
    clicks: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ExitWhen:
    cond: Cond
    span: Span = _span()


Setting = DisplayName | Sender | Timezone | SendOn | Track | ExitWhen

DEFAULT_EXIT_WHEN = Or((EventCond("replied"), EventCond("unsubscribed"), EventCond("bounced")))


@dataclass(frozen=True, slots=True)
class Sequence:
    name: str
    settings: tuple[Setting, ...]
    steps: tuple[Step, ...]
    span: Span = _span()

    def setting(self, kind: type) -> Setting | None:
        for s in self.settings:
            if isinstance(s, kind):
                return s
        return None

    @property
    def exit_when(self) -> Cond:
        """The spec's default applies when the sequence sets none."""
        found = self.setting(ExitWhen)
        return found.cond if isinstance(found, ExitWhen) else DEFAULT_EXIT_WHEN

    @property
    def track(self) -> Track:
        found = self.setting(Track)
        return found if isinstance(found, Track) else Track(opens=True, clicks=True)


Decl = Import | Schedule | Contact | Template | Sequence


@dataclass(frozen=True, slots=True)
class Module:
    path: str
    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    span: Span = _span()

    def of(self, kind: type) -> tuple:
        return tuple(d for d in self.decls if isinstance(d, kind))

    @property
    def imports(self) -> tuple[Import, ...]:
        return self.of(Import)

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        return self.of(Schedule)

    @property
    def templates(self) -> tuple[Template, ...]:
        return self.of(Template)

    @property
    def sequences(self) -> tuple[Sequence, ...]:
        return self.of(Sequence)

    @property
    def contact(self) -> Contact | None:
        found = self.of(Contact)
        return found[0] if found else None


def child_steps(step: Step) -> tuple[Block, ...]:
    """The nested blocks of a step, in source order."""
    if isinstance(step, If):
        blocks = tuple(b.body for b in step.branches)
        return blocks + ((step.else_body,) if step.else_body is not None else ())
    if isinstance(step, Split):
        return tuple(b.body for b in step.branches)
    return ()


def walk_steps(steps: tuple[Step, ...]):
    """Every step in pre-order (a step before the steps nested in it)."""
    for step in steps:
        yield step
        for block in child_steps(step):
            yield from walk_steps(block.steps)
