"""The pre-commit hooks other repositories install: ids, commands and file patterns."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from seqlang.cli import COMMANDS

HOOKS = Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml"


def test_hooks_run_seqlang_commands_on_seq_files_only() -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text(encoding="utf-8"))}
    assert {hid: hook["entry"] for hid, hook in hooks.items()} == {
        "seqlang-check": "seqlang check",
        "seqlang-fmt": "seqlang fmt",
    }
    for hook in hooks.values():
        program, command = hook["entry"].split()
        assert program == "seqlang" and command in COMMANDS
        assert hook["language"] == "python"
        pattern = re.compile(hook["files"])
        assert pattern.search("sequences/onboarding.seq")
        assert not pattern.search("onboarding.seq.orig")
        assert not pattern.search("templates/welcome.html.j2")
