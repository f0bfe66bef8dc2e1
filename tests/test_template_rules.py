"""The template rules (SEQ040-SEQ043, SEQ050) and the template resolution they share.

Each rule has a triggering case and a near miss under tests/cases; the
positions asserted here are what an editor jumps to, so they are pinned
exactly, including positions inside template files and inside .seq strings.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from seqlang import nodes as n
from seqlang.diagnostics import Diagnostic
from seqlang.graph import StepGraph, lower
from seqlang.loader import Program, load, load_text
from seqlang.rules import RuleContext, all_rules
from seqlang.template_refs import Link, field_uses, links
from seqlang.templates import EmailVersion, TemplatePart, email_versions
from seqlang.templates import load as load_part

CASES = Path(__file__).resolve().parent / "cases"
TEMPLATE_CODES = ("SEQ040", "SEQ041", "SEQ042", "SEQ043", "SEQ050")


def findings(path: str | Path, *codes: str) -> list[Diagnostic]:
    """Run the given rules on the root module of `path`, as the checker would."""
    return run_rules(load(path), *codes)


def run_rules(program: Program, *codes: str) -> list[Diagnostic]:
    module = program.root
    graphs = {seq.name: lower(seq) for seq in module.sequences}
    ctx = RuleContext(program, module, program.scope(module), graphs)
    for code in codes:
        ctx.rule = all_rules()[code]
        ctx.rule.check(ctx)
    return sorted(ctx.found, key=Diagnostic.sort_key)


def where(diags: list[Diagnostic]) -> list[tuple[str, str, int, int]]:
    return [(d.code, d.span.file, d.span.line, d.span.column) for d in diags]


@pytest.fixture(autouse=True)
def in_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Paths in findings are shown relative to the working directory, as the CLI shows them."""
    monkeypatch.chdir(CASES)


# ---- SEQ040 ------------------------------------------------------------------------------


def test_seq040_points_into_the_template_file_and_into_seq_strings() -> None:
    found = findings("seq040_template_syntax.seq", "SEQ040")
    assert where(found) == [
        ("SEQ040", "seq040_template_syntax.seq", 7, 12),  # `subject "..."`: the string's inside
        ("SEQ040", "seq040_template_syntax.seq", 19, 7),  # a `"""` string, dedented
        ("SEQ040", "seq040_template_syntax.seq", 23, 14),  # after a `\t` escape
        ("SEQ040", "templates/broken.html.j2", 3, 1),  # the file, at Jinja's line
    ]
    assert found[0].message == "Jinja syntax error in the subject: unexpected '}'"
    assert "'endif'" in found[1].message
    assert found[2].message == "Jinja syntax error in the subject: unexpected ')'"
    assert found[3].hint == "this file is the body named at seq040_template_syntax.seq:8"
    # The caret covers the template's line, which is the string's text in the .seq file.
    assert (found[0].span.end_line, found[0].span.end_column) == (7, 44)


def test_seq040_near_miss_accepts_braces_in_strings_and_raw_blocks() -> None:
    assert findings("seq040_near_miss.seq", "SEQ040") == []


def test_seq040_reports_a_file_shared_by_two_templates_once(tmp_path: Path) -> None:
    (tmp_path / "bad.j2").write_text("{% if %}", encoding="utf-8")
    seq = tmp_path / "shared.seq"
    seq.write_text(
        'template a { subject "A" body file "bad.j2" }\n'
        'template b { subject "B" body file "bad.j2" }\n',
        encoding="utf-8",
    )
    assert [d.span.line for d in findings(seq, "SEQ040")] == [1]


# ---- SEQ041 ------------------------------------------------------------------------------


def test_seq041_finds_undeclared_and_unguarded_optional_fields() -> None:
    found = findings("seq041_undeclared_field.seq", "SEQ041")
    assert [(*w, d.message) for w, d in zip(where(found), found, strict=True)] == [
        ("SEQ041", "seq041_undeclared_field.seq", 8, 15,
         "`contact.company` is optional and used without a default"),
        ("SEQ041", "seq041_undeclared_field.seq", 18, 24,
         "`contact.plan` is not declared in the contact block"),
        ("SEQ041", "templates/fields.html.j2", 1, 10,
         "`contact.frist_name` is not declared in the contact block"),
        ("SEQ041", "templates/fields.html.j2", 2, 14,
         "`contact.company` is optional and used without a default"),
        ("SEQ041", "templates/fields.html.j2", 3, 7,
         "`contact.seats` is not declared in the contact block"),
    ]
    assert found[2].hint == "did you mean `contact.first_name`?"
    assert (found[4].span.end_line, found[4].span.end_column) == (3, 23)  # `contact["seats"]`


def test_seq041_near_miss_accepts_email_and_guarded_optional_fields() -> None:
    assert findings("seq041_near_miss.seq", "SEQ041") == []


@pytest.mark.parametrize(
    ("source", "guarded"),
    [
        ("{{ contact.company }}", [False]),
        ("{{ contact.company | default('x') }}", [True]),
        ("{{ contact.company | d }}", [True]),
        ("{% if contact.company %}{{ contact.company }}{% endif %}", [False, False]),
        ("{% if contact.company is defined %}{{ contact.company }}{% endif %}", [True, True]),
        ("{% if contact.company is undefined %}{% else %}{{ contact.company }}{% endif %}",
         [True, True]),
        ("{% if not contact.company is defined %}{{ contact.company }}{% endif %}",
         [True, False]),
        ("{% if contact.company is defined and contact.company != 'x' %}{% endif %}",
         [True, True]),
        ("{{ contact.company if contact.company is defined else 'x' }}", [True, True]),
        ("{{ contact.company is undefined or contact.company == 'x' }}", [True, True]),
        ("{{ contact.get('company') }}", [True]),
        ("{{ 'x' | default(contact.company) }}", [False]),
    ],
)
def test_a_missing_field_is_guarded_only_by_default_or_a_defined_test(
    source: str, guarded: list[bool]
) -> None:
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    tree = ImmutableSandboxedEnvironment().parse(source)
    uses = field_uses(tree)
    assert [u.name for u in uses] == ["company"] * len(guarded)
    assert [u.guarded for u in uses] == guarded


def test_seq041_without_a_contact_block_says_how_to_declare_one() -> None:
    program = load_text('sequence s { email { subject "{{ contact.plan }}" } }', "x.seq")
    (diag,) = run_rules(program, "SEQ041")
    assert diag.hint == "declare the fields templates use: `contact { plan: string? }`"


# ---- SEQ042 ------------------------------------------------------------------------------


def test_seq042_points_at_the_path_string() -> None:
    found = findings("seq042_template_file_missing.seq", "SEQ042")
    assert where(found) == [
        ("SEQ042", "seq042_template_file_missing.seq", 4, 13),
        ("SEQ042", "seq042_template_file_missing.seq", 12, 15),
    ]
    assert found[0].message == 'template file "templates/no_such_file.html.j2" not found'
    assert found[0].span.end_column == 45  # the closing quote is included
    assert found[1].message == 'template file "templates/" is a directory, not a file'


def test_seq042_near_miss_resolves_paths_from_the_seq_file_not_the_working_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(CASES.parent)
    assert findings(CASES / "seq042_near_miss.seq", "SEQ042") == []


def test_an_imported_template_file_is_relative_to_the_module_that_declares_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "mail.txt.j2").write_text("Hello there.", encoding="utf-8")
    (tmp_path / "lib" / "common.seq").write_text(
        'template hello { subject "Hi" text file "mail.txt.j2" }\n', encoding="utf-8")
    root = tmp_path / "main.seq"
    root.write_text('import "./lib/common.seq"\nsequence s {\n  email hello\n}\n',
                    encoding="utf-8")
    # The file is found (no SEQ042 in lib), and read: it has no unsubscribe link.
    found = findings(root, *TEMPLATE_CODES)
    assert [(d.code, d.span.line, d.span.column) for d in found] == [("SEQ043", 3, 9)]
    assert 'the text file "mail.txt.j2"' in (found[0].hint or "")


# ---- SEQ043 ------------------------------------------------------------------------------


def test_seq043_reports_each_email_and_variant_without_the_link() -> None:
    found = findings("seq043_no_unsubscribe_link.seq", "SEQ043")
    assert where(found) == [
        ("SEQ043", "seq043_no_unsubscribe_link.seq", 12, 15),  # the template name
        ("SEQ043", "seq043_no_unsubscribe_link.seq", 16, 5),  # the step's own body
        ("SEQ043", "seq043_no_unsubscribe_link.seq", 21, 33),  # variant b's body
    ]
    assert found[2].message == "variant b of this email has no unsubscribe link in its body"


def test_seq043_near_miss_one_part_with_the_link_is_enough() -> None:
    assert findings("seq043_near_miss.seq", "SEQ043") == []


# ---- SEQ050 ------------------------------------------------------------------------------


def test_seq050_flags_urls_the_email_does_not_contain() -> None:
    found = findings("seq050_click_url_not_in_email.seq", "SEQ050")
    assert where(found) == [
        ("SEQ050", "seq050_click_url_not_in_email.seq", 14, 6),  # only in a Jinja comment
        ("SEQ050", "seq050_click_url_not_in_email.seq", 16, 13),  # http, not https
    ]
    assert found[0].message == 'no link in `welcome` starts with "https://example.com/pricing"'
    assert found[0].hint == (
        "its links: https://example.com/docs/start?c=..., https://example.com/calendar")


def test_seq050_near_miss_counts_hrefs_bare_urls_and_dynamic_endings() -> None:
    assert findings("seq050_near_miss.seq", "SEQ050") == []


def test_links_keep_literal_starts_and_skip_comments_and_fully_dynamic_hrefs() -> None:
    source = (
        '<a href="https://a.example/x?id={{ contact.id }}">a</a>'
        "<a href='{{ unsubscribe_url }}'>u</a>"
        "{# https://hidden.example #}"
        "See https://b.example/page. Or https://c.example/{{ contact.slug }}"
    )
    assert links(source) == (
        Link("https://a.example/x?id=", dynamic=True),
        Link("https://b.example/page", dynamic=False),
        Link("https://c.example/", dynamic=True),
    )
    assert Link("https://a.example/x?id=", True).may_start_with("https://a.example/x?id=7")
    assert not Link("https://b.example/page", False).may_start_with("https://b.example/pages")


# ---- how an email's parts are resolved -------------------------------------------------------


def _step(program: Program, label: str) -> tuple[n.EmailStep, StepGraph]:
    seq = program.root.sequences[0]
    graph = lower(seq)
    node = graph.label_node(label)
    assert node is not None
    step = graph.step(node)
    assert isinstance(step, n.EmailStep)
    return step, graph


def _texts(version: EmailVersion) -> dict[str, str]:
    return {p.key: p.value.text for p in version.parts}


def test_step_block_overrides_its_template_and_variants_override_both() -> None:
    program = load_text(
        'template t { subject "T" html "<p>T</p>" }\n'
        "sequence s {\n"
        '  e: email t { body "B" variant a 50% { subject "A" } variant b 50% { text "X" } }\n'
        "}\n",
        "x.seq",
    )
    step, graph = _step(program, "e")
    a, b = email_versions(step, program.scope(program.root), graph)
    # A layer that gives a body part replaces all body parts below it.
    assert (a.variant, _texts(a)) == ("a", {"subject": "A", "body": "B"})
    assert (b.variant, _texts(b)) == ("b", {"subject": "T", "text": "X"})


def test_a_reply_without_a_subject_is_sent_the_replied_emails_subject() -> None:
    program = load_text(
        "sequence s {\n"
        '  first: email { subject "Hello" body "x" }\n'
        '  again: email reply to first { body "y" }\n'
        "}\n",
        "x.seq",
    )
    step, graph = _step(program, "again")
    (version,) = email_versions(step, program.scope(program.root), graph)
    assert _texts(version) == {"subject": "Hello", "body": "y"}


def test_replies_that_reply_to_each_other_have_no_subject_rather_than_no_end() -> None:
    program = load_text(
        "sequence s {\n"
        '  a: email reply to b { body "x" }\n'
        '  b: email reply to a { body "y" }\n'
        "}\n",
        "x.seq",
    )
    step, graph = _step(program, "a")
    (version,) = email_versions(step, program.scope(program.root), graph)
    assert _texts(version) == {"body": "x"}


def test_an_edited_template_file_is_read_again_and_an_unchanged_one_is_not(
    tmp_path: Path,
) -> None:
    template = tmp_path / "t.j2"
    template.write_text("{{ unsubscribe_url }}", encoding="utf-8")
    program = load_text(f'template t {{ subject "s" body file "{template}" }}', "x.seq")
    (fld,) = [f for f in program.root.templates[0].body.fields if f.key == "body"]
    part = TemplatePart(fld)
    first = load_part(part, program)
    assert load_part(part, program).tree is first.tree  # parsed once
    template.write_text("{% if %}", encoding="utf-8")
    stat = template.stat()
    os.utime(template, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert load_part(part, program).syntax_error is not None


# ---- through the checker -------------------------------------------------------------------

CHECKED = [
    ("seq040_template_syntax.seq", ("SEQ040", "seq040_template_syntax.seq", 19, 7)),
    ("seq040_template_syntax.seq", ("SEQ040", "templates/broken.html.j2", 3, 1)),
    ("seq041_undeclared_field.seq", ("SEQ041", "templates/fields.html.j2", 1, 10)),
    ("seq041_undeclared_field.seq", ("SEQ041", "seq041_undeclared_field.seq", 18, 24)),
    ("seq042_template_file_missing.seq", ("SEQ042", "seq042_template_file_missing.seq", 4, 13)),
    ("seq043_no_unsubscribe_link.seq", ("SEQ043", "seq043_no_unsubscribe_link.seq", 21, 33)),
    ("seq050_click_url_not_in_email.seq", ("SEQ050", "seq050_click_url_not_in_email.seq", 14, 6)),
]
NEAR_MISSES = ["seq040_near_miss.seq", "seq041_near_miss.seq", "seq042_near_miss.seq",
               "seq043_near_miss.seq", "seq050_near_miss.seq"]
needs_checker = pytest.mark.skipif(importlib.util.find_spec("seqlang.checker") is None,
                                   reason="the checker (seqlang.checker) is not in this tree yet")


@needs_checker
@pytest.mark.parametrize(("case", "expected"), CHECKED)
def test_the_checker_reports_template_findings_at_these_positions(
    case: str, expected: tuple[str, str, int, int]
) -> None:
    import seqlang

    assert expected in where(seqlang.check(case))


@needs_checker
@pytest.mark.parametrize("case", NEAR_MISSES)
def test_the_checker_finds_nothing_in_the_near_misses(case: str) -> None:
    import seqlang

    assert where(seqlang.check(case)) == []
