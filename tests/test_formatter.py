"""The formatter and `seqlang fmt`: the layout users read, and the promises they rely on.

Formatting never changes what a file means, never loses or duplicates a comment, and a
formatted file formats to itself. Those three hold for every .seq file of the project that
parses (test cases, examples, stdlib; globbed at collection), for random IR modules, and for
random comments dropped anywhere into them.
"""

from __future__ import annotations

import io
import os
import re
import stat
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seqlang
from seqlang import nodes as n
from seqlang.cli import main
from seqlang.diagnostics import SeqSyntaxError
from seqlang.formatter import FormatError, format_module, verify
from seqlang.parser import parse

ROOT = Path(__file__).resolve().parent.parent
CASES = ROOT / "tests" / "cases"
GOLDEN_SUFFIX = ".formatted.seq"


def _parses(path: Path) -> bool:
    try:
        parse(path.read_text(encoding="utf-8"), str(path))
    except SeqSyntaxError:
        return False
    return True


CASE_FILES = sorted(p for p in CASES.glob("*.seq")
                    if not p.name.endswith(GOLDEN_SUFFIX) and _parses(p))
PROJECT_FILES = CASE_FILES + sorted(
    p for folder in ("examples", "stdlib") for p in (ROOT / folder).glob("*.seq") if _parses(p))


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


def fmt(text: str) -> str:
    return seqlang.format(text)


def comment_texts(module: n.Module) -> Counter[str]:
    return Counter(c.text for c in module.comments)


# ---- every .seq file of the project ------------------------------------------------------


@pytest.mark.parametrize("path", CASE_FILES, ids=_id)
def test_case_matches_its_golden_file(path: Path, golden) -> None:
    golden(path.with_name(path.stem + GOLDEN_SUFFIX),
           fmt(path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("path", PROJECT_FILES, ids=_id)
def test_formatting_is_idempotent(path: Path) -> None:
    once = fmt(path.read_text(encoding="utf-8"))
    assert fmt(once) == once


@pytest.mark.parametrize("path", PROJECT_FILES, ids=_id)
def test_formatting_keeps_the_meaning(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert parse(fmt(source)) == parse(source)


@pytest.mark.parametrize("path", PROJECT_FILES, ids=_id)
def test_formatting_keeps_every_comment_once(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert comment_texts(parse(fmt(source))) == comment_texts(parse(source))


def test_the_formatter_cases_are_all_collected() -> None:
    names = {p.name for p in CASE_FILES}
    assert {"fmt_comments.seq", "fmt_steps.seq", "fmt_strings.seq"} <= names


# ---- layout -----------------------------------------------------------------------------------


def test_messy_source_gets_the_canonical_layout() -> None:
    source = ('sequence s{track   none exit when replied\n'
              'a: email t    wait 1 days if opened(a){wait 1 day}else{exit}}')
    assert fmt(source) == """\
sequence s {
  track none
  exit when replied

  a: email t
  wait 1 day
  if opened(a) {
    wait 1 day
  } else {
    exit
  }
}
"""


def test_blank_lines_kept_once_but_never_after_open_or_before_close() -> None:
    source = "sequence s {\n\n\n  wait 1 day\n\n\n\n  wait 2 days\n  exit\n\n}\n"
    assert fmt(source) == "sequence s {\n  wait 1 day\n\n  wait 2 days\n  exit\n}\n"


def test_declarations_are_separated_by_one_blank_line_and_imports_grouped() -> None:
    source = 'import "a"\nimport "b"\n\n\n\nschedule s { days mon }\ncontact { x: string }\n'
    assert fmt(source) == """\
import "a"
import "b"

schedule s {
  days mon
}

contact {
  x: string
}
"""


def test_the_blank_line_after_settings_goes_where_the_author_left_one() -> None:
    kept = "sequence s {\n  track none\n  # about the settings\n\n  wait 1 day\n}\n"
    assert fmt(kept) == kept
    added = "sequence s {\n  track none\n  # about the steps\n  wait 1 day\n}\n"
    assert fmt(added) == "sequence s {\n  track none\n\n  # about the steps\n  wait 1 day\n}\n"


def test_an_empty_module_is_an_empty_file() -> None:
    assert fmt("\n\n  \n") == ""


@pytest.mark.parametrize(("source", "expected"), [
    ("wait 1 days", "wait 1 day"),
    ("wait 2 day", "wait 2 days"),
    ("wait 1 week", "wait 1 week"),
    ("wait 90 minute", "wait 90 minutes"),
    ("wait 1 hours", "wait 1 hour"),
    ("wait 3 business day", "wait 3 business days"),
    ("wait 1 business hours", "wait 1 business hour"),
    ("wait -1 days", "wait -1 day"),
    ("track opens , clicks", "track opens, clicks"),
    ("track clicks", "track clicks"),
    ("track none", "track none"),
    ('timezone contact . tz default "UTC"', 'timezone contact.tz default "UTC"'),
    ("send  on  office", "send on office"),
])
def test_settings_and_durations(source: str, expected: str) -> None:
    assert fmt(f"sequence s {{ {source} }}") == f"sequence s {{\n  {expected}\n}}\n"


def test_schedule_ranges_and_lists() -> None:
    source = ('schedule s { days mon-fri,sat , sun hours 09:00-12:00,13:00-24:00 '
              'holidays "US","FR" }')
    assert fmt(source) == """\
schedule s {
  days mon-fri, sat, sun
  hours 09:00-12:00, 13:00-24:00
  holidays "US", "FR"
}
"""


@pytest.mark.parametrize(("source", "expected"), [
    ("(opened(a) and clicked(a)) or replied", "opened(a) and clicked(a) or replied"),
    ("opened(a) and (clicked(a) or replied)", "opened(a) and (clicked(a) or replied)"),
    ("(opened(a) or clicked(a)) and (replied or bounced)",
     "(opened(a) or clicked(a)) and (replied or bounced)"),
    ("not (opened(a) and clicked(a))", "not (opened(a) and clicked(a))"),
    ("(not opened(a)) and clicked(a)", "not opened(a) and clicked(a)"),
    ("not not replied", "not not replied"),
    ("((replied))", "replied"),
    ("replied or (bounced or unsubscribed)", "replied or bounced or unsubscribed"),
    ("contact.x in [ 1,2.50 , true,\"a\" ]", 'contact.x in [1, 2.5, true, "a"]'),
    ("contact.x contains \"a\\\"b\"", 'contact.x contains "a\\"b"'),
    ("contact.x exists", "contact.x exists"),
    ("contact.x>=0.001", "contact.x >= 0.001"),
    ("clicked( a , \"https://x\" )", 'clicked(a, "https://x")'),
    ("replied( a )", "replied(a)"),
])
def test_conditions_get_only_the_parentheses_they_need(source: str, expected: str) -> None:
    out = fmt(f"sequence s {{ exit when {source} }}")
    assert out == f"sequence s {{\n  exit when {expected}\n}}\n"
    assert parse(out) == parse(f"sequence s {{ exit when {source} }}")


def test_one_field_blocks_go_on_one_line_while_they_fit() -> None:
    prefix = "  variant a 50% { subject "
    fits = "x" * (100 - len(prefix) - len('"" }'))
    source = f'template t {{\n  body "b"\n  variant a 50% {{ subject "{fits}" }}\n' \
             f'  variant b 50% {{ subject "{fits}y" }}\n}}\n'
    lines = fmt(source).splitlines()
    assert len(lines[2]) == 100
    assert lines[2] == f'  variant a 50% {{ subject "{fits}" }}'
    assert lines[3:6] == ["  variant b 50% {", f'    subject "{fits}y"', "  }"]


def test_blocks_with_more_than_one_field_or_a_variant_take_several_lines() -> None:
    source = ('sequence s { a: email { subject "S" body "B" } '
              'b: email { variant v 100% { subject "S" } } c: email { } }')
    assert fmt(source) == """\
sequence s {
  a: email {
    subject "S"
    body "B"
  }
  b: email {
    variant v 100% { subject "S" }
  }
  c: email {}
}
"""


def test_empty_blocks_and_branches_before_else() -> None:
    source = "sequence s { if replied { } else if bounced { } else { } split { 50%: { } } }"
    assert fmt(source) == """\
sequence s {
  if replied {
  } else if bounced {
  } else {}
  split {
    50%: {}
  }
}
"""


# ---- strings -------------------------------------------------------------------------------


def test_strings_are_re_escaped() -> None:
    source = r'sequence s { task "a \"b\" \\ c	d" }'
    assert fmt(source) == 'sequence s {\n  task "a \\"b\\" \\\\ c\\td"\n}\n'


def test_a_text_with_newlines_becomes_a_long_string_one_level_deeper() -> None:
    source = 'template t { body "Hi,\\n\\n  indented\\nBye \\"A\\" \\\\" }'
    out = fmt(source)
    assert out == ('template t {\n  body """\n    Hi,\n\n      indented\n'
                   '    Bye "A" \\\n    """\n}\n')
    assert parse(out) == parse(source)


@pytest.mark.parametrize("text", [
    'has """ three quotes\nand a newline',
    "  shared\n  indentation",
    "a whitespace-only line\n  \nbelow",
    "a trailing space \nbelow",
    "a carriage return\r\nbelow",
])
def test_a_text_the_long_form_would_change_stays_escaped(text: str) -> None:
    module = n.Module("<string>", (n.Template("t", n.EmailBody((
        n.ContentField("body", n.TextValue(text)),)),),))
    out = format_module(module)
    assert '"""' not in out.replace('\\"\\"\\"', "")
    assert parse(out) == module


def test_only_text_fields_use_long_strings() -> None:
    source = 'template t { from "a\\nb" } sequence s { task "a\\nb" }'
    assert fmt(source) == 'template t { from "a\\nb" }\n\nsequence s {\n  task "a\\nb"\n}\n'


# ---- comments ---------------------------------------------------------------------------


def test_comments_stay_where_they_stood() -> None:
    source = """\
# header
sequence s {  # on the header
    # before a step
  wait 1 day   # after a step
  if replied {
  wait 2 days
     # at the end of a block
  }  # after a brace
  # before the closing brace
}
# at the end
"""
    assert fmt(source) == """\
# header
sequence s {  # on the header
  # before a step
  wait 1 day  # after a step
  if replied {
    wait 2 days
    # at the end of a block
  }  # after a brace
  # before the closing brace
}
# at the end
"""


def test_comments_around_else() -> None:
    source = """\
sequence s {
  if replied {
    wait 1 day
  }  # after the brace
  # before else
  else {  # on else
    exit
  }
}
"""
    assert fmt(source) == """\
sequence s {
  if replied {
    wait 1 day
    # after the brace
  } else {  # on else
    # before else
    exit
  }
}
"""


def test_comments_inside_a_condition_written_over_several_lines() -> None:
    source = """\
sequence s {
  if replied     # first part
    # own line in the middle
    or bounced {  # at the brace
    exit
  }
}
"""
    assert fmt(source) == """\
sequence s {
  # first part
  # own line in the middle
  if replied or bounced {  # at the brace
    exit
  }
}
"""


def test_a_comment_keeps_a_one_field_block_open() -> None:
    source = "template t {\n  subject \"S\"  # why\n}\ntemplate u {\n  subject \"S\"\n}  # after\n"
    assert fmt(source) == ('template t {\n  subject "S"  # why\n}\n\n'
                           'template u { subject "S" }  # after\n')


def test_a_comment_only_file_keeps_its_comments_and_blank_lines() -> None:
    assert fmt("# one\n\n\n# two\n#three   \n") == "# one\n\n# two\n#three\n"


def test_comments_without_spans_go_to_the_top() -> None:
    module = n.Module("<string>", (n.Import("a"),), (n.Comment("# from a builder"),))
    assert format_module(module) == '# from a builder\nimport "a"\n'


# ---- modules built without spans ------------------------------------------------------------


def test_a_module_without_spans_prints_the_canonical_layout() -> None:
    welcome = n.Ref("welcome")
    tracked = n.Or((n.EventCond("opened", welcome), n.EventCond("clicked", welcome)))
    exit_when = n.Or((n.EventCond("replied"), n.And((n.EventCond("bounced"), n.Not(tracked)))))
    steps = (
        n.EmailStep(welcome, n.Ref("welcome"), None, None),
        n.Wait(None, n.Duration(2, "business_day")),
        n.If(None, (n.Branch(n.EventCond("replied", welcome), n.Block(())),),
             n.Block((n.Exit(None, "no reply"),)), n.Duration(1, "week")),
        n.Split(None, (n.SplitBranch(100, n.Block((n.Task(None, "call"),))),)),
    )
    template = n.Template("welcome", n.EmailBody((
        n.ContentField("subject", n.TextValue("Hello")),
        n.ContentField("body", n.TextValue("Hi,\nthanks.")),
    )))
    sequence = n.Sequence("onboarding", (n.Track(False, False), n.ExitWhen(exit_when)), steps)
    module = n.Module("builder.json", (n.Import("std/schedules"), template, sequence))
    out = format_module(module)
    assert out == """\
import "std/schedules"

template welcome {
  subject "Hello"
  body \"\"\"
    Hi,
    thanks.
    \"\"\"
}

sequence onboarding {
  track none
  exit when replied or bounced and not (opened(welcome) or clicked(welcome))

  welcome: email welcome
  wait 2 business days
  if replied(welcome) within 1 week {
  } else {
    exit "no reply"
  }
  split {
    100%: {
      task "call"
    }
  }
}
"""
    assert parse(out, "builder.json") == module


@pytest.mark.parametrize("cond", [
    n.FieldCond(n.Ref("x"), ">", -1),
    n.FieldCond(n.Ref("x"), "<", float("inf")),
    n.FieldCond(n.Ref("x"), "in", ()),
    n.Or(()),
])
def test_a_condition_the_language_cannot_write_is_refused(cond: n.Cond) -> None:
    module = n.Module("<string>", (n.Sequence("s", (n.ExitWhen(cond),), ()),))
    with pytest.raises(ValueError):
        verify(module, format_module(module))


def test_numbers_are_written_without_exponents() -> None:
    for value in (1e-7, 1e22, 0.0, 2.5):
        module = n.Module("<string>", (n.Sequence("s", (
            n.ExitWhen(n.FieldCond(n.Ref("x"), "==", value)),), ()),))
        verify(module, format_module(module))


def test_verify_refuses_a_text_that_loses_a_comment() -> None:
    module = parse("# keep me\nimport \"a\"\n")
    with pytest.raises(FormatError, match="comment"):
        verify(module, 'import "a"\n')
    with pytest.raises(FormatError, match="means something else"):
        verify(module, '# keep me\nimport "b"\n')


# ---- random modules and random comments ----------------------------------------------------

# A fixed pool generates far faster than a regex; it holds near-keywords on purpose.
names = st.sampled_from(["a", "welcome", "_x", "step_2", "days_", "opens1", "Reply", "ifx"])
refs = names.map(n.Ref)
texts = st.one_of(st.text(max_size=12), st.text(alphabet=' \t\n"\\a#{é', max_size=16))
scalars = st.one_of(
    st.booleans(), st.integers(0, 10**15), texts,
    st.floats(0, 1e25, allow_nan=False, allow_infinity=False),
)
durations = st.builds(n.Duration, st.integers(-50, 10_000), st.sampled_from(n.UNITS))
labels = st.none() | refs


def _flat(kind: type, operands: list[n.Cond]) -> tuple[n.Cond, ...]:
    """The parser's shape: `a or (b or c)` is one `or` of three."""
    return tuple(x for op in operands for x in (op.operands if isinstance(op, kind) else (op,)))


atoms = st.one_of(
    st.builds(n.EventCond, st.just("opened"), refs),
    st.builds(n.EventCond, st.just("clicked"), refs, st.none() | texts),
    st.builds(n.EventCond, st.just("replied"), st.none() | refs),
    st.sampled_from([n.EventCond("bounced"), n.EventCond("unsubscribed")]),
    st.builds(n.FieldCond, refs, st.sampled_from((*n.COMPARE_OPS, "contains")), scalars),
    st.builds(n.FieldCond, refs, st.just("in"),
              st.lists(scalars, min_size=1, max_size=3).map(tuple)),
    st.builds(n.FieldCond, refs, st.just("exists")),
)
conds = st.recursive(atoms, lambda inner: st.one_of(
    inner.map(n.Not),
    st.lists(inner, min_size=2, max_size=3).map(lambda ops: n.And(_flat(n.And, ops))),
    st.lists(inner, min_size=2, max_size=3).map(lambda ops: n.Or(_flat(n.Or, ops))),
), max_leaves=4)

content_fields = st.one_of(
    st.builds(n.ContentField, st.sampled_from(("subject", "body", "text", "html")),
              st.builds(n.TextValue, texts, st.booleans())),
    st.builds(n.ContentField, st.just("from"), st.builds(n.TextValue, texts)),
)
variants = st.builds(n.Variant, names, st.integers(0, 100),
                     st.lists(content_fields, max_size=2).map(tuple))
email_bodies = st.builds(n.EmailBody,
                         st.lists(st.one_of(content_fields, variants), max_size=3).map(tuple))
moments = st.builds(lambda d, seconds: d.isoformat(timespec="seconds" if seconds else "minutes"),
                    st.datetimes(datetime(1970, 1, 1), datetime(2999, 12, 31)), st.booleans())
simple_steps = st.one_of(
    st.builds(n.EmailStep, labels, st.none() | refs, st.none() | refs, st.none() | email_bodies)
    .filter(lambda s: s.template is not None or s.body is not None),
    st.builds(n.Wait, labels, durations),
    st.builds(n.WaitUntil, labels, moments),
    st.builds(n.Goto, labels, refs),
    st.builds(n.Exit, labels, st.none() | texts),
    st.builds(n.Task, labels, texts),
    st.builds(n.Webhook, labels, texts),
)


def _compound(inner: st.SearchStrategy[n.Step]) -> st.SearchStrategy[n.Step]:
    blocks = st.lists(inner, max_size=2).map(lambda steps: n.Block(tuple(steps)))
    branches = st.builds(n.Branch, conds, blocks)
    return st.one_of(
        st.builds(n.If, labels, st.lists(branches, min_size=1, max_size=3).map(tuple),
                  st.none() | blocks),
        st.builds(n.If, labels, branches.map(lambda b: (b,)), st.none() | blocks, durations),
        st.builds(n.Split, labels, st.lists(
            st.builds(n.SplitBranch, st.integers(0, 100), blocks), max_size=3).map(tuple)),
    )


steps = st.recursive(simple_steps, _compound, max_leaves=5)
sequence_settings = st.one_of(
    st.builds(n.DisplayName, texts), st.builds(n.Sender, texts),
    st.builds(n.Timezone, st.none(), texts), st.builds(n.Timezone, refs, st.none() | texts),
    st.builds(n.SendOn, refs), st.builds(n.Track, st.booleans(), st.booleans()),
    st.builds(n.ExitWhen, conds),
)
times = st.builds(lambda h, m: f"{h:02}:{m:02}", st.integers(0, 23), st.integers(0, 59))
weekdays = st.sampled_from(n.WEEKDAYS)
schedule_entries = st.one_of(
    st.builds(n.Days, st.lists(st.builds(n.DayRange, weekdays, st.none() | weekdays),
                               min_size=1, max_size=3).map(tuple)),
    st.builds(n.Hours, st.lists(st.builds(n.TimeRange, times, times),
                                min_size=1, max_size=2).map(tuple)),
    st.builds(n.Holidays, st.lists(texts, min_size=1, max_size=2).map(tuple)),
)
decls = st.one_of(
    st.builds(n.Import, texts),
    st.builds(n.Schedule, names, st.lists(schedule_entries, max_size=3).map(tuple)),
    st.builds(n.Contact, st.lists(st.builds(n.ContactField, names, st.sampled_from(
        n.FIELD_TYPES), st.booleans()), max_size=3).map(tuple)),
    st.builds(n.Template, names, email_bodies),
    st.builds(n.Sequence, names, st.lists(sequence_settings, max_size=3).map(tuple),
              st.lists(steps, max_size=4).map(tuple)),
)
modules = st.builds(n.Module, st.just("<string>"), st.lists(decls, max_size=4).map(tuple))
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(modules)
def test_random_modules_format_to_text_that_parses_back_to_them(module: n.Module) -> None:
    out = format_module(module)
    assert parse(out) == module
    assert format_module(parse(out)) == out


# Strings, comments, whitespace and the rest, in the order a lexer sees them.
_LEXEMES = re.compile(r'"""[\s\S]*?"""|"(?:[^"\\\n]|\\.)*"|#[^\n]*|\s+|[^\s"#]+')
comment_st = st.text(st.characters(exclude_characters="\n", exclude_categories=("Cs",)),
                     max_size=10).map(lambda s: ("#" + s).rstrip())
spacing_st = st.one_of(
    st.sampled_from([" ", "\n", "\n\n\n", "\t", "\n      ", "\n\n  "]),
    st.builds(lambda before, text, after: f"{before}{text}\n{after}",
              st.sampled_from(["", " ", "\n", "\n\n   "]), comment_st,
              st.sampled_from(["", "    ", "\n", "\n\n "])),
)
PROJECT_TEXTS = [p.read_text(encoding="utf-8") for p in PROJECT_FILES]


@FAST
@given(st.one_of(st.sampled_from(PROJECT_TEXTS) if PROJECT_TEXTS else st.nothing(),
                 modules.map(format_module)), st.data())
def test_reflowed_text_with_comments_anywhere_keeps_them_all(source: str,
                                                             data: st.DataObject) -> None:
    """Any whitespace between tokens may become any other, comments included: a multi-line
    condition with a comment on each line, a comment between `}` and `else`, and so on."""
    lexemes = _LEXEMES.findall(source)
    assert "".join(lexemes) == source
    gaps = [i for i, lexeme in enumerate(lexemes)
            if lexeme.isspace() and not (i and lexemes[i - 1].startswith("#"))]
    for _ in range(data.draw(st.integers(1, 8)) if gaps else 0):
        lexemes[data.draw(st.sampled_from(gaps))] = data.draw(spacing_st)
    module = parse("".join(lexemes))
    verify(module, format_module(module))


# ---- the command line -----------------------------------------------------------------------

MESSY = "sequence s {\n    wait 1 days  # why\n}\n"
TIDY = "sequence s {\n  wait 1 day  # why\n}\n"


@pytest.fixture
def seq_file(tmp_path: Path) -> Path:
    path = tmp_path / "s.seq"
    path.write_text(MESSY, encoding="utf-8")
    return path


def test_fmt_rewrites_a_file_in_place(seq_file: Path, capsys) -> None:
    assert main(["fmt", str(seq_file)]) == 0
    assert seq_file.read_text(encoding="utf-8") == TIDY
    assert f"reformatted {seq_file}" in capsys.readouterr().err
    assert [p.name for p in seq_file.parent.iterdir()] == ["s.seq"]


def test_fmt_leaves_a_formatted_file_untouched(seq_file: Path, capsys) -> None:
    seq_file.write_text(TIDY, encoding="utf-8")
    os.utime(seq_file, ns=(1_000_000_000, 1_000_000_000))
    assert main(["fmt", str(seq_file)]) == 0
    assert seq_file.stat().st_mtime_ns == 1_000_000_000
    assert capsys.readouterr().err == ""


def test_fmt_keeps_permissions_and_windows_line_endings(seq_file: Path) -> None:
    seq_file.write_bytes(MESSY.replace("\n", "\r\n").encode())
    seq_file.chmod(0o640)
    assert main(["fmt", str(seq_file)]) == 0
    assert seq_file.read_bytes() == TIDY.replace("\n", "\r\n").encode()
    assert stat.S_IMODE(seq_file.stat().st_mode) == 0o640


def test_fmt_check_reports_and_writes_nothing(seq_file: Path, tmp_path: Path, capsys) -> None:
    tidy = tmp_path / "tidy.seq"
    tidy.write_text(TIDY, encoding="utf-8")
    assert main(["fmt", "--check", str(tidy)]) == 0
    assert main(["fmt", "--check", str(tidy), str(seq_file)]) == 1
    assert seq_file.read_text(encoding="utf-8") == MESSY
    err = capsys.readouterr().err
    assert f"would reformat {seq_file}" in err
    assert "tidy.seq" not in err


def test_fmt_diff_prints_a_unified_diff_and_writes_nothing(seq_file: Path, capsys) -> None:
    assert main(["fmt", "--diff", str(seq_file)]) == 0
    out = capsys.readouterr().out
    assert seq_file.read_text(encoding="utf-8") == MESSY
    assert out.splitlines()[:2] == [f"--- {seq_file}\t(original)", f"+++ {seq_file}\t(formatted)"]
    assert "-    wait 1 days  # why\n+  wait 1 day  # why\n" in out
    assert main(["fmt", "--diff", "--check", str(seq_file)]) == 1


def test_fmt_searches_directories_for_seq_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    nested = tmp_path / "sub" / "n.seq"
    nested.write_text(MESSY, encoding="utf-8")
    (tmp_path / "notes.txt").write_text(MESSY, encoding="utf-8")
    assert main(["fmt", str(tmp_path)]) == 0
    assert nested.read_text(encoding="utf-8") == TIDY
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == MESSY


def test_fmt_reads_stdin_and_writes_stdout(monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(MESSY))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == TIDY
    monkeypatch.setattr(sys, "stdin", io.StringIO(MESSY))
    assert main(["fmt", "--check", "-"]) == 1
    assert capsys.readouterr().out == ""


def test_fmt_reports_syntax_errors_and_leaves_the_file(seq_file: Path, capsys) -> None:
    bad = "sequence s {\n  wait 1 dys\n}\n"
    seq_file.write_text(bad, encoding="utf-8")
    assert main(["fmt", str(seq_file)]) == 1
    err = capsys.readouterr().err
    assert f"{seq_file}:2:" in err and "SEQ001" in err
    assert "   2 |   wait 1 dys" in err
    assert seq_file.read_text(encoding="utf-8") == bad


def test_fmt_unreadable_files_and_bad_flags_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["fmt", str(tmp_path / "missing.seq")]) == 2
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "latin1.seq").write_bytes(b"import \"a\"\n# caf\xe9\n")
    assert main(["fmt", str(tmp_path / "latin1.seq")]) == 2
    assert "latin1.seq:2:6: not UTF-8 text" in capsys.readouterr().err
    assert main(["fmt", "--frobnicate", str(tmp_path)]) == 2
    assert main(["fmt"]) == 2


def test_fmt_exits_123_and_spares_the_file_when_the_result_is_wrong(
        seq_file: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr("seqlang.commands.fmt.format_module", lambda m: "sequence s {}\n")
    assert main(["fmt", str(seq_file)]) == 123
    assert "internal error" in capsys.readouterr().err
    assert seq_file.read_text(encoding="utf-8") == MESSY
