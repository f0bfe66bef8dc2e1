"""The project's own sequences check clean: no errors, and exactly the warnings pinned here.

The files are globbed when the test runs, so a new example is covered at once;
a change in what the checker finds in them must show up as a change to PINNED.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from seqlang.checker import check_path
from seqlang.diagnostics import ERROR

ROOT = Path(__file__).resolve().parent.parent

# code -> warnings over examples/*.seq and stdlib/*.seq together
PINNED: dict[str, int] = {}


def corpus() -> list[Path]:
    return sorted([*ROOT.glob("examples/*.seq"), *ROOT.glob("stdlib/*.seq")])


def test_the_corpus_is_not_empty() -> None:
    assert corpus(), "examples/*.seq and stdlib/*.seq hold no files"


def test_corpus_files_have_no_errors_and_the_pinned_warnings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    errors: list[str] = []
    warnings: Counter[str] = Counter()
    for path in corpus():
        for diag in check_path(path.relative_to(ROOT)):
            if diag.severity == ERROR:
                errors.append(diag.headline())
            else:
                warnings[diag.code] += 1
    assert errors == []
    assert dict(warnings) == PINNED
