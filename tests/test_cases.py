"""Golden diagnostics: `seqlang check --format text` of every case in tests/cases.

A case is `tests/cases/NAME.seq`; its golden is `NAME.diagnostics.txt` next to it.
Files with a second suffix (`NAME.formatted.seq`) are other tools' expected
outputs, not cases. Rewrite the goldens with `pytest --update` and review the diff.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from seqlang.checker import check_path
from seqlang.cli import main

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases"
CASE_FILES = sorted(p for p in CASES.glob("*.seq") if "." not in p.stem)
RULE_CODES = ["SEQ010", "SEQ011", "SEQ020", "SEQ021", "SEQ022", "SEQ023", "SEQ024", "SEQ030",
              "SEQ031", "SEQ032", "SEQ033", "SEQ051", "SEQ052", "SEQ060", "SEQ090"]


@pytest.mark.parametrize("case", CASE_FILES, ids=[p.stem for p in CASE_FILES])
def test_check_output_matches_the_golden_file(
    case: Path, golden: Callable[[Path, str], None], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(ROOT)
    status = main(["check", "--format", "text", case.relative_to(ROOT).as_posix()])
    out = capsys.readouterr().out
    golden(case.with_suffix(".diagnostics.txt"), out)
    errors = int(out.splitlines()[-1].split()[0])
    assert status == (1 if errors else 0)


@pytest.mark.parametrize("code", RULE_CODES)
def test_each_rule_has_a_triggering_case_and_a_near_miss(
    code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    prefix = code.lower() + "_"
    triggering = [p for p in CASE_FILES if p.name.startswith(prefix) and "near_miss" not in p.name
                  and "library" not in p.name]
    near_miss = CASES / f"{prefix}near_miss.seq"
    assert triggering and near_miss.exists()
    for case in triggering:
        assert code in {d.code for d in check_path(case)}, case.name
    assert check_path(near_miss) == []
