"""`seqlang rule`: list every code a check can report, or print one code's page.

The pages ship inside the package (`seqlang.ruledocs`), so the explanation a
user reads always matches the installed checker, offline and from a wheel.
The list comes from the checker, not from the rule registry alone, because
the parser (SEQ001), the loader (SEQ012) and the suppression comments (SEQ090)
report codes too.
"""

from __future__ import annotations

import argparse
import re
import sys
from importlib.resources import files

from ..checker import CodeInfo, known_codes

DOCS_PACKAGE = "seqlang.ruledocs"
CODE = re.compile(r"SEQ\d{3}")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("code", nargs="?", metavar="CODE",
                        help="a rule code such as SEQ023 (or its name); omit to list every rule")


def doc_page(code: str) -> str | None:
    """The Markdown page of a rule code, or None when the package ships none."""
    page = files(DOCS_PACKAGE) / f"{code}.md"
    return page.read_text(encoding="utf-8") if page.is_file() else None


def documented_codes() -> list[str]:
    return sorted(p.name.removesuffix(".md") for p in files(DOCS_PACKAGE).iterdir()
                  if p.name.startswith("SEQ") and p.name.endswith(".md"))


def rule_table(rules: dict[str, CodeInfo]) -> str:
    name_width = max((len(r.name) for r in rules.values()), default=0)
    return "\n".join(f"{r.code}  {r.name:<{name_width}}  {r.severity:<7}  {r.summary}"
                     for r in rules.values())


def _find(wanted: str, rules: dict[str, CodeInfo]) -> str | None:
    """The code for a code or rule name, ignoring case."""
    key = wanted.strip().upper()
    if key in rules or (CODE.fullmatch(key) and doc_page(key) is not None):
        return key
    return next((r.code for r in rules.values() if r.name == wanted.strip().lower()), None)


def run(args: argparse.Namespace) -> int:
    rules = known_codes()
    if args.code is None:
        print(rule_table(rules))
        return 0
    code = _find(args.code, rules) if args.code.strip() else None
    if code is None:
        known = sorted(set(rules) | set(documented_codes()))
        print(f"seqlang rule: unknown rule {args.code!r}; known codes: {', '.join(known)}",
              file=sys.stderr)
        return 2
    page = doc_page(code)
    if page is None:
        info = rules[code]
        print(f"{info.code} {info.name} ({info.severity}): {info.summary}")
        print(f"seqlang rule: no documentation page ships for {code}", file=sys.stderr)
        return 0
    sys.stdout.write(page if page.endswith("\n") else page + "\n")
    return 0
