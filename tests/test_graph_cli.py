"""`seqlang graph`: the pictures a user pastes into docs and reviews, pinned exactly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from seqlang.cli import main

DEMO = '''\
sequence demo {
  welcome: email welcome
  wait 2 business days
  if opened(welcome) within 3 days {
    task "Call \\"them\\" | <b>#1</b>"
  } else {
    split {
      70%: { goto welcome }
      30%: { exit "cold" }
    }
  }
}
'''

MERMAID = '''\
flowchart TD
  n0(["start"])
  n1["welcome: email welcome"]
  n2["wait 2 business days"]
  n3{"if opened(welcome) within 3 days"}
  n4["task #quot;Call \\#quot;them\\#quot; #124; #lt;b#gt;#35;1#lt;/b#gt;#quot;"]
  n5{{"split 70% / 30%"}}
  n6["goto welcome"]
  n7["exit #quot;cold#quot;"]
  n8(["end"])
  n0 --> n1
  n1 --> n2
  n2 --> n3
  n3 -->|"then: opened(welcome)"| n4
  n3 -->|"timeout 3 days"| n5
  n4 --> n8
  n5 -->|"70%"| n6
  n5 -->|"30%"| n7
  n6 -->|"goto"| n1
  n7 --> n8
'''

DOT = '''\
digraph "demo" {
  node [shape=box, fontname="Helvetica"];
  edge [fontname="Helvetica"];
  n0 [label="start", shape=oval];
  n1 [label="welcome: email welcome"];
  n2 [label="wait 2 business days"];
  n3 [label="if opened(welcome) within 3 days", shape=diamond];
  n4 [label="task \\"Call \\\\\\"them\\\\\\" | <b>#1</b>\\""];
  n5 [label="split 70% / 30%", shape=hexagon];
  n6 [label="goto welcome"];
  n7 [label="exit \\"cold\\""];
  n8 [label="end", shape=oval];
  n0 -> n1;
  n1 -> n2;
  n2 -> n3;
  n3 -> n4 [label="then: opened(welcome)"];
  n3 -> n5 [label="timeout 3 days"];
  n4 -> n8;
  n5 -> n6 [label="70%"];
  n5 -> n7 [label="30%"];
  n6 -> n1 [label="goto"];
  n7 -> n8;
}
'''

needs_graphviz = pytest.mark.skipif(shutil.which("dot") is None,
                                    reason="Graphviz `dot` is not installed")


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    path = tmp_path / "demo.seq"
    path.write_text(DEMO, encoding="utf-8")
    return path


def test_mermaid_is_the_default(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(demo)]) == 0
    assert capsys.readouterr().out == MERMAID


def test_dot(demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(demo), "--format", "dot"]) == 0
    assert capsys.readouterr().out == DOT


def test_output_file_format_follows_its_extension(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo.gv"
    assert main(["graph", str(demo), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == DOT


def test_branch_arrows_say_then_else_if_and_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "branches.seq"
    path.write_text(
        "sequence s {\n  a: email t\n"
        "  if opened(a) { }\n  else if contact.seats > 10 { task \"x\" }\n  else { }\n}\n",
        encoding="utf-8",
    )
    assert main(["graph", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert '  n2{"if (2 conditions)"}' in lines
    # An empty branch goes straight on: two arrows may join the same two steps.
    assert lines[-5:] == [
        "  n1 --> n2",
        '  n2 -->|"then: opened(a)"| n4',
        '  n2 -->|"else if: contact.seats #gt; 10"| n3',
        '  n2 -->|"else"| n4',
        "  n3 --> n4",
    ]


@needs_graphviz
def test_svg_through_graphviz(demo: Path, tmp_path: Path) -> None:
    out = tmp_path / "demo.svg"
    assert main(["graph", str(demo), "-o", str(out)]) == 0
    svg = out.read_text(encoding="utf-8")
    assert "<svg" in svg and "if opened(welcome) within 3 days" in svg


def test_svg_without_graphviz_names_the_fix(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["graph", str(demo), "--format", "svg"]) == 2
    err = capsys.readouterr().err
    assert "apt-get install graphviz" in err and "--format dot" in err


def test_a_file_with_several_sequences_needs_a_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "two.seq"
    path.write_text("sequence a {\n  wait 1 day\n}\nsequence b {\n  exit\n}\n", encoding="utf-8")
    assert main(["graph", str(path)]) == 2
    assert "several sequences (a, b); choose one with --sequence NAME" in capsys.readouterr().err
    assert main(["graph", str(path), "--sequence", "c"]) == 2
    assert "no sequence 'c' (its sequences: a, b)" in capsys.readouterr().err
    assert main(["graph", str(path), "--sequence", "b"]) == 0
    assert '  n1["exit"]' in capsys.readouterr().out.splitlines()


def test_syntax_errors_are_shown_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.seq"
    path.write_text("sequence s {\n  wait 2d\n}\n", encoding="utf-8")
    assert main(["graph", str(path)]) == 1
    err = capsys.readouterr().err
    assert "bad.seq:2:9: error SEQ001" in err and "wait 2d" in err


def test_unreadable_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["graph", str(tmp_path / "missing.seq")]) == 2
    assert "cannot read" in capsys.readouterr().err
