"""docs/language.md stays true to the grammar and the checker as both change."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seqlang import nodes as n
from seqlang.checker import known_codes
from seqlang.graph import step_kind
from seqlang.parser import grammar_text, parse

DOCS = Path(__file__).resolve().parents[2] / "docs"
REFERENCE = (DOCS / "language.md").read_text(encoding="utf-8")
FENCED = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)
DECLARATION = re.compile(r"^\s*(import|schedule|contact|template|sequence)\b", re.MULTILINE)
EXAMPLES = [body for lang, body in FENCED.findall(REFERENCE) if lang == "seq"]


def as_module(example: str) -> str:
    """An example is a whole module, or the body of a sequence when it declares nothing."""
    return example if DECLARATION.search(example) else f"sequence example {{\n{example}}}\n"


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"example-{i}" for i in range(len(EXAMPLES))])
def test_example_parses(example: str) -> None:
    parse(as_module(example), "docs/language.md")


def forms(cond: n.Cond) -> set[str]:
    """The kinds of test and connective a condition is written with."""
    if isinstance(cond, n.EventCond):
        return {cond.kind + ("(L)" if cond.step else "") + (", url" if cond.url else "")}
    if isinstance(cond, n.FieldCond):
        return {cond.op}
    inner = (cond.operand,) if isinstance(cond, n.Not) else cond.operands
    return {type(cond).__name__.lower()}.union(*(forms(c) for c in inner))


def test_every_step_and_condition_form_has_an_example() -> None:
    seen: set[str] = set()
    for example in EXAMPLES:
        for seq in parse(as_module(example), "docs/language.md").sequences:
            if seq.setting(n.ExitWhen) is not None:
                seen |= forms(seq.exit_when)
            for step in n.walk_steps(seq.steps):
                seen.add(step_kind(step))
                if isinstance(step, n.If):
                    seen |= {f for branch in step.branches for f in forms(branch.cond)}
                    if step.within is not None:
                        seen.add("within")
                    if len(step.branches) > 1:
                        seen.add("else if")
                if isinstance(step, n.EmailStep):
                    if step.reply_to is not None:
                        seen.add("reply to")
                    if step.template is not None and step.body is not None:
                        seen.add("template and block")
                    if step.body is not None and step.body.variants:
                        seen.add("variant")
    steps = {"email", "wait", "wait-until", "if", "split", "goto", "exit", "task", "webhook"}
    email_forms = {"reply to", "template and block", "variant"}
    branching = {"within", "else if"}
    events = {"opened(L)", "clicked(L)", "clicked(L), url", "replied", "replied(L)", "bounced",
              "unsubscribed"}
    fields = {"==", "!=", "<", "<=", ">", ">=", "in", "contains", "exists"}
    assert steps | email_forms | branching | events | fields | {"not", "and", "or"} <= seen


def test_every_keyword_of_the_grammar_is_shown_in_code() -> None:
    keywords = set(re.findall(r'"([a-z]+)"', grammar_text()))
    code = " ".join(re.findall(r"`([^`\n]+)`", FENCED.sub("", REFERENCE)) + EXAMPLES)
    shown = set(re.findall(r"[a-z]+", code))
    assert keywords - shown == set()


def test_every_code_the_checker_reports_is_in_the_table_with_its_severity() -> None:
    rows = dict(re.findall(r"^\| \[(SEQ\d{3})\]\(rules/SEQ\d{3}\.md\) \| (\w+) \|", REFERENCE,
                           re.MULTILINE))
    assert rows == {code: info.severity for code, info in known_codes().items()}


def test_rule_links_lead_to_rule_pages() -> None:
    links = re.findall(r"\]\((rules/SEQ\d{3}\.md)\)", REFERENCE)
    assert links and all((DOCS / link).is_file() for link in links)
