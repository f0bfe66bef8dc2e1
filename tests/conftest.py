"""Shared test options: `pytest --update` rewrites golden files from current output."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases"
EXAMPLES = ROOT / "examples"
STDLIB = ROOT / "stdlib"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update", action="store_true", help="rewrite golden files from the current output"
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Callable[[Path, str], None]:
    """Compare `actual` with the golden file at `path`; with --update, write it instead.

    A missing golden file fails the test (and is written), so a new case can't pass unseen.
    """
    update = request.config.getoption("--update")

    def compare(path: Path, actual: str) -> None:
        if update or not path.exists():
            existed = path.exists()
            path.write_text(actual, encoding="utf-8")
            if not update and not existed:
                pytest.fail(f"golden file {path.name} was missing; wrote it, review and commit it")
            return
        assert actual == path.read_text(encoding="utf-8"), f"output differs from {path.name}"

    return compare
