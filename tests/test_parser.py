"""The parser: every form of the language, exact spans, syntax errors in the user's words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seqlang import nodes as n
from seqlang.diagnostics import SeqSyntaxError
from seqlang.parser import parse

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "seq-language.md"


def seq_body(text: str) -> n.Sequence:
    return parse("sequence s {\n" + text + "\n}\n", "t.seq").sequences[0]


def step(text: str) -> n.Step:
    return seq_body(text).steps[0]


def cond(text: str) -> n.Cond:
    result = step(f"if {text} {{ }}")
    assert isinstance(result, n.If)
    return result.branches[0].cond


def errors(text: str) -> list[tuple[int, int, str, str | None]]:
    with pytest.raises(SeqSyntaxError) as info:
        parse(text, "bad.seq")
    return [(d.span.line, d.span.column, d.message, d.hint) for d in info.value.diagnostics]


@pytest.mark.skipif(not SPEC.exists(), reason="the language design is not beside the checkout")
def test_every_example_of_the_language_design_parses() -> None:
    blocks = re.findall(r"```\n(.*?)```", SPEC.read_text(encoding="utf-8"), re.S)
    examples = [b for b in blocks if re.match(r"\s*(import|schedule|contact|template|sequence)", b)]
    assert len(examples) >= 2
    for block in examples:
        parse(block, "spec.seq")


def test_declarations_of_every_kind() -> None:
    module = parse(
        """
import "std/schedules"
schedule office {
  days mon-fri, sun
  hours 09:00-12:00, 13:00-17:00
  holidays "US", "US-CA"
}
contact {
  first_name: string
  seats: number?
}
template welcome {
  subject "Welcome"
  body file "welcome.html.j2"
  from "Ana <ana@example.com>"
}
""",
        "m.seq",
    )
    imp, sched, contact, tpl = module.decls
    assert imp == n.Import("std/schedules")
    assert sched.weekdays == frozenset({0, 1, 2, 3, 4, 6})
    assert [(r.start, r.end) for r in sched.time_ranges] == [("09:00", "12:00"), ("13:00", "17:00")]
    assert sched.holiday_regions == ("US", "US-CA")
    assert contact.fields == (
        n.ContactField("first_name", "string", False),
        n.ContactField("seats", "number", True),
    )
    assert tpl.body.get("body").value == n.TextValue("welcome.html.j2", file=True)
    assert tpl.body.get("from").value.text == "Ana <ana@example.com>"


def test_weekday_ranges_wrap_around_the_week() -> None:
    assert n.DayRange("fri", "mon").weekdays() == (4, 5, 6, 0)


def test_settings() -> None:
    seq = seq_body(
        """
  name "Onboarding"
  from "Ana <ana@example.com>"
  timezone contact.tz default "America/New_York"
  send on office
  track none
  exit when bounced
"""
    )
    assert seq.setting(n.Timezone) == n.Timezone(n.Ref("tz"), "America/New_York")
    assert seq.track == n.Track(False, False)
    assert seq.exit_when == n.EventCond("bounced")
    assert seq_body('timezone "Europe/Paris"').setting(n.Timezone) == n.Timezone(
        None, "Europe/Paris"
    )


def test_default_exit_rule_is_reply_unsubscribe_or_bounce() -> None:
    kinds = [c.kind for c in seq_body("wait 1 day").exit_when.operands]
    assert kinds == ["replied", "unsubscribed", "bounced"]


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        ("1 minute", 1, "minute"),
        ("90 minutes", 90, "minute"),
        ("2 hours", 2, "hour"),
        ("1 day", 1, "day"),
        ("2 weeks", 2, "week"),
        ("3 business days", 3, "business_day"),
        ("1 business hour", 1, "business_hour"),
        ("-2 days", -2, "day"),
        ("0 days", 0, "day"),
    ],
)
def test_durations(text: str, amount: int, unit: str) -> None:
    wait = step(f"wait {text}")
    assert wait.duration == n.Duration(amount, unit)


def test_wait_until_keeps_the_local_date_time() -> None:
    assert step("wait until 2026-12-01T09:00") == n.WaitUntil(None, "2026-12-01T09:00")


def test_email_forms() -> None:
    seq = seq_body(
        """
  welcome: email welcome
  nudge: email reply to welcome { body "Did you see this?" }
  email {
    variant a 50% { subject "Quick question" }
    variant b 50% { subject "An idea" }
    body "Hi"
  }
  email welcome { subject "Override" }
"""
    )
    welcome, nudge, ab, override = seq.steps
    assert welcome == n.EmailStep(n.Ref("welcome"), n.Ref("welcome"), None, None)
    assert nudge.reply_to == n.Ref("welcome") and nudge.template is None
    assert [(v.name, v.weight) for v in ab.body.variants] == [("a", 50), ("b", 50)]
    assert ab.body.variants[0].fields[0].value.text == "Quick question"
    assert override.template == n.Ref("welcome") and override.body.get("subject")


def test_branching_steps() -> None:
    seq = seq_body(
        """
  if opened(a) { exit } else if clicked(a) { task "call" } else { goto top }
  if replied within 2 days { exit "replied" } else { webhook "https://crm.example.com/hook" }
  split { 70%: { wait 1 day } 30%: { } }
"""
    )
    chain, within, split = seq.steps
    assert len(chain.branches) == 2 and chain.else_body.steps == (n.Goto(None, n.Ref("top")),)
    assert within.within == n.Duration(2, "day")
    assert within.branches[0].body.steps == (n.Exit(None, "replied"),)
    assert within.else_body.steps == (n.Webhook(None, "https://crm.example.com/hook"),)
    assert [b.weight for b in split.branches] == [70, 30]
    assert split.branches[1].body.steps == ()


def test_condition_precedence_not_over_and_over_or() -> None:
    assert cond("replied or opened(a) and not bounced") == n.Or(
        (
            n.EventCond("replied"),
            n.And((n.EventCond("opened", n.Ref("a")), n.Not(n.EventCond("bounced")))),
        )
    )
    assert cond("(replied or bounced) and unsubscribed") == n.And(
        (n.Or((n.EventCond("replied"), n.EventCond("bounced"))), n.EventCond("unsubscribed"))
    )


def test_chained_operators_flatten_so_parentheses_do_not_change_meaning() -> None:
    assert cond("(replied or bounced) or unsubscribed") == cond(
        "replied or bounced or unsubscribed"
    )


def test_contact_tests() -> None:
    assert cond('contact.plan == "pro"') == n.FieldCond(n.Ref("plan"), "==", "pro")
    assert cond("contact.seats >= 10.5") == n.FieldCond(n.Ref("seats"), ">=", 10.5)
    assert cond('contact.tier in ["a", "b"]') == n.FieldCond(n.Ref("tier"), "in", ("a", "b"))
    assert cond('contact.title contains "VP"') == n.FieldCond(n.Ref("title"), "contains", "VP")
    assert cond("contact.phone exists") == n.FieldCond(n.Ref("phone"), "exists")
    assert cond("contact.vip == true") == n.FieldCond(n.Ref("vip"), "==", True)
    assert cond('clicked(a, "https://x.example.com/p")').url == "https://x.example.com/p"
    assert cond("replied(a)") == n.EventCond("replied", n.Ref("a"))


def test_keywords_are_contextual() -> None:
    # `name` and `text` are keywords elsewhere, but a field or a label may use them.
    assert cond('contact.name == "x"').field == n.Ref("name")
    assert step("text: wait 1 day").label == n.Ref("text")


def test_strings_escapes_and_long_strings() -> None:
    assert step(r'task "say \"hi\"\n\ttab \\ done"').text == 'say "hi"\n\ttab \\ done'
    body = step(
        'email {\n    body """\n      Hi there,\n        indented\n      bye\n    """\n  }'
    ).body
    assert body.get("body").value.text == "Hi there,\n  indented\nbye"


def test_spans_are_one_based_with_exclusive_end() -> None:
    module = parse("sequence s {\n  first: wait 2 days\n}\n", "f.seq")
    wait = module.sequences[0].steps[0]
    assert wait.span == n.Span("f.seq", 2, 3, 2, 21)
    assert wait.label.span == n.Span("f.seq", 2, 3, 2, 8)
    assert wait.duration.span == n.Span("f.seq", 2, 15, 2, 21)


def test_comments_are_collected_with_positions() -> None:
    module = parse("# top\nsequence s { # trailing\n  wait 1 day\n}\n", "c.seq")
    assert [(c.text, c.span.line, c.span.column) for c in module.comments] == [
        ("# top", 1, 1),
        ("# trailing", 2, 14),
    ]


def test_equality_ignores_spans_and_comments() -> None:
    assert parse("sequence s { wait 1 day }") == parse("# c\nsequence s {\n\n  wait 1 day\n}\n")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "sequence s {\n  welcome email welcome\n}\n",
            (2, 11, "expected `:`, found `email`", "a label is written `welcome:` before its step"),
        ),
        (
            "sequence s {\n  wait 2d\n}\n",
            (
                2,
                9,
                "expected a time unit (`minutes`, `hours`, `days`, `weeks`, `business days`, "
                "`business hours`), found `d`",
                "write the unit as a word, e.g. `2 days` or `3 business hours`",
            ),
        ),
        (
            "sequence s {\n  wait\n}\n",
            (3, 1, "expected a duration such as `2 days`, found `}`", None),
        ),
        (
            'sequence s {\n  if contact.plan = "pro" { exit }\n}\n',
            (
                2,
                19,
                "unexpected character `=`; expected `contains`, `exists`, `in` or a comparison "
                "(`==`, `!=`, `<`, `<=`, `>`, `>=`)",
                "use `==` to compare",
            ),
        ),
        (
            "sequence s {\n  sned on office\n}\n",
            (2, 8, "expected `:`, found `on`", "did you mean `send`?"),
        ),
        (
            "sequence s {\n  if replied {\n    exit\n",
            (
                4,
                1,
                "unexpected end of file; expected `}`",
                "the `{` at line 2, column 14 is never closed",
            ),
        ),
        (
            "sequence s {\n  wait 1 day\n  track none\n}\n",
            (
                3,
                3,
                "settings come before the first step",
                "move this line above the sequence's steps",
            ),
        ),
    ],
)
def test_syntax_errors_say_what_was_expected_where(source: str, expected: tuple) -> None:
    assert errors(source)[0] == expected


def test_several_syntax_errors_are_reported_without_cascades() -> None:
    found = errors(
        "sequence s {\n"
        "  sned on office\n"
        "  wait 3 dayz\n"
        "  if contact.seats => 10 {\n"
        '    task "call"\n'
        "  }\n"
        "  goto\n"
        "}\n"
    )
    assert [(line, col) for line, col, _, _ in found] == [(2, 8), (3, 10), (4, 20), (8, 1)]
    assert found[2][3] == "did you mean `>=`?"


def test_a_misspelt_keyword_is_one_word_not_a_keyword_and_a_name() -> None:
    ((line, col, message, _),) = errors("sequence s {\n  wait 3 dayz\n}\n")
    assert (line, col) == (2, 10) and message.endswith("found `dayz`")


def test_syntax_error_carries_file_name() -> None:
    with pytest.raises(SeqSyntaxError) as info:
        parse("sequence {", "dir/x.seq")
    assert str(info.value).startswith("dir/x.seq:1:10: error SEQ001 ")


def test_the_readme_example_parses() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"```seq\n(.*?)```", readme, re.S)
    assert parse(block, "README.md").sequences[0].name == "onboarding"
