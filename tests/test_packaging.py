"""A non-editable install finds the grammar and the stdlib: they ship inside the wheel."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_grammar_and_stdlib_and_parses_from_them(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
    )
    (wheel,) = tmp_path.glob("seqlang-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "seqlang/grammar/seq.lark" in names
    assert "seqlang/stdlib/schedules.seq" in names
    unpacked = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(unpacked)
    # -S skips site-packages' .pth files, so the editable install of this checkout can't leak in;
    # the dependencies are added back as a plain path after the unpacked wheel.
    script = (
        "import sys; sys.path[:0] = [sys.argv[1]]; sys.path.append(sys.argv[2]);"
        "import seqlang, seqlang.loader as L;"
        "assert seqlang.__file__.startswith(sys.argv[1]), seqlang.__file__;"
        "p = L.load_text('import \"std/schedules\"\\n', 'x.seq');"
        "assert not p.diagnostics and len(p.modules) == 2, p.diagnostics;"
        "print('ok')"
    )
    site = sysconfig.get_paths()["purelib"]
    out = subprocess.run(
        [sys.executable, "-S", "-c", script, str(unpacked), site],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "ok"
