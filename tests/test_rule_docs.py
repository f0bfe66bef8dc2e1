"""Rule documentation: one page per code, the same names as the checker, examples that are true.

The pages are read through the `seqlang.ruledocs` package, which is how
`seqlang rule` finds them in an installed wheel. A failing example must
really produce its code and the fix must really be clean, so the pages cannot
drift from what `seqlang check` does.
"""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest

from seqlang.checker import check_path, known_codes
from seqlang.cli import main
from seqlang.config import Config

SECTIONS = ("What it finds", "Why it matters", "Failing example", "Fix", "How to silence")
DECLARATION = re.compile(r"^(import|schedule|contact|template|sequence)\b")
CODES = known_codes()


def pages() -> dict[str, str]:
    docs = files("seqlang.ruledocs")
    return {p.name.removesuffix(".md"): p.read_text(encoding="utf-8")
            for p in docs.iterdir() if re.fullmatch(r"SEQ\d{3}\.md", p.name)}


PAGES = pages()


def section(page: str, title: str) -> str:
    return page.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def seq_blocks(text: str) -> list[str]:
    return re.findall(r"^```seq\n(.*?)^```$", text, re.DOTALL | re.MULTILINE)


def is_module(block: str) -> bool:
    """A complete module starts with a declaration; a fragment (a lone step) does not."""
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return bool(lines) and DECLARATION.match(lines[0]) is not None


def check_example(tmp_path: Path, source: str, with_files: bool) -> list[str]:
    """Codes `seqlang check` reports for `source`, with default settings.

    With `with_files`, every `file "path"` it names is created with a valid
    template, so a fixed example is judged on what it shows.
    """
    tmp_path.mkdir()
    path = tmp_path / "example.seq"
    path.write_text(source, encoding="utf-8")
    if with_files:
        for name in re.findall(r'\bfile\s+"([^"]+)"', source):
            target = tmp_path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text('<a href="{{ unsubscribe_url }}">Unsubscribe</a>', encoding="utf-8")
    return [d.code for d in check_path(path, Config())]


def test_every_code_has_a_page_and_every_page_a_code() -> None:
    assert sorted(PAGES) == sorted(CODES)


@pytest.mark.parametrize("code", sorted(CODES))
def test_page_names_the_code_as_the_checker_does_and_has_every_section(code: str) -> None:
    page = PAGES[code]
    info = CODES[code]
    lines = page.splitlines()
    assert lines[0] == f"# {code} {info.name}"
    assert lines[2].startswith(f"Severity: **{info.severity}**. ")
    titles = re.findall(r"^## (.+)$", page, re.MULTILINE)
    assert tuple(titles) == SECTIONS
    for title in SECTIONS:
        assert section(page, title).strip(), f"{code}: empty section {title!r}"


@pytest.mark.parametrize("code", sorted(CODES))
def test_failing_example_reports_the_code_and_the_fix_is_clean(code: str, tmp_path: Path) -> None:
    page = PAGES[code]
    (failing, *_) = seq_blocks(section(page, "Failing example"))
    (fixed, *_) = seq_blocks(section(page, "Fix"))
    if is_module(failing):
        assert code in check_example(tmp_path / "failing", failing, with_files=False)
    if is_module(fixed):
        assert check_example(tmp_path / "fixed", fixed, with_files=True) == []


# ---- seqlang rule ----------------------------------------------------------------------------


def test_rule_prints_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "SEQ023"]) == 0
    assert capsys.readouterr().out == PAGES["SEQ023"]


def test_rule_accepts_lower_case_codes_and_rule_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule", "seq043"]) == 0
    assert main(["rule", "no-unsubscribe-link"]) == 0
    out = capsys.readouterr().out
    assert out == PAGES["SEQ043"] * 2


def test_rule_without_a_code_lists_every_code_with_name_severity_and_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["rule"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [row.split()[0] for row in rows] == sorted(CODES)
    first = CODES["SEQ001"]
    assert rows[0].split() == ["SEQ001", first.name, first.severity, *first.summary.split()]


def test_unknown_rule_exits_2_and_lists_the_known_codes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["rule", "SEQ999"]) == 2
    err = capsys.readouterr().err
    assert "unknown rule 'SEQ999'" in err
    assert "SEQ001, SEQ010" in err and "SEQ090" in err
