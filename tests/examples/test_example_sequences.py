"""The example sequences are what users copy: each must load, render and check cleanly."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

import pytest

import seqlang
from seqlang import nodes as n
from seqlang.graph import StepGraph, lower
from seqlang.loader import Program, Scope, load
from seqlang.templates import email_versions

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.seq"))
LINK = re.compile(r"https?://[^\s\"'<>)]+")


def email_steps(program: Program) -> Iterator[tuple[n.Sequence, StepGraph, n.EmailStep]]:
    for seq in program.root.sequences:
        graph = lower(seq)
        for step in n.walk_steps(seq.steps):
            if isinstance(step, n.EmailStep):
                yield seq, graph, step


def conditions(cond: n.Cond) -> Iterator[n.Cond]:
    yield cond
    if isinstance(cond, n.Not):
        yield from conditions(cond.operand)
    elif isinstance(cond, n.And | n.Or):
        for operand in cond.operands:
            yield from conditions(operand)


def click_conditions(path: Path) -> Iterator[tuple[str, str]]:
    program = load(path)
    for seq in program.root.sequences:
        tests = [seq.exit_when] + [branch.cond for step in n.walk_steps(seq.steps)
                                   if isinstance(step, n.If) for branch in step.branches]
        for cond in (c for t in tests for c in conditions(t)):
            if isinstance(cond, n.EventCond) and cond.url is not None and cond.step is not None:
                yield cond.step.name, cond.url


def contacts_for(scope: Scope, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each example contact cut down to the declared fields, plus one with only the required
    ones: rendering then fails on an undeclared field or an optional one without a default."""
    keep = {"email", *scope.fields}
    required = ["email", *(f.name for f in scope.fields.values() if not f.optional)]
    cut = [{k: v for k, v in row.items() if k in keep} for row in rows]
    for contact in cut:
        missing = [name for name in required if name not in contact]
        assert not missing, f"{contact['email']} lacks required fields {missing}"
    return [*cut, {name: cut[0][name] for name in required}]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_loads_with_every_import_resolved(path: Path) -> None:
    program = load(path)
    assert program.diagnostics == []
    assert program.root.sequences, "an example shows at least one sequence"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_every_email_renders_for_every_contact_with_an_unsubscribe_link(
    path: Path, csv_contacts: list[dict[str, Any]], render_parts, context
) -> None:
    program = load(path)
    scope = program.scope(program.root)
    contacts = contacts_for(scope, csv_contacts)
    sent = 0
    for seq, graph, step in email_steps(program):
        for version in email_versions(step, scope, graph):
            where = f"{path.name}: {seq.name}.{step.label.name if step.label else '?'}"
            assert version.get("subject") is not None, f"{where} has no subject"
            assert version.bodies, f"{where} has no body"
            for contact in contacts:
                ctx = context(seq, step, contact)
                out = render_parts(version, ctx)
                assert out["subject"].strip(), f"{where}: empty subject"
                for part in version.bodies:
                    assert ctx["unsubscribe_url"] in out[part.key], (
                        f"{where}: the {part.key} has no unsubscribe link"
                    )
                sent += 1
    assert sent, f"{path.name} sends no email"


CLICKS = [(path, label, url) for path in EXAMPLE_FILES for label, url in click_conditions(path)]


@pytest.mark.parametrize(
    ("path", "label", "url"), CLICKS, ids=[f"{p.name}-{lbl}" for p, lbl, _ in CLICKS]
)
def test_clicked_url_prefix_matches_a_link_of_that_email(
    path: Path, label: str, url: str, csv_contacts: list[dict[str, Any]], render_parts, context
) -> None:
    program = load(path)
    scope = program.scope(program.root)
    (seq, graph, step), *_ = [
        found for found in email_steps(program) if found[2].label and found[2].label.name == label
    ]
    links: set[str] = set()
    for version in email_versions(step, scope, graph):
        out = render_parts(version, context(seq, step, csv_contacts[0]))
        links.update(link for part in version.bodies for link in LINK.findall(out[part.key]))
    assert any(link.startswith(url) for link in links), f"no link of {label} starts with {url}"


def test_trial_nurture_tests_clicks_on_three_emails() -> None:
    """The branching example exercises `clicked(L, url)` where its copy really links."""
    labels = {label for label, _ in click_conditions(EXAMPLES / "trial_nurture.seq")}
    assert labels == {"welcome", "midpoint", "ending"}


def test_example_contacts_are_fake_and_span_time_zones() -> None:
    with (EXAMPLES / "contacts.csv").open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == ["email", "first_name", "company", "seats", "timezone"]
    assert len(rows) >= 10
    zones = available_timezones()
    for row in rows:
        assert row["email"].rsplit("@", 1)[1] in ("example.com", "example.org"), row["email"]
        assert row["first_name"], row["email"]
        assert row["timezone"] == "" or row["timezone"] in zones, row["timezone"]
        assert row["seats"] == "" or int(row["seats"]) > 0, row["seats"]
    given = [row["timezone"] for row in rows if row["timezone"]]
    assert 2 <= len(rows) - len(given) < len(rows) / 2, "a couple of contacts use the default"
    assert len(set(given)) >= 6
    assert len({row["email"] for row in rows}) == len(rows)


def test_onboarding_is_the_designs_sequence() -> None:
    """The language design's §3 example, step for step (its inline nudge gains a footer)."""
    seq = load(EXAMPLES / "onboarding.seq").root.sequences[0]
    kinds = [(type(s).__name__, s.label.name if s.label else None) for s in n.walk_steps(seq.steps)]
    assert kinds == [
        ("EmailStep", "welcome"), ("Wait", None), ("If", None), ("EmailStep", "content"),
        ("EmailStep", "nudge"), ("Wait", None), ("EmailStep", "followup"),
    ]
    assert seq.exit_when == n.DEFAULT_EXIT_WHEN
    timezone = seq.setting(n.Timezone)
    assert timezone == n.Timezone(n.Ref("timezone"), "America/New_York")


def findings(path: Path) -> list[tuple[str, str, int]]:
    pytest.importorskip("seqlang.checker")
    return [(d.code, d.severity, d.span.line) for d in seqlang.check(path)]


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_checks_without_findings(path: Path) -> None:
    assert findings(path) == []
