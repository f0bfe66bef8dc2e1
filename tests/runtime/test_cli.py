"""The engine's commands, end to end through `seqlang.cli.main`, on both databases."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seqlang.cli import main

FLOW = """
contact {
  first_name: string
}

sequence flow {
  from "Ana <ana@example.com>"
  welcome: email {
    subject "Hi {{ contact.first_name }}"
    body "Welcome! {{ unsubscribe_url }}"
  }
  wait 2 days
  later: email { subject "Later" body "x {{ unsubscribe_url }}" }
}
"""
NOW = "2026-03-02T14:00:00+00:00"


@pytest.fixture
def cli(store, tmp_path, capsys):
    url = store.engine.url.render_as_string(hide_password=False)
    outbox = tmp_path / "outbox"

    def run(*args: str) -> tuple[int, str, str]:
        command, *rest = args
        extra = ["--database-url", url]
        if command == "process":
            extra += ["--transport", f"outbox:{outbox}"]
        status = main([command, *extra, *rest])
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    run.outbox = outbox  # type: ignore[attr-defined]
    return run


def sent(outbox: Path) -> list[dict]:
    index = outbox / "index.jsonl"
    return [json.loads(line) for line in index.read_text().splitlines()] if index.exists() else []


def test_deploy_enroll_process_event_status(cli, tmp_path):
    seq = tmp_path / "flow.seq"
    seq.write_text(FLOW, encoding="utf-8")
    assert cli("deploy", str(seq))[:2] == (0, "flow: version 1 (new version)\n")
    assert cli("deploy", str(seq))[:2] == (0, "flow: version 1 (unchanged)\n")

    csv = tmp_path / "people.csv"
    csv.write_text("email,first_name\nbo@example.com,Bo\nbroken,X\n", encoding="utf-8")
    status, out, err = cli("enroll", "flow", "--csv", str(csv), "--now", NOW)
    assert status == 1
    assert out.startswith("enrolled 1 in flow: ") and out.endswith("; 1 skipped\n")
    assert err == (f"{csv}:3: 'broken' is not an email address (needs exactly one @)\n")
    status, out, _ = cli("enroll", "flow", "--contact", "email=cy@example.com",
                         "--contact", "first_name=Cy", "--now", NOW)
    assert status == 0
    cy = int(out.rsplit(": ", 1)[1])

    status, out, _ = cli("process", "--now", NOW, "--format", "json")
    assert (status, json.loads(out)["sent"]) == (0, 2)
    assert sorted(m["subject"] for m in sent(cli.outbox)) == ["Hi Bo", "Hi Cy"]

    status, out, _ = cli("event", "replied", "--contact", "Cy@Example.com", "--step", "welcome",
                         "--now", "2026-03-02T15:00:00+00:00")
    assert status == 0 and out.startswith(f"recorded replied for enrollment {cy} step welcome")
    assert cli("event", "opened", "--contact", "cy@example.com", "--step", "later")[::2] == (
        1, "seqlang event: no email was sent to cy@example.com from step later\n")
    assert cli("process", "other", "--now", "2026-03-02T15:00:00+00:00")[1] == "nothing due\n"
    assert cli("process", "flow", "--now", "2026-03-02T15:00:00+00:00")[1] == (
        "claimed 1, exited 1\n")

    status, out, _ = cli("status", "flow", "--format", "json")
    [overview] = json.loads(out)
    assert overview["states"] == {"active": 1, "exited": 1}
    assert cli("status", "nope")[::2] == (1, "seqlang status: sequence 'nope' is not deployed\n")
    status, out, _ = cli("status", str(cy))
    assert status == 0
    assert f"enrollment {cy}: cy@example.com in flow (version 1), exited" in out
    assert "exited: exit when replied or unsubscribed or bounced" in out


def test_deploy_shows_check_errors_with_the_source_line(cli, tmp_path):
    seq = tmp_path / "bad.seq"
    seq.write_text(FLOW.replace("wait 2 days", "wait 0 days"), encoding="utf-8")
    status, out, err = cli("deploy", str(seq))
    assert (status, out) == (1, "")
    assert "not deployed, `seqlang check` found 1 error" in err
    assert "bad.seq:12:8: error SEQ033" in err
    assert "  12 |   wait 0 days" in err and "^" in err


def test_operator_commands(cli, tmp_path):
    seq = tmp_path / "flow.seq"
    seq.write_text(FLOW, encoding="utf-8")
    cli("deploy", str(seq))
    out = cli("enroll", "flow", "--contact", "email=bo@example.com", "--contact",
              "first_name=Bo", "--now", NOW)[1]
    bo = out.rsplit(": ", 1)[1].strip()
    cli("process", "--now", NOW)
    bo_mail = sent(cli.outbox)[0]
    status, out, _ = cli("event", "opened", "--message-id", bo_mail["message_id"], "--now", NOW)
    assert status == 0 and out.startswith(f"recorded opened for enrollment {bo} step welcome")
    assert cli("pause", bo, "--reason", "asked us to wait")[:2] == (
        0, f"enrollment {bo} paused\n")
    assert cli("pause", bo)[::2] == (1, f"seqlang pause: enrollment {bo} is paused, not "
                                        "active\n")
    assert cli("resume", bo, "--now", NOW)[:2] == (0, f"enrollment {bo} resumed\n")
    assert cli("skip-step", bo, "--now", NOW)[:2] == (0, f"enrollment {bo} now at later\n")
    cli("process", "--now", NOW)
    assert [m["subject"] for m in sent(cli.outbox)] == ["Hi Bo", "Later"]
    assert cli("unenroll", bo)[::2] == (1, f"seqlang unenroll: enrollment {bo} is completed, "
                                           "not active or paused\n")
    assert cli("status", "999")[::2] == (1, "seqlang status: no enrollment 999\n")


def test_checking_files_never_imports_the_engine():
    code = ("import sys, seqlang.cli, seqlang.commands.check, seqlang.commands.fmt;"
            "print(sorted(m for m in ('sqlalchemy', 'apscheduler', 'googleapiclient', "
            "'fastapi', 'alembic', 'runtime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
