"""Whatever text the parser is fed, it answers with IR or with SeqSyntaxError, never a crash.

`SEQLANG_FUZZ_EXAMPLES` raises the example count for a longer run (the nightly/bench mode).
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlang.diagnostics import SeqSyntaxError
from seqlang.parser import parse

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("SEQLANG_FUZZ_EXAMPLES", "300"))
SEEDS = sorted(
    p.read_text(encoding="utf-8")
    for p in [*ROOT.glob("examples/*.seq"), *ROOT.glob("tests/cases/*.seq")]
) or ['sequence s {\n  a: email { subject "x" body "y" }\n  wait 1 day\n}\n']
TOKENS = [
    "{",
    "}",
    "(",
    ")",
    ":",
    ",",
    "%",
    "-",
    "==",
    "=",
    "[",
    "]",
    "\n",
    " ",
    '"',
    '"""',
    "#",
    "sequence",
    "email",
    "wait",
    "if",
    "else",
    "within",
    "split",
    "goto",
    "exit",
    "when",
    "contact.",
    "opened(",
    "2 days",
    "09:00",
    "2026-12-01T09:00",
    "50%",
    "x",
    "\\",
]


def parses_or_reports(text: str) -> None:
    try:
        parse(text, "fuzz.seq")
    except SeqSyntaxError as err:
        assert err.diagnostics, "a syntax error must carry at least one finding"
        for d in err.diagnostics:
            assert d.code == "SEQ001" and d.span.line >= 1 and d.span.column >= 1


fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))


@fuzz
@given(st.text())
def test_arbitrary_text(text: str) -> None:
    parses_or_reports(text)


@fuzz
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join))
def test_token_soup(text: str) -> None:
    parses_or_reports(text)


@fuzz
@given(
    st.sampled_from(SEEDS),
    st.lists(
        st.tuples(st.floats(0, 1), st.integers(0, 12), st.sampled_from([*TOKENS, "", "\x00", "é"])),
        min_size=1,
        max_size=4,
    ),
)
def test_mutated_valid_files(seed: str, edits: list[tuple[float, int, str]]) -> None:
    text = seed
    for where, cut, insert in edits:
        at = int(where * len(text))
        text = text[:at] + insert + text[at + cut :]
    parses_or_reports(text)
