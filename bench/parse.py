"""Parse speed: parse-to-IR and `fmt` against Lark's bare LALR parse of the same text.

Goals (issue: the front end): parse-to-IR at >= 50% of bare Lark speed, and
linear growth (100k lines take <= 12x the 10k time). Run: `python bench/parse.py`
(`--quick` for a smoke run on small sizes).
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable

from lark import Lark

from seqlang.formatter import format_module
from seqlang.parser import grammar_text, parse


def generate(lines: int) -> str:
    """A sequence of about `lines` lines mixing every common step kind."""
    out = ["schedule office {", "  days mon-fri", "  hours 09:00-17:00", "}", "",
           "sequence big {", '  from "Ana <ana@example.com>"', "  send on office", ""]
    i = 0
    while len(out) < lines - 1:
        i += 1
        out += [
            f"  e{i}: email {{",
            f'    subject "Step {i} for {{{{ contact.first_name }}}}"  # note {i}',
            '    body "Hello again {{ unsubscribe_url }}"',
            "  }",
            f"  wait {i % 5 + 1} business days",
            f"  if opened(e{i}) and not contact.seats > {i} {{",
            f'    task "call {i}"',
            "  } else {",
            "    wait 2 hours",
            "  }",
        ]
    out.append("}")
    return "\n".join(out) + "\n"


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    args = ap.parse_args()
    sizes = [200, 2_000] if args.quick else [1_000, 10_000, 100_000]
    repeat = 1 if args.quick else 3
    bare = Lark(grammar_text(), parser="lalr", lexer="contextual")
    header = ("lines", "bare lark l/s", "parse-to-IR l/s", "speed vs bare", "fmt l/s")
    print("{:>8} {:>14} {:>16} {:>14} {:>10}".format(*header))
    results = {}
    for size in sizes:
        text = generate(size)
        n = text.count("\n")
        parse(text)  # build the parser once, outside the timing
        t_bare = best_of(lambda t=text: bare.parse(t), repeat)
        t_ir = best_of(lambda t=text: parse(t), repeat)
        module = parse(text)
        t_fmt = best_of(lambda m=module: format_module(m), repeat)
        results[size] = t_ir
        print(f"{n:>8} {n / t_bare:>14,.0f} {n / t_ir:>16,.0f} {t_bare / t_ir:>13.2f}x "
              f"{n / t_fmt:>10,.0f}")
    if not args.quick:
        growth = results[100_000] / results[10_000]
        print(f"growth 10k -> 100k lines: {growth:.1f}x (goal <= 12x)")


if __name__ == "__main__":
    main()
