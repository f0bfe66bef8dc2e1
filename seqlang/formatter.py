"""The one canonical layout of .seq text, so that diffs show changes of meaning, never of style.

Layout (there are no options, on purpose: a team should never argue about style):

- Two spaces per level; one declaration, setting, entry, field or step per line; `{` ends the
  header line and `}` stands on its own line; `if` chains read `} else if COND {` / `} else {`.
- Top-level declarations are separated by one blank line, except consecutive imports, which
  form one group (the spec writes them that way); a sequence's settings come first, then one
  blank line, then its steps. Where comments stand between the two, the blank line goes above
  them, unless the author left one among them: that one marks where the groups part.
- Inside a block a single blank line the author left between two items (or comments) is
  kept, never more than one, and never right after `{` or right before `}`.
- An empty block is `{}`. The one exception is an `if` branch followed by `else`: its `}`
  starts the `} else` line, so an empty branch there is `{` then `} else ...`.
- An email content block (a template, an `email { ... }` step, a `variant`) goes on one line
  when it holds exactly one field, no comment, and the line fits in 100 columns:
  `variant a 50% { subject "Quick question" }`; otherwise it has one field per line.
  Blocks of steps, schedules, contact blocks and sequences are never put on one line.
- Conditions are printed with only the parentheses precedence needs (`not` > `and` > `or`).
- Strings are re-escaped (`\\"`, `\\\\`, `\\n`, `\\t`); a subject/body/text/html text with a
  newline becomes a `\"\"\"` long string whose lines and closing quotes are indented one level
  deeper than the line it starts on, unless the parser's dedent could not give the same text
  back (or the text has spaces at a line's end, which editors strip), in which case it stays
  an escaped string.
- Durations agree in number: `1 day`, `2 days`, `3 business days`; `track none` when both
  tracking kinds are off; weekdays as `mon-fri` and `mon, wed, fri`.
- Lines are never wrapped: a long condition or string stays on its line.

Comments are placed from spans, and every comment is kept exactly once:

- A comment on its own line stays on its own line before the node that follows it, indented
  like that node; comments after the last node of a block stay before its `}`; comments at
  the end of the file stay at the end.
- A comment after code stays after the line that prints the last code before it: the end of
  a node's first line, a `}` line, or a `} else {` line. When several of them would end one
  printed line (a condition written over several lines, say), the last one stays there and
  the earlier ones move, in order, onto their own lines just above it.
- A comment on its own line inside a construct that prints as one line (a condition written
  over several lines) moves just above that line.
- A comment between a `}` and the `else` after it moves into the top of the `else` block.

A module built without spans (the builder UI's JSON IR) prints the same layout; any comments
it carries without spans are put at the top of the file.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import sys
from collections import Counter
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache
from textwrap import dedent

from . import nodes as n
from .diagnostics import SeqSyntaxError
from .parser import parse

INDENT = "  "
MAX_WIDTH = 100

Pos = tuple[int, int]
_END_OF_FILE: Pos = (sys.maxsize, 0)
_BEFORE_FILE: Pos = (1, 0)


class FormatError(Exception):
    """The formatted text would not mean what the source meant; the source must be left as is."""


def format_module(module: n.Module) -> str:
    """The canonical text of a module, comments included.

    Raises ValueError for what no .seq text can say (a negative number in a condition, an
    `or` of nothing): only a module built by hand, not by the parser, can hold such a thing.
    """
    return _Printer(module).render()


def verify(module: n.Module, formatted: str) -> None:
    """Raise FormatError unless `formatted` parses back to `module`, keeps all its comments and
    formats to itself; cheap next to a user's lost work, so `seqlang fmt` runs it every time."""
    try:
        again = parse(formatted, module.path)
    except SeqSyntaxError as err:
        raise FormatError(f"the formatted text does not parse: {err}") from None
    if again != module:
        raise FormatError("the formatted text means something else than the source")
    if Counter(c.text for c in again.comments) != Counter(c.text for c in module.comments):
        raise FormatError("the formatted text does not keep every comment exactly once")
    if format_module(again) != formatted:
        raise FormatError("formatting the formatted text changes it again")


# ---- text of leaves ------------------------------------------------------------------------


def quote(text: str) -> str:
    """A `"..."` literal for any text; the grammar knows only these four escapes."""
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\n", "\\n").replace("\t", "\\t"))
    return f'"{escaped}"'


def _long_string(text: str, depth: int) -> str | None:
    """The `\"\"\"` form of a multi-line text at `depth`, or None when the parser (which drops
    the common indentation and blanks whitespace-only lines) would read back another text, or
    when the text hides meaning in whitespace an editor may strip or a reader rewrite (spaces
    at the end of a line, a carriage return)."""
    if "\n" not in text or '"""' in text or "\r" in text or dedent(text) != text:
        return None
    if any(line.endswith((" ", "\t")) for line in text.split("\n")):
        return None
    inner = INDENT * (depth + 1)
    lines = "\n".join(inner + line if line else "" for line in text.split("\n"))
    return f'"""\n{lines}\n{inner}"""'


def _text_value(key: str, value: n.TextValue, depth: int) -> str:
    if value.file:
        return f"file {quote(value.text)}"
    if key != "from":
        long = _long_string(value.text, depth)
        if long is not None:
            return long
    return quote(value.text)


def _field(item: n.ContentField, depth: int) -> str:
    return f"{item.key} {_text_value(item.key, item.value, depth)}"


_UNIT_WORDS = {
    "minute": "minute", "hour": "hour", "day": "day", "week": "week",
    "business_day": "business day", "business_hour": "business hour",
}


def duration(d: n.Duration) -> str:
    word = _UNIT_WORDS[d.unit]
    return f"{d.amount} {word}" if abs(d.amount) == 1 else f"{d.amount} {word}s"


def _day_range(r: n.DayRange) -> str:
    return r.first if r.last is None else f"{r.first}-{r.last}"


def _schedule_entry(entry: n.ScheduleEntry) -> str:
    if isinstance(entry, n.Days):
        return "days " + ", ".join(_day_range(r) for r in entry.ranges)
    if isinstance(entry, n.Hours):
        return "hours " + ", ".join(f"{r.start}-{r.end}" for r in entry.ranges)
    return "holidays " + ", ".join(quote(r) for r in entry.regions)


def _contact_field(f: n.ContactField) -> str:
    return f"{f.name}: {f.type}{'?' if f.optional else ''}"


def _setting(s: n.Setting) -> str:
    if isinstance(s, n.DisplayName):
        return f"name {quote(s.text)}"
    if isinstance(s, n.Sender):
        return f"from {quote(s.address)}"
    if isinstance(s, n.Timezone):
        if s.field is None:
            if s.zone is None:
                raise ValueError("a `timezone` setting needs a zone or a contact field")
            return f"timezone {quote(s.zone)}"
        default = "" if s.zone is None else f" default {quote(s.zone)}"
        return f"timezone contact.{s.field.name}{default}"
    if isinstance(s, n.SendOn):
        return f"send on {s.schedule.name}"
    if isinstance(s, n.Track):
        kinds = [k for k, on in (("opens", s.opens), ("clicks", s.clicks)) if on]
        return "track " + (", ".join(kinds) if kinds else "none")
    return f"exit when {condition(s.cond)}"


# ---- conditions ------------------------------------------------------------------------------

_OR, _AND, _NOT, _ATOM = 1, 2, 3, 4


def condition(cond: n.Cond) -> str:
    """A condition with the fewest parentheses that parse back to the same tree."""
    return _cond(cond, _OR)


def _cond(cond: n.Cond, context: int) -> str:
    if isinstance(cond, n.Or | n.And):
        if not cond.operands:
            raise ValueError(f"an `{'or' if isinstance(cond, n.Or) else 'and'}` has no operands")
        if len(cond.operands) == 1:
            return _cond(cond.operands[0], context)
        level, word = (_OR, " or ") if isinstance(cond, n.Or) else (_AND, " and ")
        text = word.join(_cond(op, level) for op in cond.operands)
        return f"({text})" if level < context else text
    if isinstance(cond, n.Not):
        return "not " + _cond(cond.operand, _NOT)
    if isinstance(cond, n.EventCond):
        return _event(cond)
    return _field_cond(cond)


def _event(cond: n.EventCond) -> str:
    if cond.step is None:
        return cond.kind
    url = "" if cond.url is None else f", {quote(cond.url)}"
    return f"{cond.kind}({cond.step.name}{url})"


def _field_cond(cond: n.FieldCond) -> str:
    subject = f"contact.{cond.field.name}"
    if cond.op == "exists":
        return f"{subject} exists"
    if cond.op == "in":
        values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
        if not values:
            raise ValueError(f"`{subject} in [...]` needs at least one value")
        return f"{subject} in [{', '.join(_scalar(v) for v in values)}]"
    if isinstance(cond.value, tuple) or cond.value is None:
        raise ValueError(f"`{subject} {cond.op}` needs one value")
    return f"{subject} {cond.op} {_scalar(cond.value)}"


def _scalar(value: n.Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"the number {value} cannot be written in a condition")
    if isinstance(value, int):
        return str(value)
    # The grammar's numbers are digits.digits: no exponent, no sign, not even for 0.0 or 1e20.
    text = format(Decimal(repr(abs(value))), "f")
    return text if "." in text else text + ".0"


# ---- where comments go -----------------------------------------------------------------------


def _start(span: n.Span) -> Pos | None:
    return None if span.line == 0 else (span.line, span.column)


def _last(span: n.Span) -> Pos | None:
    """The position of a span's last character: the `}` of a block."""
    return None if span.line == 0 else (span.end_line, span.end_column - 1)


def _comment_pos(comment: n.Comment) -> Pos:
    return (comment.span.line, comment.span.column)


def _code_columns(decls: tuple[n.Decl, ...]) -> tuple[dict[int, int], dict[int, int]]:
    """Per source line, the first column where a node starts and the first where one ends.

    Every node starts and ends on a token, so these tell whether a comment has code before it
    on its line without the source text, which the formatter is never given.
    """
    starts: dict[int, int] = {}
    ends: dict[int, int] = {}
    stack: list[object] = list(decls)
    while stack:
        node = stack.pop()
        if isinstance(node, tuple):
            stack.extend(node)
            continue
        span = getattr(node, "span", None)
        if span is None:
            continue
        if span.line:
            starts[span.line] = min(starts.get(span.line, sys.maxsize), span.column)
            ends[span.end_line] = min(ends.get(span.end_line, sys.maxsize), span.end_column)
        stack.extend(getattr(node, name) for name in _child_fields(type(node)))
    return starts, ends


@cache
def _child_fields(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(kind) if f.name != "span")


@dataclass(frozen=True, slots=True)
class _Line:
    depth: int
    text: str  # a long string continues on more lines, already indented
    blank_before: bool = False
    trailing: n.Comment | None = None
    closing: bool = False  # starts with `}`: a comment just above it belongs inside the block
    comment: n.Comment | None = None  # set on a line that is only this comment


class _Printer:
    """Emits lines in source order and, before each, the comments that came before it."""

    def __init__(self, module: n.Module):
        self.module = module
        self.comments = sorted(module.comments, key=_comment_pos)
        self.positions = [_comment_pos(c) for c in self.comments]
        self.comment_lines = {c.span.line for c in self.comments}
        self.starts, self.ends = _code_columns(module.decls)
        self.next = 0  # the first comment not yet placed
        self.lines: list[_Line] = []
        self.last_code: int | None = None  # index in self.lines of the last line of code
        self.prev: int | None = None  # source line the previous item ended on; None after `{`
        self.force_blank = False  # the next item must follow a blank line...
        self.force_until: int | None = None  # ...and starts on this source line

    def render(self) -> str:
        self._flush(_BEFORE_FILE, 0)
        previous: n.Decl | None = None
        for decl in self.module.decls:
            if previous is not None and not (
                    isinstance(previous, n.Import) and isinstance(decl, n.Import)):
                self._separate(decl)
            self._decl(decl)
            previous = decl
        self._flush(_END_OF_FILE, 0)
        out: list[str] = []
        for i, line in enumerate(self.lines):
            if line.blank_before and i:
                out.append("")
            trailing = "" if line.trailing is None else "  " + line.trailing.text
            out.append(INDENT * line.depth + line.text + trailing)
        return "\n".join(out) + "\n" if out else ""

    # -- comments

    def _trails_code(self, comment: n.Comment) -> bool:
        line, column = _comment_pos(comment)
        return (self.starts.get(line, sys.maxsize) < column
                or self.ends.get(line, sys.maxsize) <= column)

    def _has_comment_within(self, span: n.Span) -> bool:
        first, last = _start(span), _last(span)
        if first is None or last is None:
            return False
        i = bisect.bisect_right(self.positions, first, lo=self.next)
        return i < len(self.positions) and self.positions[i] < last

    def _take(self, before: Pos) -> n.Comment | None:
        if self.next < len(self.comments) and self.positions[self.next] < before:
            self.next += 1
            return self.comments[self.next - 1]
        return None

    def _flush(self, before: Pos, depth: int) -> None:
        while (comment := self._take(before)) is not None:
            if self._trails_code(comment):
                self._attach(comment)
            else:
                self._comment_line(comment, depth, comment.span.line)

    def _comment_line(self, comment: n.Comment, depth: int, source_line: int | None) -> None:
        self.lines.append(_Line(depth, comment.text, self._blank_before(source_line),
                                comment=comment))
        self.prev = source_line

    def _separate(self, item: n.Decl | n.Step) -> None:
        self.force_blank = True
        self.force_until = item.span.line or None

    def _blank_before(self, source_line: int | None) -> bool:
        """Whether the author left a blank line between the previous item and this one; a
        required separation goes first, unless the author put a blank among the comments
        between the two items, which then marks where one group ends."""
        if self.force_blank:
            self.force_blank = False
            if not self._blank_until(self.force_until):
                return True
        return self._blank_until(source_line)

    def _blank_until(self, source_line: int | None) -> bool:
        if self.prev is None or source_line is None:
            return False
        return any(line not in self.comment_lines for line in range(self.prev + 1, source_line))

    def _attach(self, comment: n.Comment) -> None:
        """End the last line of code with `comment`; a comment already there moves above it,
        after the comment lines that stood after it in the source."""
        if self.last_code is None:
            self._comment_line(comment, 0, None)
            return
        i = self.last_code
        line = self.lines[i]
        self.lines[i] = replace(line, trailing=comment)
        moved = line.trailing
        if moved is None:
            return
        at = i
        while at and (above := self.lines[at - 1].comment) is not None and (
                _comment_pos(above) > _comment_pos(moved)):
            at -= 1
        here = self.lines[at]
        self.lines[at] = replace(here, blank_before=False)
        depth = line.depth + 1 if line.closing else line.depth
        self.lines.insert(at, _Line(depth, moved.text, here.blank_before, comment=moved))
        self.last_code = i + 1

    # -- lines of code

    def _code(self, depth: int, text: str, first: Pos | None, last: Pos | None, *,
              closing: bool = False, opens: bool = False) -> None:
        """One printed line for the source from `first` to `last` (both None without spans).

        Comments inside that stretch of source: those after code end the line; those on their
        own line go above it, or, after the `}` of a `} else` line, to the top of its block.
        """
        lead = depth + 1 if closing else depth
        trailing: list[n.Comment] = []
        below: list[n.Comment] = []
        if first is not None:
            self._flush(first, lead)
            while last is not None and (comment := self._take(last)) is not None:
                if self._trails_code(comment):
                    trailing.append(comment)
                elif closing and opens:
                    below.append(comment)
                else:
                    self._comment_line(comment, lead, first[0])
        blank = not closing and self._blank_before(None if first is None else first[0])
        self.lines.append(_Line(depth, text, blank, closing=closing))
        self.last_code = len(self.lines) - 1
        for comment in trailing:
            self._attach(comment)
        end = last or first
        self.prev = None if opens or end is None else end[0]
        for comment in below:
            self._comment_line(comment, depth + 1, comment.span.line)

    def _open(self, depth: int, text: str, first: Pos | None, last: Pos | None = None) -> None:
        self._code(depth, text + " {", first, last, opens=True)

    def _close(self, depth: int, span: n.Span) -> None:
        self._code(depth, "}", _last(span), _last(span), closing=True)

    # -- declarations

    def _decl(self, decl: n.Decl) -> None:
        if isinstance(decl, n.Import):
            self._code(0, f"import {quote(decl.path)}", _start(decl.span), _last(decl.span))
        elif isinstance(decl, n.Schedule):
            self._simple_block(0, f"schedule {decl.name}", decl.span,
                               [(_schedule_entry(e), e.span) for e in decl.entries])
        elif isinstance(decl, n.Contact):
            self._simple_block(0, "contact", decl.span,
                               [(_contact_field(f), f.span) for f in decl.fields])
        elif isinstance(decl, n.Template):
            self._email_body(0, f"template {decl.name}", decl.span, decl.body)
        else:
            self._sequence(decl)

    def _simple_block(self, depth: int, head: str, span: n.Span,
                      items: list[tuple[str, n.Span]]) -> None:
        if not items and not self._has_comment_within(span):
            self._code(depth, head + " {}", _start(span), _last(span))
            return
        self._open(depth, head, _start(span))
        for text, item_span in items:
            self._code(depth + 1, text, _start(item_span), _last(item_span))
        self._close(depth, span)

    def _sequence(self, seq: n.Sequence) -> None:
        if not seq.settings and not seq.steps and not self._has_comment_within(seq.span):
            self._code(0, f"sequence {seq.name} {{}}", _start(seq.span), _last(seq.span))
            return
        self._open(0, f"sequence {seq.name}", _start(seq.span))
        for setting in seq.settings:
            self._code(1, _setting(setting), _start(setting.span), _last(setting.span))
        if seq.settings and seq.steps:
            self._separate(seq.steps[0])
        self._steps(1, seq.steps)
        self._close(0, seq.span)

    # -- email content

    def _inline(self, depth: int, head: str, items: tuple, inner: n.Span) -> str | None:
        """`head { field }` when the block may go on one line (see the module docstring)."""
        if self._has_comment_within(inner):
            return None
        if not items:
            return head + " {}"
        if len(items) > 1 or not isinstance(items[0], n.ContentField):
            return None
        text = f"{head} {{ {_field(items[0], depth + 1)} }}"
        fits = "\n" not in text and len(INDENT * depth + text) <= MAX_WIDTH
        return text if fits else None

    def _email_body(self, depth: int, head: str, span: n.Span, body: n.EmailBody) -> None:
        one_line = self._inline(depth, head, body.items, body.span)
        if one_line is not None:
            self._code(depth, one_line, _start(span), _last(span))
            return
        self._open(depth, head, _start(span), _start(body.span))
        for item in body.items:
            if isinstance(item, n.Variant):
                self._variant(depth + 1, item)
            else:
                self._content_field(depth + 1, item)
        self._close(depth, body.span)

    def _variant(self, depth: int, variant: n.Variant) -> None:
        head = f"variant {variant.name} {variant.weight}%"
        one_line = self._inline(depth, head, variant.fields, variant.span)
        if one_line is not None:
            self._code(depth, one_line, _start(variant.span), _last(variant.span))
            return
        self._open(depth, head, _start(variant.span))
        for item in variant.fields:
            self._content_field(depth + 1, item)
        self._close(depth, variant.span)

    def _content_field(self, depth: int, item: n.ContentField) -> None:
        self._code(depth, _field(item, depth), _start(item.span), _last(item.span))

    # -- steps

    def _steps(self, depth: int, steps: tuple[n.Step, ...]) -> None:
        for step in steps:
            self._step(depth, step)

    def _step(self, depth: int, step: n.Step) -> None:
        label = "" if step.label is None else f"{step.label.name}: "
        if isinstance(step, n.EmailStep):
            self._email_step(depth, label, step)
        elif isinstance(step, n.If):
            self._if(depth, label, step)
        elif isinstance(step, n.Split):
            self._split(depth, label, step)
        else:
            self._code(depth, label + _simple_step(step), _start(step.span), _last(step.span))

    def _email_step(self, depth: int, label: str, step: n.EmailStep) -> None:
        head = label + "email"
        if step.template is not None:
            head += f" {step.template.name}"
        if step.reply_to is not None:
            head += f" reply to {step.reply_to.name}"
        if step.body is None:
            self._code(depth, head, _start(step.span), _last(step.span))
        else:
            self._email_body(depth, head, step.span, step.body)

    def _if(self, depth: int, label: str, step: n.If) -> None:
        if not step.branches:
            raise ValueError("an `if` step has no branches")
        within = "" if step.within is None else f" within {duration(step.within)}"
        heads = [f"{label}if {condition(step.branches[0].cond)}{within}"]
        heads += [f"}} else if {condition(b.cond)}" for b in step.branches[1:]]
        blocks = [b.body for b in step.branches]
        if step.else_body is not None:
            heads.append("} else")
            blocks.append(step.else_body)
        first = _start(step.span)
        for i, (head, block) in enumerate(zip(heads, blocks, strict=True)):
            closing = i > 0
            if i + 1 == len(blocks) and self._empty(block):
                self._code(depth, head + " {}", first, _last(block.span), closing=closing)
                return
            self._code(depth, head + " {", first, _start(block.span), closing=closing,
                       opens=True)
            self._steps(depth + 1, block.steps)
            first = _last(block.span)
        self._close(depth, blocks[-1].span)

    def _split(self, depth: int, label: str, step: n.Split) -> None:
        head = label + "split"
        if not step.branches and not self._has_comment_within(step.span):
            self._code(depth, head + " {}", _start(step.span), _last(step.span))
            return
        self._open(depth, head, _start(step.span))
        for branch in step.branches:
            weight = f"{branch.weight}%:"
            if self._empty(branch.body):
                self._code(depth + 1, weight + " {}", _start(branch.span), _last(branch.span))
                continue
            self._open(depth + 1, weight, _start(branch.span), _start(branch.body.span))
            self._steps(depth + 2, branch.body.steps)
            self._close(depth + 1, branch.body.span)
        self._close(depth, step.span)

    def _empty(self, block: n.Block) -> bool:
        return not block.steps and not self._has_comment_within(block.span)


def _simple_step(step: n.Step) -> str:
    if isinstance(step, n.Wait):
        return f"wait {duration(step.duration)}"
    if isinstance(step, n.WaitUntil):
        return f"wait until {step.at}"
    if isinstance(step, n.Goto):
        return f"goto {step.target.name}"
    if isinstance(step, n.Exit):
        return "exit" if step.reason is None else f"exit {quote(step.reason)}"
    if isinstance(step, n.Task):
        return f"task {quote(step.text)}"
    if isinstance(step, n.Webhook):
        return f"webhook {quote(step.url)}"
    raise TypeError(f"not a step: {step!r}")
