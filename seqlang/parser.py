"""Text to IR: the Lark LALR parser with an inline transformer.

The transformer runs inside the LALR parser, so no parse tree is built on the
happy path. When a file has syntax errors a second, tree-only parser re-reads
it with panic-mode recovery to report every error it can, because a user
fixing a file wants the whole list at once.
"""

from __future__ import annotations

import difflib
import gc
import re
import threading
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from importlib.resources import files
from textwrap import dedent

from lark import Lark, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from . import nodes as n
from .diagnostics import ERROR, Diagnostic, SeqSyntaxError

SYNTAX = "SEQ001"
MAX_SYNTAX_ERRORS = 50

_state = threading.local()


def grammar_text() -> str:
    return (files("seqlang.grammar") / "seq.lark").read_text(encoding="utf-8")


def _on_comment(token: Token) -> None:
    _state.comments.append(token)


class _AlwaysName:
    """Lets the contextual lexer always try NAME, so `dayz` is one word, not `day` + `z`.

    Keywords still win over NAME on an equal-length match, and a keyword the
    grammar doesn't accept at that point lexes as a plain NAME.
    """

    always_accept = ("NAME",)

    def process(self, stream):
        return stream


@lru_cache(maxsize=1)
def _ir_parser() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        keep_all_tokens=True,
        transformer=_Builder(),
        lexer_callbacks={"COMMENT": _on_comment},
        postlex=_AlwaysName(),
    )


@lru_cache(maxsize=1)
def _tree_parser() -> Lark:
    return Lark(
        grammar_text(),
        parser="lalr",
        lexer="contextual",
        keep_all_tokens=True,
        postlex=_AlwaysName(),
    )


def parse(text: str, path: str = "<string>") -> n.Module:
    """Parse one module; raises SeqSyntaxError listing every SEQ001 finding."""
    _state.file = path
    _state.comments = []
    _state.errors = []
    # The parse allocates only acyclic objects, so the cycle collector finds nothing; pausing
    # it keeps a large file's parse linear instead of rescanning an ever larger heap.
    collecting = gc.isenabled()
    gc.disable()
    try:
        module = _ir_parser().parse(text)
    except UnexpectedInput:
        raise SeqSyntaxError(_recover(text, path)) from None
    finally:
        if collecting:
            gc.enable()
    if _state.errors:
        raise SeqSyntaxError(_state.errors)
    comments = tuple(n.Comment(t.value.rstrip(), _tok_span(t)) for t in _state.comments)
    end = _end_span(text, path)
    return n.Module(path, module, comments, n.Span(path, 1, 1, end.line, end.column))


# ---- spans and small helpers ------------------------------------------------


def _tok_span(tok: Token) -> n.Span:
    return n.Span(_state.file, tok.line, tok.column, tok.end_line, tok.end_column)


def _start(x) -> tuple[int, int]:
    if isinstance(x, Token):
        return x.line, x.column
    return x.span.line, x.span.column


def _end(x) -> tuple[int, int]:
    if isinstance(x, Token):
        return x.end_line, x.end_column
    return x.span.end_line, x.span.end_column


def _sp(first, last) -> n.Span:
    a, b = _start(first)
    c, d = _end(last)
    return n.Span(_state.file, a, b, c, d)


def _end_span(text: str, path: str) -> n.Span:
    lines = text.split("\n")
    return n.Span(path, len(lines), len(lines[-1]) + 1, len(lines), len(lines[-1]) + 1)


def _error(span: n.Span, message: str, hint: str | None = None) -> None:
    _state.errors.append(Diagnostic(SYNTAX, ERROR, message, span, hint))


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


def _string(tok: Token) -> str:
    """The value of a string literal, escapes resolved (long strings are raw)."""
    raw = tok.value
    if raw.startswith('"""'):
        body = raw[3:-3]
        if body.startswith("\n"):
            body = body[1:]
        return dedent(body).rstrip(" \t").removesuffix("\n")
    out = []
    i, body = 0, raw[1:-1]
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                col = tok.column + 1 + i
                span = n.Span(_state.file, tok.line, col, tok.line, col + 2)
                _error(span, f"unknown escape `\\{nxt}` in a string", 'use \\", \\\\, \\n or \\t')
                nxt_val = nxt
            else:
                nxt_val = _ESCAPES[nxt]
            out.append(nxt_val)
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _ref(tok: Token) -> n.Ref:
    return n.Ref(tok.value, _tok_span(tok))


def _valid_time(tok: Token, allow_24: bool) -> str:
    hh, mm = int(tok.value[:2]), int(tok.value[3:])
    if not (mm < 60 and (hh < 24 or (allow_24 and hh == 24 and mm == 0))):
        _error(
            _tok_span(tok), f"`{tok.value}` is not a time of day", "times run from 00:00 to 23:59"
        )
    return tok.value


class _Else:
    """An `else { ... }` clause while its `if` is being built."""

    __slots__ = ("block", "span")

    def __init__(self, block: n.Block, span: n.Span):
        self.block = block
        self.span = span


_SETTING_TYPES = (n.DisplayName, n.Sender, n.Timezone, n.SendOn, n.Track, n.ExitWhen)


class _Builder:
    """Rule callbacks of the inline transformer: children include every token."""

    def start(self, c):
        return tuple(c)

    # -- declarations
    def import_decl(self, c):
        return n.Import(_string(c[1]), _sp(c[0], c[1]))

    def schedule_decl(self, c):
        return n.Schedule(c[1].value, tuple(c[3:-1]), _sp(c[0], c[-1]))

    def days_entry(self, c):
        return n.Days(tuple(c[1::2]), _sp(c[0], c[-1]))

    def day_range(self, c):
        for tok in c[::2]:
            if tok.value not in n.WEEKDAYS:
                _error(
                    _tok_span(tok),
                    f"`{tok.value}` is not a weekday",
                    "weekdays are mon, tue, wed, thu, fri, sat, sun",
                )
        last = c[2].value if len(c) == 3 else None
        return n.DayRange(c[0].value, last, _sp(c[0], c[-1]))

    def hours_entry(self, c):
        return n.Hours(tuple(c[1::2]), _sp(c[0], c[-1]))

    def time_range(self, c):
        start = _valid_time(c[0], allow_24=False)
        return n.TimeRange(start, _valid_time(c[2], allow_24=True), _sp(c[0], c[2]))

    def holidays_entry(self, c):
        return n.Holidays(tuple(_string(t) for t in c[1::2]), _sp(c[0], c[-1]))

    def contact_decl(self, c):
        return n.Contact(tuple(c[2:-1]), _sp(c[0], c[-1]))

    def contact_field(self, c):
        kind = c[2].value
        if kind not in n.FIELD_TYPES:
            _error(
                _tok_span(c[2]),
                f"`{kind}` is not a field type",
                "field types are " + ", ".join(n.FIELD_TYPES),
            )
        return n.ContactField(c[0].value, kind, len(c) == 4, _sp(c[0], c[-1]))

    def template_decl(self, c):
        return n.Template(c[1].value, c[2], _sp(c[0], c[2]))

    # -- email content
    def email_body(self, c):
        return n.EmailBody(tuple(c[1:-1]), _sp(c[0], c[-1]))

    def variant_body(self, c):
        return self.email_body(c)

    def _content(self, c):
        return n.ContentField(c[0].value, c[1], _sp(c[0], c[1]))

    subject_field = body_field = text_field = html_field = _content

    def from_field(self, c):
        return n.ContentField(
            "from", n.TextValue(_string(c[1]), False, _tok_span(c[1])), _sp(c[0], c[1])
        )

    def text_value(self, c):
        if len(c) == 2:
            return n.TextValue(_string(c[1]), True, _sp(c[0], c[1]))
        return n.TextValue(_string(c[0]), False, _tok_span(c[0]))

    def variant(self, c):
        body = c[4]
        return n.Variant(c[1].value, int(c[2].value), body.items, _sp(c[0], body))

    # -- sequences
    def sequence_decl(self, c):
        items = c[3:-1]
        settings, steps = [], []
        for item in items:
            if isinstance(item, _SETTING_TYPES):
                if steps:
                    _error(
                        item.span,
                        "settings come before the first step",
                        "move this line above the sequence's steps",
                    )
                settings.append(item)
            else:
                steps.append(item)
        return n.Sequence(c[1].value, tuple(settings), tuple(steps), _sp(c[0], c[-1]))

    def name_setting(self, c):
        return n.DisplayName(_string(c[1]), _sp(c[0], c[1]))

    def from_setting(self, c):
        return n.Sender(_string(c[1]), _sp(c[0], c[1]))

    def timezone_setting(self, c):
        if len(c) == 2:
            return n.Timezone(None, _string(c[1]), _sp(c[0], c[1]))
        zone = _string(c[5]) if len(c) == 6 else None
        return n.Timezone(_ref(c[3]), zone, _sp(c[0], c[-1]))

    def send_on_setting(self, c):
        return n.SendOn(_ref(c[2]), _sp(c[0], c[2]))

    def track_setting(self, c):
        kinds = {t.value for t in c[1::2]}
        return n.Track("opens" in kinds, "clicks" in kinds, _sp(c[0], c[-1]))

    def exit_when_setting(self, c):
        return n.ExitWhen(c[2], _sp(c[0], c[2]))

    # -- steps
    def block(self, c):
        return n.Block(tuple(c[1:-1]), _sp(c[0], c[-1]))

    def label(self, c):
        return _ref(c[0])

    def step(self, c):
        if len(c) == 1:
            return c[0]
        label, step = c
        return replace(step, label=label, span=_sp(label, step))

    def email_step(self, c):
        template = reply_to = body = None
        for part in c[1:]:
            if isinstance(part, Token):
                template = _ref(part)
            elif isinstance(part, n.Ref):
                reply_to = part
            else:
                body = part
        if template is None and body is None:
            _error(
                _tok_span(c[0]),
                "an email step needs a template name or a `{ ... }` block",
                'write `email welcome` or `email { subject "..." body "..." }`',
            )
        return n.EmailStep(None, template, reply_to, body, _sp(c[0], c[-1]))

    def reply_to(self, c):
        return _ref(c[2])

    def wait_step(self, c):
        return n.Wait(None, c[1], _sp(c[0], c[1]))

    def wait_until_step(self, c):
        tok = c[2]
        try:
            datetime.fromisoformat(tok.value)
        except ValueError:
            _error(
                _tok_span(tok),
                f"`{tok.value}` is not a valid date-time",
                "write a local date-time such as 2026-12-01T09:00",
            )
        return n.WaitUntil(None, tok.value, _sp(c[0], tok))

    def if_step(self, c):
        branches = [n.Branch(c[1], c[2], _sp(c[0], c[2]))]
        else_body = None
        for part in c[3:]:
            if isinstance(part, _Else):
                else_body = part.block
            else:
                branches.append(part)
        return n.If(None, tuple(branches), else_body, None, _sp(c[0], c[-1]))

    def else_if(self, c):
        return n.Branch(c[2], c[3], _sp(c[0], c[3]))

    def else_block(self, c):
        return _Else(c[1], _sp(c[0], c[1]))

    def if_within_step(self, c):
        branch = n.Branch(c[1], c[4], _sp(c[0], c[4]))
        else_body = c[5].block if len(c) == 6 else None
        return n.If(None, (branch,), else_body, c[3], _sp(c[0], c[-1]))

    def split_step(self, c):
        return n.Split(None, tuple(c[2:-1]), _sp(c[0], c[-1]))

    def split_branch(self, c):
        return n.SplitBranch(int(c[0].value), c[3], _sp(c[0], c[3]))

    def goto_step(self, c):
        return n.Goto(None, _ref(c[1]), _sp(c[0], c[1]))

    def exit_step(self, c):
        reason = _string(c[1]) if len(c) == 2 else None
        return n.Exit(None, reason, _sp(c[0], c[-1]))

    def task_step(self, c):
        return n.Task(None, _string(c[1]), _sp(c[0], c[1]))

    def webhook_step(self, c):
        return n.Webhook(None, _string(c[1]), _sp(c[0], c[1]))

    def duration(self, c):
        amount = int(c[-2].value)
        if len(c) == 3:
            amount = -amount
        return n.Duration(amount, c[-1][0], _sp(c[0], c[-1][1]))

    def unit(self, c):
        word = c[-1].value.removesuffix("s")
        if len(c) == 2:
            if word not in ("day", "hour"):
                _error(
                    _sp(c[0], c[1]),
                    f"`business {c[1].value}` is not a duration unit",
                    "business time is counted in `business days` or `business hours`",
                )
            word = "business_" + word
        return (word, c[-1])

    # -- conditions
    def or_cond(self, c):
        ops = c[::2]
        flat = tuple(x for op in ops for x in (op.operands if isinstance(op, n.Or) else (op,)))
        return n.Or(flat, _sp(c[0], c[-1]))

    def and_cond(self, c):
        ops = c[::2]
        flat = tuple(x for op in ops for x in (op.operands if isinstance(op, n.And) else (op,)))
        return n.And(flat, _sp(c[0], c[-1]))

    def not_cond(self, c):
        return n.Not(c[1], _sp(c[0], c[1]))

    def paren_cond(self, c):
        return c[1]

    def event_cond(self, c):
        kind = c[0].value
        step = _ref(c[2]) if len(c) > 1 else None
        url = _string(c[4]) if len(c) == 6 else None
        return n.EventCond(kind, step, url, _sp(c[0], c[-1]))

    def field_cond(self, c):
        fld = _ref(c[2])
        op_tok = c[3]
        if op_tok.type == "EXISTS":
            return n.FieldCond(fld, "exists", None, _sp(c[0], op_tok))
        if op_tok.type == "IN":
            values = tuple(_scalar(t) for t in c[5:-1:2])
            return n.FieldCond(fld, "in", values, _sp(c[0], c[-1]))
        return n.FieldCond(fld, op_tok.value, _scalar(c[4]), _sp(c[0], c[-1]))


def _scalar(tok: Token) -> n.Scalar:
    if tok.type == "STRING":
        return _string(tok)
    if tok.type == "NUMBER":
        return float(tok.value)
    if tok.type == "INT":
        return int(tok.value)
    return tok.type == "TRUE"


# ---- syntax errors in the user's words ----------------------------------------

_WORDS = {
    "NAME": "a name",
    "STRING": "a string",
    "LONG_STRING": 'a """long string"""',
    "INT": "a whole number",
    "NUMBER": "a number",
    "TIME": "a time such as `09:00`",
    "DATETIME": "a date-time such as `2026-12-01T09:00`",
    "UNIT": "a time unit (`minutes`, `hours`, `days`, `weeks`)",
    "BUSINESS": "`business`",
    "COMPARE": "a comparison (`==`, `!=`, `<`, `<=`, `>`, `>=`)",
    "TRACK_KIND": "`opens` or `clicks`",
    "$END": "the end of the file",
}
_DECL_STARTS = {"IMPORT", "SCHEDULE", "CONTACT", "TEMPLATE", "SEQUENCE"}
_STEP_STARTS = {"EMAIL", "WAIT", "IF", "SPLIT", "GOTO", "EXIT", "TASK", "WEBHOOK"}
_SETTING_STARTS = {"NAME_KW", "FROM", "TIMEZONE", "SEND", "TRACK", "EXIT"}
_COND_STARTS = {"OPENED", "CLICKED", "REPLIED", "BOUNCED", "UNSUBSCRIBED", "CONTACT", "NOT", "LPAR"}
_KEYWORDS = [
    "import",
    "schedule",
    "contact",
    "template",
    "sequence",
    "email",
    "wait",
    "if",
    "split",
    "goto",
    "exit",
    "task",
    "webhook",
    "name",
    "from",
    "timezone",
    "send",
    "track",
    "subject",
    "body",
    "text",
    "html",
    "variant",
    "days",
    "hours",
    "holidays",
]


def _literal(term: str) -> str | None:
    parser = _tree_parser()
    for t in parser.terminals:
        if t.name == term and t.pattern.type == "str":
            return t.pattern.value
    return None


def _describe(expected: set[str]) -> str:
    """Name what the parser would have accepted, grouped the way a user thinks of it."""
    parts: list[str] = []
    rest = set(expected)
    if rest >= _DECL_STARTS:
        parts.append("a declaration (`import`, `schedule`, `contact`, `template` or `sequence`)")
        rest -= _DECL_STARTS
    if rest >= _STEP_STARTS:
        parts.append("a setting or a step" if "SEND" in rest else "a step")
        rest -= _STEP_STARTS | _SETTING_STARTS | {"NAME", "LBRACE"}
    if {"OPENED", "CLICKED", "CONTACT", "NOT"} <= rest:
        parts.append("a condition such as `opened(welcome)` or `contact.seats > 10`")
        rest -= _COND_STARTS
    if {"INT", "MINUS"} <= rest and "UNIT" not in rest and len(rest) <= 3:
        parts.append("a duration such as `2 days`")
        rest -= {"INT", "MINUS", "UNTIL"}
    if {"UNIT", "BUSINESS"} <= rest:
        parts.append(
            "a time unit (`minutes`, `hours`, `days`, `weeks`, `business days`, `business hours`)"
        )
        rest -= {"UNIT", "BUSINESS"}
    words = []
    for term in sorted(rest):
        if term in _WORDS:
            words.append(_WORDS[term])
        else:
            lit = _literal(term)
            words.append(f"`{lit}`" if lit is not None else term.lower())
    parts.extend(sorted(set(words)))
    if not parts:
        return "something else"
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def _found(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    return f"`{tok.value}`"


def _hint_for_token(tok: Token, expected: set[str], prev: Token | None) -> str | None:
    if "COLON" in expected and prev is not None and prev.type == "NAME":
        close = difflib.get_close_matches(prev.value, _KEYWORDS, n=1, cutoff=0.75)
        if close:
            return f"did you mean `{close[0]}`?"
        return f"a label is written `{prev.value}:` before its step"
    if "UNIT" in expected and tok.type == "NAME":
        return "write the unit as a word, e.g. `2 days` or `3 business hours`"
    if tok.type == "NAME" and tok.value in ("elif", "elseif"):
        return "write `else if`"
    return None


def _hint_for_char(rest: str, allowed: set[str]) -> str | None:
    """A hint from the text that starts at the offending character."""
    ch = rest[0]
    if rest.startswith(("=>", "=<")) and "COMPARE" in allowed:
        return f"did you mean `{rest[1]}=`?"
    if ch == "=" and "COMPARE" in allowed:
        return "use `==` to compare"
    if ch == '"':
        return 'this string is not closed on its line; use """...""" for text over several lines'
    if ch.isalpha() and "UNIT" in allowed:
        return "write the unit as a word after a space, e.g. `2 days` not `2d`"
    if ch == "'":
        return "strings use double quotes"
    return None


_BRACES = re.compile(r'"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*|[{}]')


def _unclosed_brace(text: str, path: str) -> n.Span | None:
    """Where the last `{` that is never closed was opened; strings and comments don't count."""
    stack: list[int] = []
    for m in _BRACES.finditer(text):
        if m.group() == "{":
            stack.append(m.start())
        elif m.group() == "}" and stack:
            stack.pop()
    if not stack:
        return None
    line = text.count("\n", 0, stack[-1]) + 1
    column = stack[-1] - (text.rfind("\n", 0, stack[-1]) + 1) + 1
    return n.Span(path, line, column, line, column + 1)


def _recover(text: str, path: str) -> list[Diagnostic]:
    """Find every syntax error by re-parsing with each offending line neutralised.

    The first error of a parse is always genuine. Replacing the culprit line
    with a placeholder that keeps its braces balanced lets the next parse find
    the next genuine error instead of a cascade caused by the first one.
    """
    lines = text.split("\n")
    diags: list[Diagnostic] = []
    neutralised: set[int] = set()
    while len(diags) < MAX_SYNTAX_ERRORS:
        try:
            _tree_parser().parse("\n".join(lines))
            break
        except UnexpectedInput as exc:
            diag, culprit = _diagnose(exc, text, path, lines)
            if culprit not in neutralised:
                diags.append(diag)
            if culprit in neutralised or not 1 <= culprit <= len(lines):
                break
            neutralised.add(culprit)
            lines[culprit - 1] = _placeholder(lines[culprit - 1])
    return diags or [Diagnostic(SYNTAX, ERROR, "syntax error", _end_span(text, path))]


def _parser_expects(exc: UnexpectedInput) -> set[str]:
    """What the parser accepts at the error (the lexer's own set always has NAME)."""
    state = exc.state
    if state is None or not hasattr(state, "parse_conf"):
        return set()
    actions = state.parse_conf.parse_table.states[state.position]
    return {sym for sym in actions if sym.isupper() or sym == "$END"}


def _placeholder(line: str) -> str:
    """A line that parses wherever the original stood and keeps its brace balance."""
    braces = [m.group() for m in _BRACES.finditer(line) if m.group() in "{}"]
    closes = 0
    opens = 0
    for b in braces:
        if b == "{":
            opens += 1
        elif opens:
            opens -= 1
        else:
            closes += 1
    opener = "sequence _ {" if line[:1] not in (" ", "\t") else "if replied {"
    return " ".join(["}"] * closes + [opener] * opens)


def _diagnose(
    exc: UnexpectedInput, text: str, path: str, lines: list[str]
) -> tuple[Diagnostic, int]:
    """The finding for one parse error, and the line to neutralise before the next parse."""
    if isinstance(exc, UnexpectedCharacters):
        span = n.Span(path, exc.line, exc.column, exc.line, exc.column + 1)
        allowed = _parser_expects(exc) or set(exc.allowed or ())
        rest = text.split("\n")[exc.line - 1][exc.column - 1 :]
        message = f"unexpected character `{rest[0]}`; expected {_describe(allowed)}"
        return Diagnostic(SYNTAX, ERROR, message, span, _hint_for_char(rest, allowed)), exc.line
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    expected = _parser_expects(exc) or set(exc.expected)
    if tok.type == "$END":
        span = _end_span(text, path)
        opened = _unclosed_brace(text, path)
        hint = (
            f"the `{{` at line {opened.line}, column {opened.column} is never closed"
            if opened
            else None
        )
        wanted = "`}`" if "RBRACE" in expected else _describe(expected)
        message = f"unexpected end of file; expected {wanted}"
        return Diagnostic(SYNTAX, ERROR, message, span, hint), span.line + 1
    span = n.Span(path, tok.line, tok.column, tok.end_line, tok.end_column)
    message = f"expected {_describe(expected)}, found {_found(tok)}"
    diag = Diagnostic(
        SYNTAX, ERROR, message, span, _hint_for_token(tok, expected, _previous_token(exc))
    )
    culprit = tok.line
    if not lines[tok.line - 1][: tok.column - 1].strip():
        # The token starts its line: the statement before it is the unfinished one.
        culprit = next((i for i in range(tok.line - 1, 0, -1) if lines[i - 1].strip()), tok.line)
    return diag, culprit


def _previous_token(e: UnexpectedToken) -> Token | None:
    values = e.interactive_parser.parser_state.value_stack
    for v in reversed(values):
        if isinstance(v, Token):
            return v
        return None
    return None
