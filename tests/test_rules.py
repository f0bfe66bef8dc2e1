"""The checker's rules: the meanings the golden cases do not spell out, the registry, the
library API, growth with file size, and random valid sequences that must pass."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seqlang
from seqlang.checker import check_program, check_source, known_codes
from seqlang.config import Config
from seqlang.diagnostics import ERROR, WARNING, Diagnostic
from seqlang.loader import load_text
from seqlang.rules import RuleContext, all_rules

HELLO = 'template hello {\n  subject "Hello"\n  body "Hi! {{ unsubscribe_url }}"\n}\n'

SPEC_RULES = {  # code -> default severity, from the language design's table
    "SEQ010": ERROR, "SEQ011": ERROR, "SEQ020": WARNING, "SEQ021": ERROR, "SEQ022": WARNING,
    "SEQ023": ERROR, "SEQ024": ERROR, "SEQ030": ERROR, "SEQ031": ERROR, "SEQ032": ERROR,
    "SEQ033": ERROR, "SEQ051": ERROR, "SEQ052": WARNING, "SEQ060": WARNING,
}


def check(body: str, head: str = HELLO) -> list[Diagnostic]:
    """Findings for one sequence `s` whose steps are `body`, after `head` declarations."""
    return list(check_source(f"{head}sequence s {{\n{body}\n}}\n", "t.seq", Config()).diagnostics)


def codes(found: list[Diagnostic]) -> list[str]:
    return [d.code for d in found]


def only(found: list[Diagnostic], code: str) -> list[Diagnostic]:
    return [d for d in found if d.code == code]


# ---- the registry --------------------------------------------------------------------


def test_every_spec_rule_is_registered_with_its_severity_and_a_one_line_summary() -> None:
    rules = all_rules()
    for code, severity in SPEC_RULES.items():
        assert code in rules, code
        assert rules[code].severity == severity, code
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", rules[code].name), rules[code].name
        assert rules[code].summary and "\n" not in rules[code].summary


def test_each_rule_module_is_named_after_its_code_and_name() -> None:
    for found in all_rules().values():
        module = importlib.import_module(found.check.__module__)
        expected = f"{found.code.lower()}_{found.name.replace('-', '_')}"
        assert Path(module.__file__ or "").stem == expected


def test_known_codes_add_the_front_end_codes_and_unused_suppression() -> None:
    names = {code: info.name for code, info in known_codes().items()}
    assert names["SEQ001"] == "syntax-error"
    assert names["SEQ012"] == "import-error"
    assert names["SEQ090"] == "unused-suppression"
    assert list(names) == sorted(names)


# ---- loops: SEQ021 and SEQ022 ----------------------------------------------------------


def test_a_loop_report_names_the_whole_cycle_in_order_from_its_first_step() -> None:
    found = check("  a: email hello\n  b: task \"x\"\n  if opened(a) {\n    exit\n  }\n"
                  "  goto a")
    (loop,) = only(found, "SEQ021")
    assert loop.message.endswith(": a -> b -> if (line 8) -> goto (line 11) -> a")
    assert (loop.span.line, loop.span.column, loop.span.end_column) == (11, 3, 9)


def test_the_first_block_of_if_within_does_not_wait_but_its_timeout_does() -> None:
    then_loop = check("  a: email hello\n  p: if opened(a) within 1 day {\n    goto p\n  }")
    timeout_loop = check("  a: email hello\n  p: if opened(a) within 1 day {\n    exit\n"
                         "  } else {\n    goto p\n  }")
    assert codes(only(then_loop, "SEQ021")) == ["SEQ021"]
    assert only(timeout_loop, "SEQ021") == []


def test_wait_until_and_a_zero_wait_do_not_count_as_waiting() -> None:
    assert only(check("  t: wait until 2026-12-01T09:00\n  goto t"), "SEQ021")
    zero = check("  t: wait 0 minutes\n  goto t")
    assert "SEQ021" in codes(zero) and "SEQ033" in codes(zero)
    assert not only(check("  t: wait 1 minute\n  goto t"), "SEQ021")


def test_two_gotos_into_one_closed_loop_are_one_report() -> None:
    found = check("  o: wait 1 day\n  i: wait 1 hour\n  if opened(x) {\n    goto i\n  }\n"
                  "  goto o\n  x: email hello")
    assert len(only(found, "SEQ022")) == 1


def test_a_loop_with_an_exit_or_a_way_forward_is_not_closed() -> None:
    assert not only(check("  w: wait 1 day\n  if bounced {\n    exit\n  }\n  goto w"), "SEQ022")
    assert not only(check("  w: wait 1 day\n  if bounced {\n    goto w\n  }\n  task \"x\""),
                    "SEQ022")


def test_loop_rules_leave_unreachable_loops_to_seq020() -> None:
    found = check("  exit\n  spin: goto spin", head="")
    assert codes(found) == ["SEQ020"]


# ---- reachability: SEQ020 ----------------------------------------------------------------


def test_one_report_per_unreachable_run_and_none_for_what_follows_it() -> None:
    found = check("  exit\n  a: email hello\n  if opened(a) {\n    task \"x\"\n  }\n"
                  "  wait 1 day\n  b: wait 1 day\n  goto b")
    (report,) = only(found, "SEQ020")
    assert report.span.line == 7 and "follows `exit` on line 6" in (report.hint or "")


def test_a_multi_line_step_is_underlined_on_its_first_line_only() -> None:
    found = check("  exit\n  if contact.email exists {\n    task \"x\"\n  }", head="")
    (report,) = found
    assert (report.span.line, report.span.end_line) == (3, 3)
    assert (report.span.column, report.span.end_column) == (3, 26)


# ---- dominance: SEQ023 and SEQ024 --------------------------------------------------------


def test_an_email_in_every_branch_still_does_not_dominate_under_one_label() -> None:
    found = check("  if contact.email exists {\n    a: email hello\n  } else {\n"
                  "    b: email hello\n  }\n  if opened(a) or opened(b) {\n    exit\n  }")
    assert [d.span.column for d in only(found, "SEQ023")] == [6, 19]


def test_an_email_before_a_loop_dominates_every_step_of_the_loop() -> None:
    found = check("  a: email hello\n  w: wait 1 day\n  if opened(a) {\n    exit\n  }\n"
                  "  email reply to a {\n    body \"again {{ unsubscribe_url }}\"\n  }\n  goto w")
    assert not only(found, "SEQ023") and not only(found, "SEQ024")


def test_exit_when_watches_a_later_email_but_not_its_negation() -> None:
    watch = check("  exit when clicked(a)\n  a: email hello")
    negated = check("  exit when bounced or not (contact.email exists and opened(a))\n"
                    "  a: email hello")
    assert not only(watch, "SEQ023")
    (report,) = only(negated, "SEQ023")
    assert "`opened(a)` under a `not`" in report.message


def test_an_email_replying_to_itself_is_reported_even_inside_a_loop() -> None:
    found = check("  w: wait 1 day\n  a: email reply to a {\n    body \"x {{ unsubscribe_url }}\"\n"
                  "  }\n  goto w")
    (report,) = only(found, "SEQ024")
    assert "replies to itself" in report.message


# ---- SEQ052 ---------------------------------------------------------------------------------


def test_exit_when_covers_narrower_tests_only() -> None:
    head = HELLO.replace("Hi!", 'Hi! <a href=\\"https://x.test/a/b\\">x</a>')
    found = check('  exit when clicked(a, "https://x.test/a") or replied(a)\n  a: email hello\n'
                  '  if clicked(a, "https://x.test/a/b") or clicked(a) or replied {\n'
                  "    exit\n  }", head)
    flagged = [d.span.column for d in only(found, "SEQ052")]
    assert flagged == [6]  # the longer URL; a click anywhere, or any reply, can still be true


def test_a_negated_covered_test_is_always_true() -> None:
    (report,) = only(check("  exit when bounced\n  if not bounced {\n    exit\n  }"), "SEQ052")
    assert report.message.startswith("`not bounced` is always true here")
    assert (report.span.column, report.span.end_column) == (6, 17)


def test_the_default_exit_rule_makes_replies_unreachable() -> None:
    (report,) = only(check("  a: email hello\n  if replied(a) {\n    exit\n  }"), "SEQ052")
    assert "without an `exit when` setting" in report.message
    assert "exit when unsubscribed or bounced" in (report.hint or "")


# ---- names: SEQ010, SEQ011, SEQ060 across imports ---------------------------------------


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_names_from_imports_resolve_and_clash(tmp_path: Path) -> None:
    write(tmp_path, "lib.seq", 'schedule office {\n  days mon-fri\n  hours 09:00-17:00\n}\n'
          + HELLO)
    main = write(tmp_path, "main.seq", 'import "./lib.seq"\n' + HELLO
                 + "sequence s {\n  send on office\n  email hello\n}\n")
    found = seqlang.check(main)
    (clash,) = found
    assert clash.code == "SEQ011" and (clash.span.line, clash.span.column) == (1, 1)
    assert "template `hello` (already declared on line 2)" in clash.message


def test_an_import_used_only_through_a_field_in_inline_text_is_used(tmp_path: Path) -> None:
    write(tmp_path, "contact.seq", "contact {\n  company: string?\n}\n")
    used = write(tmp_path, "used.seq", 'import "./contact.seq"\nsequence s {\n  email {\n'
                 '    body "At {{ contact.company }} {{ unsubscribe_url }}"\n  }\n}\n')
    unused = write(tmp_path, "unused.seq", 'import "./contact.seq"\nsequence s {\n'
                   '  email {\n    body "Hi {{ unsubscribe_url }}"\n  }\n}\n')
    assert not only(seqlang.check(used), "SEQ060")
    assert codes(only(seqlang.check(unused), "SEQ060")) == ["SEQ060"]


def test_sequences_sharing_a_name_are_each_checked_with_their_own_graph() -> None:
    text = HELLO + "sequence s {\n  email hello\n}\nsequence s {\n  spin: goto spin\n}\n"
    found = list(check_source(text, "t.seq", Config()).diagnostics)
    assert sorted(codes(found)) == ["SEQ011", "SEQ021", "SEQ022"]


def test_rule_context_gives_each_same_named_sequence_its_own_graph() -> None:
    program = load_text("sequence s {\n  wait 1 day\n}\nsequence s {\n  exit\n}\n", "t.seq")
    first, second = program.root.sequences
    ctx = RuleContext(program, program.root, program.scope(program.root),
                      {"s": seqlang.lower(first)})
    assert ctx.graph(first).sequence is first
    assert ctx.graph(second).sequence is second
    assert ctx.graph(second) is ctx.graph(second)


# ---- the library API -------------------------------------------------------------------------


def test_check_returns_syntax_errors_and_import_errors(tmp_path: Path) -> None:
    broken = write(tmp_path, "broken.seq", "sequence s {\n  wait 2\n}\n")
    missing = write(tmp_path, "missing.seq", 'import "./nope.seq"\n')
    assert codes(seqlang.check(broken)) == ["SEQ001"]
    assert codes(seqlang.check(missing)) == ["SEQ012"]


def test_check_program_sorts_by_position_and_applies_settings() -> None:
    program = load_text("sequence s {\n  exit\n  wait 0 days\n}\n", "t.seq")
    found = check_program(program, Config(severity={"SEQ020": ERROR}, ignore=("SEQ033",)))
    assert [(d.code, d.severity) for d in found] == [("SEQ020", ERROR)]


# ---- growth ----------------------------------------------------------------------------------


def _chain(steps: int) -> str:
    """Emails, conditions on them, replies and waiting loops: work for every graph rule."""
    out = []
    for i in range(steps // 5):
        out += [f"  e{i}: email hello", f"  w{i}: wait 1 day", f"  if opened(e{i}) {{",
                f"    email reply to e{i} {{ body \"x {{{{ unsubscribe_url }}}}\" }}",
                f"    goto w{i}", "  }"]
    return "\n".join(out)


def _check_time(steps: int) -> float:
    program = load_text(f"{HELLO}sequence s {{\n{_chain(steps)}\n}}\n", "t.seq")
    best = float("inf")
    for _ in range(2):
        start = time.process_time()
        found = check_program(program, Config())
        best = min(best, time.process_time() - start)
    assert not [d for d in found if d.severity == ERROR]
    return best


def test_checking_time_grows_no_faster_than_n_log_n() -> None:
    small, large = _check_time(1_000), _check_time(4_000)
    assert large / small < 8, f"4x the steps took {large / small:.1f}x the time"


# ---- random valid sequences ------------------------------------------------------------------


@st.composite
def valid_modules(draw: st.DrawFn) -> str:
    """A module that follows every rule: unique labels, emails before the tests and replies
    that name them, a `wait` on every loop, weights that add up to 100."""
    counter = iter(range(10_000))
    sent: list[str] = []  # emails sent on every path to the current point
    waits: list[str] = []  # top-level labelled waits a later `goto` may return to

    def duration() -> str:
        unit = draw(st.sampled_from(["minutes", "hours", "days", "weeks", "business days"]))
        top = {"minutes": 600, "hours": 200, "days": 365, "weeks": 52, "business days": 200}
        return f"{draw(st.integers(1, top[unit]))} {unit}"

    def condition() -> str:
        options = ['contact.plan == "pro"', "contact.seats > 3", "contact.email exists",
                   'contact.plan in ["a", "b"]', "bounced"]
        options += [f"{kind}({label})" for label in sent for kind in ("opened", "clicked")]
        parts = draw(st.lists(st.sampled_from(options), min_size=1, max_size=3))
        joined = draw(st.sampled_from([" and ", " or "])).join(parts)
        return f"not ({joined})" if draw(st.booleans()) else joined

    def block(depth: int, top: bool) -> list[str]:
        lines: list[str] = []
        mark = len(sent)
        for _ in range(draw(st.integers(1, 5 if depth else 8))):
            kind = draw(st.sampled_from(["email", "reply", "wait", "if", "within", "split",
                                         "task", "webhook", "goto", "until"]))
            if kind == "email":
                label = f"e{next(counter)}"
                lines.append(f"{label}: email hello")
                sent.append(label)
            elif kind == "reply" and sent:
                label = f"e{next(counter)}"
                lines.append(f"{label}: email reply to {draw(st.sampled_from(sent))} "
                             '{ body "Again {{ unsubscribe_url }}" }')
                sent.append(label)
            elif kind == "wait":
                label = f"w{next(counter)}"
                lines.append(f"{label}: wait {duration()}")
                if top:
                    waits.append(label)
            elif kind in ("if", "within") and depth < 3:
                within = f" within {duration()}" if kind == "within" else ""
                lines.append(f"if {condition()}{within} {{")
                lines += block(depth + 1, False)
                lines.append("} else {")
                lines += block(depth + 1, False)
                lines.append("}")
            elif kind == "split" and depth < 3:
                first = draw(st.integers(1, 99))
                lines.append("split {")
                for weight in (first, 100 - first):
                    lines.append(f"{weight}%: {{")
                    lines += block(depth + 1, False)
                    lines.append("}")
                lines.append("}")
            elif kind == "goto" and waits:
                lines.append(f"goto {draw(st.sampled_from(waits))}")
                break
            elif kind == "until":
                lines.append("wait until 2027-03-01T09:00")
            else:
                lines.append(f'task "call {next(counter)}"' if kind == "task"
                             else f'webhook "https://hooks.example.com/{next(counter)}"')
        if not top:
            del sent[mark:]  # a branch's emails are not sent on the other paths
        return lines

    exit_when = draw(st.sampled_from(["", "exit when replied or bounced",
                                      "exit when unsubscribed or replied"]))
    steps = block(0, True)
    return (HELLO + "contact {\n  plan: string?\n  seats: number?\n}\n"
            'schedule office {\n  days mon-fri\n  hours 09:00-17:00\n  holidays "US"\n}\n'
            'sequence s {\n  timezone "Europe/Paris"\n  send on office\n'
            f"  {exit_when}\n" + "\n".join(f"  {line}" for line in steps) + "\n}\n")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_modules())
def test_random_valid_sequences_have_no_errors(text: str) -> None:
    found = check_source(text, "t.seq", Config()).diagnostics
    assert [d.headline() for d in found if d.severity == ERROR] == []


def test_the_checking_benchmark_runs_on_error_free_files() -> None:
    bench = Path(__file__).resolve().parent.parent / "bench" / "check.py"
    done = subprocess.run([sys.executable, str(bench), "--quick"], capture_output=True,
                          text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "10 files x ~50 steps" in done.stdout and "check / parse: worst" in done.stdout
