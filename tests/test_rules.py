"""The checker's rules: the meanings the golden cases do not spell out, the registry, the
library API, growth with file size, and random valid sequences that must pass."""

from __future__ import annotations

import gc
import importlib
import re
import subprocess
import sys
import time
import weakref
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seqlang
from seqlang import nodes as n
from seqlang.checker import check_program, check_source, known_codes
from seqlang.config import Config
from seqlang.diagnostics import ERROR, WARNING, Diagnostic, SeqSyntaxError
from seqlang.graph import ENTRY, EXIT, lower, route_kind, step_kind
from seqlang.loader import load_text
from seqlang.parser import parse
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


SETTINGS = {  # a setting as written -> the keyword findings name it by
    'name "Trial"': "name", 'from "ana@example.com"': "from",
    'timezone "Europe/Paris"': "timezone", "send on office": "send on",
    "track opens": "track", "exit when replied": "exit when",
}
OFFICE = "schedule office {\n  days mon-fri\n  hours 09:00-17:00\n}\n"


@pytest.mark.parametrize("setting", SETTINGS)
def test_a_setting_given_again_is_reported_on_each_later_line_naming_the_first(
    setting: str,
) -> None:
    head = HELLO + OFFICE
    first = head.count("\n") + 2
    found = only(check(f"  {setting}\n  {setting}\n  {setting}\n  email hello", head), "SEQ011")
    assert [(d.span.line, d.span.column, d.span.end_column) for d in found] == [
        (first + 1, 3, 3 + len(setting)), (first + 2, 3, 3 + len(setting))]
    for duplicate in found:
        assert duplicate.message.startswith(
            f"`{SETTINGS[setting]}` is already set on line {first} of sequence `s`")
        assert duplicate.hint


def test_both_forms_of_timezone_are_one_setting_and_a_suppression_accepts_the_second() -> None:
    head = HELLO + "contact {\n  zone: string?\n}\n"
    twice = '  timezone "Europe/Paris"\n  timezone contact.zone default "UTC"'
    assert codes(check(f"{twice}\n  email hello", head)) == ["SEQ011"]
    assert check(f"{twice}  # seq: ignore[SEQ011]\n  email hello", head) == []


def test_a_second_contact_block_is_reported_at_its_keyword_but_an_imported_one_is_not(
    tmp_path: Path,
) -> None:
    two = "contact {\n  a: string?\n}\ncontact {\n  b: string?\n}\n"
    (second,) = only(check("  email hello", two + HELLO), "SEQ011")
    assert (second.span.line, second.span.column, second.span.end_column) == (4, 1, 8)
    assert "already has a contact block, on line 1" in second.message
    write(tmp_path, "fields.seq", "contact {\n  a: string?\n}\n")
    main = write(tmp_path, "main.seq", 'import "./fields.seq"\ncontact {\n  b: string?\n}\n'
                 + HELLO + "sequence s {\n  timezone contact.a\n  email hello\n}\n")
    assert seqlang.check(main) == []


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


# ---- lowering ----------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
EDGE_SHAPES = """
sequence shapes {
  first: email hello
  if opened(first) { } else { }
  if opened(first) { exit } else if clicked(first) { } else { goto first }
  if replied within 2 days { }
  split { 50%: { } 25%: { exit "held out" } 25%: { spin: wait 1 hour } }
  again: task "call"
  again: goto nowhere
  self: goto self
  if bounced { goto again } else if unsubscribed { goto spin }
  split { }
  wait until 2027-01-01T09:00
  webhook "https://hooks.example.com/x"
}
"""


def _reference_lowering(sequence: n.Sequence) -> nx.DiGraph:
    """The step graph built the plain way, one node and one edge at a time, as a yardstick for
    `lower`, which builds the same graph in bulk for speed."""
    g = nx.DiGraph(sequence=sequence.name)
    steps = list(n.walk_steps(sequence.steps))
    node_of: dict[int, str] = {}
    labels: dict[str, str] = {}
    for number, step in enumerate(steps, start=1):
        if step.label is not None and step.label.name not in labels:
            node_of[id(step)] = labels[step.label.name] = step.label.name
        else:
            node_of[id(step)] = f"{step_kind(step)}-{number}"
    g.graph["node_of"] = node_of
    g.graph["labels"] = labels
    g.add_node(ENTRY, kind="entry", step=None, routes={})
    for step in steps:
        g.add_node(node_of[id(step)], kind=step_kind(step), step=step, routes={})
    g.add_node(EXIT, kind="exit", step=None, routes={})

    def connect(src: str, route: str, dst: str, **attrs: object) -> None:
        g.nodes[src]["routes"][route] = dst
        if g.has_edge(src, dst):
            g.edges[src, dst]["routes"].append(route)
        else:
            g.add_edge(src, dst, kind=route_kind(route), routes=[route], **attrs)

    def block(steps: tuple[n.Step, ...], succ: str) -> str:
        for step in reversed(steps):
            me = node_of[id(step)]
            if isinstance(step, n.If):
                for i, branch in enumerate(step.branches):
                    connect(me, f"then:{i}", block(branch.body.steps, succ), cond=branch.cond)
                otherwise = block(step.else_body.steps, succ) if step.else_body else succ
                if step.within is not None:
                    connect(me, "timeout", otherwise, duration=step.within)
                else:
                    connect(me, "else", otherwise)
            elif isinstance(step, n.Split):
                for i, cohort in enumerate(step.branches):
                    connect(me, f"split:{i}", block(cohort.body.steps, succ),
                            weight=cohort.weight)
            elif isinstance(step, n.Goto):
                if step.target.name in labels:
                    connect(me, "goto", labels[step.target.name])
            else:
                connect(me, "next", EXIT if isinstance(step, n.Exit) else succ)
            succ = me
        return succ

    connect(ENTRY, "next", block(sequence.steps, EXIT))
    return g


def _layout(g: nx.DiGraph) -> list[object]:
    """Everything a reader of the graph can observe, in order: attribute keys and routes in
    insertion order, IR nodes by identity (equal-looking steps are still different steps)."""

    def plain(value: object) -> object:
        if isinstance(value, dict):
            return [(key, plain(item)) for key, item in value.items()]
        if isinstance(value, list):
            return [plain(item) for item in value]
        return ("ir", id(value)) if hasattr(value, "span") else value

    return [plain(dict(g.graph)), plain(dict(g.nodes(data=True))),
            [(src, dst, plain(data)) for src, dst, data in g.edges(data=True)],
            [(node, list(g.pred[node]), list(g.succ[node])) for node in g]]


def _project_sequences() -> list[tuple[str, n.Sequence]]:
    found = [("edge shapes", parse(HELLO + EDGE_SHAPES, "shapes.seq").sequences[0])]
    for pattern in ("tests/cases/**/*.seq", "examples/*.seq", "stdlib/*.seq"):
        for path in sorted(ROOT.glob(pattern)):
            try:
                module = parse(path.read_text(encoding="utf-8"), str(path))
            except SeqSyntaxError:
                continue
            found += [(f"{path.relative_to(ROOT)}:{seq.name}", seq) for seq in module.sequences]
    return found


def test_lowering_builds_the_reference_graph_for_every_project_sequence() -> None:
    sequences = _project_sequences()
    assert len(sequences) > 50
    for where, seq in sequences:
        assert _layout(lower(seq).graph) == _layout(_reference_lowering(seq)), where


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_lowering_builds_the_reference_graph_for_random_sequences(data: st.DataObject) -> None:
    seq = parse(data.draw(valid_modules()), "t.seq").sequences[0]
    assert _layout(lower(seq).graph) == _layout(_reference_lowering(seq))


def test_lowering_leaves_nothing_for_the_cycle_collector() -> None:
    """The checker pauses the cycle collector: a lowered graph caught in a reference cycle would
    stay in memory until the whole check ends."""
    seq = parse(HELLO + EDGE_SHAPES, "shapes.seq").sequences[0]
    graph = weakref.ref(lower(seq).graph)  # the first call also fills networkx's lazy caches
    collecting = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        assert graph() is None
        lower(seq)
        assert gc.collect() == 0
    finally:
        if collecting:
            gc.enable()
