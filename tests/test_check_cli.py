"""`seqlang check` as CI and editors use it: exit codes, flags, settings files,
suppression comments, and the four output formats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seqlang.checker import known_codes
from seqlang.cli import main
from seqlang.diagnostics import Diagnostic
from seqlang.nodes import Span
from seqlang.outputs import Report, github, sarif

SARIF_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sarif-schema-2.1.0.json"

HELLO = 'template hello {\n  subject "Hello"\n  body "Hi! {{ unsubscribe_url }}"\n}\n'
CLEAN = HELLO + "sequence s {\n  email hello\n}\n"
UNREACHABLE = HELLO + "sequence s {\n  exit\n  email hello\n}\n"  # one warning, SEQ020 line 7
BAD_ZONE = 'sequence s {\n  timezone "Mars/Base"\n  wait 1 day\n}\n'  # one error, SEQ031


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder, made the working directory, with settings of its own so that
    nothing above it applies."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "seqlang.toml").write_text("", encoding="utf-8")
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["check", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# ---- exit status -----------------------------------------------------------------------


def test_exit_status_is_0_clean_1_on_errors_and_warnings_fail_only_when_strict(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "clean.seq", CLEAN)
    write(project / "warns.seq", UNREACHABLE)
    write(project / "fails.seq", BAD_ZONE)
    assert run(capsys, "clean.seq")[0] == 0
    assert run(capsys, "warns.seq")[0] == 0
    assert run(capsys, "--strict", "warns.seq")[0] == 1
    assert run(capsys, "fails.seq")[0] == 1


@pytest.mark.parametrize("args", [
    ["--format", "xml", "x.seq"],
    ["--select", "SEQ9", "x.seq"],
    ["--ignore", "W001", "x.seq"],
    ["missing.seq"],
    ["empty_folder"],
    [],
])
def test_usage_problems_exit_2(project: Path, capsys: pytest.CaptureFixture[str],
                               args: list[str]) -> None:
    write(project / "x.seq", CLEAN)
    (project / "empty_folder").mkdir()
    status, _, err = run(capsys, *args)
    assert status == 2 and err


def test_an_unreadable_file_exits_2_but_the_others_are_still_reported(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "latin1.seq").write_bytes('sequence s {\n  task "caf\xe9"\n}\n'.encode("latin-1"))
    write(project / "fails.seq", BAD_ZONE)
    status, out, err = run(capsys, "latin1.seq", "fails.seq")
    assert status == 2
    assert "cannot read latin1.seq" in err
    assert "fails.seq:2:12: error SEQ031" in out


# ---- paths, selection ------------------------------------------------------------------------


def test_folders_are_searched_for_seq_files_skipping_hidden_and_excluded_ones(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "seqlang.toml", 'exclude = ["build/**"]\n')
    write(project / "a" / "one.seq", BAD_ZONE)
    write(project / "a" / "b" / "two.seq", BAD_ZONE)
    write(project / ".venv" / "three.seq", BAD_ZONE)
    write(project / "build" / "four.seq", BAD_ZONE)
    write(project / "a" / "notes.txt", "not a module")
    _, out, _ = run(capsys, ".")
    files = sorted({line.split(":")[0] for line in out.splitlines() if "error SEQ" in line})
    assert files == ["a/b/two.seq", "a/one.seq"]
    assert out.endswith("2 errors, 0 warnings in 2 files\n")
    assert run(capsys, "build/four.seq")[0] == 1  # a file named explicitly is always checked


def test_select_and_ignore_take_codes_and_prefixes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "both.seq", 'sequence s {\n  timezone "Mars/Base"\n  exit\n  wait 1 day\n}\n')
    assert "SEQ020" not in run(capsys, "--select", "SEQ03", "both.seq")[1]
    status, out, _ = run(capsys, "--select", "SEQ02,SEQ031", "--ignore", "SEQ031", "both.seq")
    assert (status, out.count("warning SEQ020"), "SEQ031" in out) == (0, 1, False)


def test_a_broken_import_reported_by_two_files_is_shown_once(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "broken.seq", "schedule {\n")
    write(project / "main.seq", 'import "./broken.seq"\n')
    _, out, _ = run(capsys, "main.seq", "broken.seq")
    assert out.count("broken.seq:1:10: error SEQ001") == 1


# ---- settings files ----------------------------------------------------------------------------


def test_the_nearest_settings_file_applies_and_seqlang_toml_wins_in_its_folder(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "pyproject.toml", '[tool.seqlang]\nignore = ["SEQ031"]\n')
    write(project / "seqlang.toml", "")
    write(project / "sub" / "pyproject.toml", '[project]\nname = "x"\n')  # no [tool.seqlang]
    write(project / "sub" / "deeper" / "pyproject.toml",
          '[tool.seqlang.severity]\nSEQ031 = "warning"\n')
    write(project / "top.seq", BAD_ZONE)
    write(project / "sub" / "mid.seq", BAD_ZONE)
    write(project / "sub" / "deeper" / "low.seq", BAD_ZONE)
    assert "error SEQ031" in run(capsys, "top.seq")[1]  # seqlang.toml, not pyproject.toml
    assert "error SEQ031" in run(capsys, "sub/mid.seq")[1]  # walks past the bare pyproject
    status, out, _ = run(capsys, "sub/deeper/low.seq")
    assert (status, "warning SEQ031" in out) == (0, True)
    (project / "seqlang.toml").unlink()
    assert "SEQ031" not in run(capsys, "top.seq")[1]


def test_severity_can_raise_lower_or_switch_off_a_rule(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "warns.seq", UNREACHABLE)
    write(project / "seqlang.toml", '[severity]\nSEQ020 = "error"\n')
    status, out, _ = run(capsys, "warns.seq")
    assert status == 1 and "warns.seq:7:3: error SEQ020" in out
    write(project / "seqlang.toml", '[severity]\nSEQ020 = "off"\n')
    assert run(capsys, "warns.seq")[1] == "0 errors, 0 warnings in 1 file\n"


def test_per_file_ignores_match_globs_relative_to_the_settings_file(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "seqlang.toml",
          '[per-file-ignores]\n"legacy/*.seq" = ["SEQ03"]\n"**/generated_*.seq" = ["SEQ031"]\n')
    for name in ("legacy/old.seq", "legacy/deep/older.seq", "x/y/generated_1.seq", "new.seq"):
        write(project / name, BAD_ZONE)
    _, out, _ = run(capsys, ".")
    flagged = sorted(line.split(":")[0] for line in out.splitlines() if "SEQ031" in line)
    assert flagged == ["legacy/deep/older.seq", "new.seq"]


@pytest.mark.parametrize(("settings", "where", "says"), [
    ('select = ["SEQ0"]\nignore = ["SEQ9X"]\n', ":2:11:", "`SEQ9X` is not a code"),
    ("[severity]\nSEQ020 = \"fatal\"\n", ":2:10:", "`fatal` is not a severity"),
    ('selct = ["SEQ02"]\n', ":1:1:", "unknown setting"),
    ("select = [\n", ":1:11:", "invalid TOML"),
])
def test_a_mistake_in_the_settings_exits_2_naming_file_line_and_column(
    project: Path, capsys: pytest.CaptureFixture[str], settings: str, where: str, says: str
) -> None:
    write(project / "seqlang.toml", settings)
    write(project / "x.seq", CLEAN)
    status, _, err = run(capsys, "x.seq")
    assert status == 2
    first = err.splitlines()[0]
    assert first.startswith(str(project / "seqlang.toml") + where) and says in first
    assert " | " in err  # the source line is shown


# ---- suppression comments -------------------------------------------------------------------


def test_a_suppression_silences_its_code_on_its_line_only(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "s.seq", HELLO + "sequence s {\n  exit\n  email hello  # seq: ignore[SEQ020]\n"
          "}\nsequence t {\n  exit\n  email hello\n}\n")
    _, out, _ = run(capsys, "s.seq")
    assert [line.split(": ")[0] for line in out.splitlines() if "SEQ020" in line] == ["s.seq:11:3"]


def test_an_unused_suppression_warns_unless_its_code_is_switched_off(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "s.seq", CLEAN.replace("email hello", "email hello  # seq: ignore[SEQ031]"))
    status, out, _ = run(capsys, "--strict", "s.seq")
    assert status == 1 and "s.seq:6:30: warning SEQ090" in out
    assert run(capsys, "--strict", "--ignore", "SEQ031", "s.seq")[0] == 0
    assert run(capsys, "--strict", "--ignore", "SEQ090", "s.seq")[0] == 0


# ---- output formats ------------------------------------------------------------------------------


def test_text_shows_the_line_a_caret_under_the_span_a_hint_and_a_summary(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "z.seq", BAD_ZONE)
    _, out, _ = run(capsys, "z.seq")
    assert out == (
        'z.seq:2:12: error SEQ031 unknown time zone "Mars/Base"\n'
        '   2 |   timezone "Mars/Base"\n'
        "     |            ^^^^^^^^^^^\n"
        '     = hint: use an IANA zone name such as "America/New_York" or "Europe/Paris"\n'
        "\n"
        "1 error, 0 warnings in 1 file\n"
    )


def test_json_keeps_its_contract(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(project / "z.seq", BAD_ZONE)
    write(project / "w.seq", UNREACHABLE)
    _, out, _ = run(capsys, "--format", "json", "w.seq", "z.seq")
    document = json.loads(out)
    assert document["format_version"] == "1"
    assert (document["error_count"], document["warning_count"]) == (1, 1)
    first, second = document["diagnostics"]
    assert set(first) >= {"code", "name", "severity", "message", "file", "line", "column",
                          "end_line", "end_column"}
    assert (first["code"], first["name"], first["severity"]) == (
        "SEQ020", "unreachable-step", "warning")
    assert (second["file"], second["line"], second["column"], second["end_line"],
            second["end_column"]) == ("z.seq", 2, 12, 2, 23)


def _report(*diagnostics: Diagnostic, sources: dict[str, str] | None = None) -> Report:
    return Report(tuple(diagnostics), sources or {}, 1, known_codes())


def test_github_escapes_data_and_property_values_by_the_workflow_command_rules() -> None:
    where = Span("dir,x/a:b%.seq", 3, 4, 3, 9)
    diag = Diagnostic("SEQ020", "warning", "50% of a:b,c\r\nnext", where, "try, again")
    assert github.render(_report(diag)) == (
        "::warning file=dir%2Cx/a%3Ab%25.seq,line=3,col=4,endLine=3,endColumn=9,title=SEQ020"
        "::50%25 of a:b,c%0D%0Anext%0Ahint: try, again\n"
    )


def test_github_reports_each_finding_at_its_severity(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "z.seq", BAD_ZONE)
    write(project / "w.seq", UNREACHABLE)
    _, out, _ = run(capsys, "--format", "github", "w.seq", "z.seq")
    assert [line.split(" ")[0] for line in out.splitlines()] == ["::warning", "::error"]


def test_sarif_fingerprints_follow_the_line_text_not_the_line_number() -> None:
    text = UNREACHABLE
    diag = Diagnostic("SEQ020", "warning", "m", Span("f.seq", 7, 3, 7, 14))
    moved = Diagnostic("SEQ020", "warning", "m", Span("f.seq", 8, 3, 8, 14))
    first = json.loads(sarif.render(_report(diag, sources={"f.seq": text})))
    second = json.loads(sarif.render(_report(moved, sources={"f.seq": "\n" + text})))
    fingerprint = [r["partialFingerprints"]["primaryLocationLineHash"]
                   for doc in (first, second) for r in doc["runs"][0]["results"]]
    assert fingerprint[0] == fingerprint[1]


@pytest.mark.skipif(not SARIF_SCHEMA.exists(),
                    reason=f"the SARIF 2.1.0 schema is not at {SARIF_SCHEMA} (CI provides it)")
def test_sarif_output_is_valid_sarif_2_1_0_with_rules_and_regions(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import jsonschema

    write(project / "z.seq", BAD_ZONE)
    write(project / "w.seq", UNREACHABLE)
    _, out, _ = run(capsys, "--format", "sarif", "w.seq", "z.seq")
    document = json.loads(out)
    schema = json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema)(schema).validate(document)
    (run_,) = document["runs"]
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(known_codes())
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in rules)
    results = run_["results"]
    assert [(r["ruleId"], r["level"]) for r in results] == [("SEQ020", "warning"),
                                                           ("SEQ031", "error")]
    location = results[1]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "z.seq", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 2, "startColumn": 12, "endLine": 2,
                                  "endColumn": 23}
    assert rules[results[1]["ruleIndex"]]["id"] == "SEQ031"
