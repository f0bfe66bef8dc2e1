"""Imports: stdlib and relative modules load; missing files and cycles are findings, not crashes."""

from __future__ import annotations

from pathlib import Path

from seqlang.loader import load


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_stdlib_and_relative_imports_bring_their_names_into_scope(tmp_path: Path) -> None:
    write(tmp_path, "common.seq", 'template hello {\n  subject "Hi"\n  body "Hello"\n}\n')
    main = write(
        tmp_path,
        "main.seq",
        'import "std/schedules"\nimport "./common.seq"\nsequence s {\n  email hello\n}\n',
    )
    program = load(main)
    assert program.diagnostics == []
    scope = program.scope(program.root)
    assert "hello" in scope.templates
    assert scope.schedules, "std/schedules declares schedules"
    assert len(program.modules) == 3


def test_missing_import_is_seq012_at_the_import(tmp_path: Path) -> None:
    main = write(tmp_path, "main.seq", 'sequence s {\n  wait 1 day\n}\nimport "./nope.seq"\n')
    (diag,) = load(main).diagnostics
    assert (diag.code, diag.span.line, diag.span.column) == ("SEQ012", 4, 1)
    assert diag.message == 'import "./nope.seq": not found'


def test_unknown_stdlib_module_lists_the_known_ones(tmp_path: Path) -> None:
    main = write(tmp_path, "main.seq", 'import "std/nope"\n')
    (diag,) = load(main).diagnostics
    assert diag.code == "SEQ012" and "`std/schedules`" in (diag.hint or "")


def test_import_cycle_is_named_in_order(tmp_path: Path) -> None:
    write(tmp_path, "a.seq", 'import "./b.seq"\n')
    write(tmp_path, "b.seq", 'import "./a.seq"\n')
    program = load(tmp_path / "a.seq")
    (diag,) = program.diagnostics
    assert diag.code == "SEQ012" and diag.message.startswith("import cycle: ")
    names = [Path(p).name for p in diag.message.removeprefix("import cycle: ").split(" -> ")]
    assert names == ["a.seq", "b.seq", "a.seq"]


def test_syntax_errors_of_an_imported_module_are_reported_with_its_path(tmp_path: Path) -> None:
    write(tmp_path, "broken.seq", "schedule {\n")
    main = write(tmp_path, "main.seq", 'import "./broken.seq"\n')
    diags = load(main).diagnostics
    assert diags and all(d.code == "SEQ001" and d.span.file.endswith("broken.seq") for d in diags)
