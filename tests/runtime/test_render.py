"""Renderer: sandboxing, strictness, escaping, limits, file loading, caching, text derivation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from runtime.render import (
    Renderer,
    RenderError,
    TemplateSource,
    _TextExtractor,
    email_context,
    html_to_text,
    looks_like_html,
)


@pytest.fixture
def ctx() -> dict[str, Any]:
    return email_context(
        contact={"email": "jo@example.com", "first_name": "Jo <b>&", "company": "Acme"},
        sender={"name": "Ana Silva", "email": "ana@example.com"},
        sequence={"name": "Onboarding"},
        step={"label": "welcome"},
        unsubscribe_url="https://app.example.com/u/tok?a=1&b=2",
    )


@pytest.fixture
def tdir(tmp_path: Path) -> Path:
    base = tmp_path / "seq"
    (base / "templates").mkdir(parents=True)
    (base / "templates" / "welcome.html.j2").write_text(
        "<p>Hi {{ contact.first_name }}</p>\n{% include 'templates/footer.html.j2' %}\n"
    )
    (base / "templates" / "footer.html.j2").write_text(
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>\n'
    )
    (base / "templates" / "broken.html.j2").write_text("line one\nline two\n{{ contact.nope }}\n")
    (tmp_path / "secret.txt").write_text("top secret")
    return base


# --- sandbox and strictness ---


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ contact.__class__.__init__.__globals__ }}",
        "{{ sender.update({'name': 'x'}) }}",  # immutable sandbox: no mutating methods
        "{{ 'x' * 1000000000 }}",
        "{{ 7 ** 100000000 }}",
    ],
)
def test_sandbox_refuses_escapes_mutation_and_blowups(ctx: dict[str, Any], source: str) -> None:
    with pytest.raises(RenderError) as info:
        Renderer().render("html", source, ctx)
    assert info.value.part == "html"
    assert info.value.template == "inline"
    assert info.value.line == 1


def test_strict_undefined_names_the_missing_variable_part_and_line(ctx: dict[str, Any]) -> None:
    with pytest.raises(RenderError) as info:
        Renderer().render("text", "Hello\n{{ contact.last_name }}", ctx)
    err = info.value
    assert "last_name" in str(err)
    assert (err.part, err.template, err.line) == ("text", "inline", 2)
    with pytest.raises(RenderError, match="'nobody' is undefined"):
        Renderer().render("subject", "{{ nobody }}", ctx)


def test_default_filter_still_works_under_strict_undefined(ctx: dict[str, Any]) -> None:
    out = Renderer().render("subject", "An idea for {{ contact.team | default('your team') }}", ctx)
    assert out == "An idea for your team"


def test_syntax_error_reports_line(ctx: dict[str, Any]) -> None:
    with pytest.raises(RenderError) as info:
        Renderer().render("html", "<p>\n{% if %}\n</p>", ctx)
    assert info.value.line == 2
    assert "cannot render html (template inline, line 2)" in str(info.value)


def test_python_errors_inside_templates_become_render_errors(ctx: dict[str, Any]) -> None:
    with pytest.raises(RenderError, match="division by zero"):
        Renderer().render("text", "{{ 1 / 0 }}", ctx)


# --- escaping and parts ---


def test_autoescape_only_in_html(ctx: dict[str, Any]) -> None:
    r = Renderer()
    src = "Hi {{ contact.first_name }}"
    assert r.render("html", src, ctx) == "Hi Jo &lt;b&gt;&amp;"
    assert r.render("text", src, ctx) == "Hi Jo <b>&"
    assert r.render("subject", src, ctx) == "Hi Jo <b>&"


def test_subject_is_one_line(ctx: dict[str, Any]) -> None:
    out = Renderer().render("subject", "  Hello\r\n  {{ contact.company }}\n\tthere \u2028 x ", ctx)
    assert out == "Hello Acme there x"


def test_size_cap_per_part(ctx: dict[str, Any]) -> None:
    r = Renderer(max_part_bytes=1000)
    assert len(r.render("text", "{{ 'x' * 1000 }}", ctx)) == 1000
    with pytest.raises(RenderError, match="exceeds 1000 bytes"):
        r.render("text", "{% for i in range(2000) %}x{% endfor %}", ctx)
    # The cap is in UTF-8 bytes, not characters: 400 euro signs are 1200 bytes.
    with pytest.raises(RenderError, match="exceeds 1000 bytes"):
        r.render("html", "{{ '\u20ac' * 400 }}", ctx)


def test_render_email_derives_text_from_html(ctx: dict[str, Any]) -> None:
    email = Renderer().render_email(
        ctx,
        subject="Welcome, {{ contact.first_name }}",
        body='<p>Hi {{ contact.first_name }},</p><p>See <a href="{{ unsubscribe_url }}">here</a>'
        "<br>bye</p>",
    )
    assert email.subject == "Welcome, Jo <b>&"
    assert email.html is not None and "Jo &lt;b&gt;&amp;" in email.html
    assert email.text == ("Hi Jo <b>&,\n\nSee here (https://app.example.com/u/tok?a=1&b=2)\nbye")


def test_render_email_text_only_and_both(ctx: dict[str, Any]) -> None:
    r = Renderer()
    text_only = r.render_email(ctx, subject="s", body="Hi {{ contact.first_name }}")
    assert (text_only.text, text_only.html) == ("Hi Jo <b>&", None)
    both = r.render_email(ctx, subject="s", text="T {{ step.label }}", html="<b>H</b>")
    assert (both.text, both.html) == ("T welcome", "<b>H</b>")
    with pytest.raises(ValueError):
        r.render_email(ctx, subject="s", body="x", text="y")
    with pytest.raises(ValueError):
        r.render_email(ctx, subject="s")


def test_trim_blocks_keep_text_emails_tidy(ctx: dict[str, Any]) -> None:
    src = "Hi\n{% if contact.company %}\n  At {{ contact.company }}\n{% endif %}\nBye\n"
    assert Renderer().render("text", src, ctx) == "Hi\n  At Acme\nBye"


# --- html detection and text derivation ---


@pytest.mark.parametrize(
    ("source", "file", "expected"),
    [
        ("plain words", "templates/a.html.j2", True),
        ("<p>x</p>", "notes.txt.j2", False),
        ("<p>x</p>", "body.j2", True),
        ("  \n<!DOCTYPE html><html></html>", None, True),
        ("{# header #}\n{% set x = 1 %}<table></table>", None, True),
        ("<!-- comment --><p>x</p>", None, True),
        ("Hi <b>there</b>", None, False),
        ("a < b and c > d", None, False),
        ("", None, False),
    ],
)
def test_looks_like_html(source: str, file: str | None, expected: bool) -> None:
    assert looks_like_html(source, file) is expected


def test_html_to_text_structure() -> None:
    html = """<html><head><title>T</title><style>p { color: red }</style></head><body>
    <h1>Title&nbsp;here</h1>
    <p>One   two
       three &amp; &lt;four&gt; &#8212; caf&eacute;</p>
    <ul><li>first</li><li>second</li></ul>
    <div>a<br/>b</div>
    <p><a href="https://x.example/a">Read</a> <a href="https://x.example/b">https://x.example/b</a>
    <a href="mailto:ana@example.com">ana@example.com</a> <a href="#top">top</a>
    <a href="https://x.example/img"><img src="i.png"></a></p>
    <script>alert(1)</script>
    </body></html>"""
    assert html_to_text(html) == (
        "Title here\n\n"
        "One two three & <four> \u2014 caf\u00e9\n\n"
        "- first\n"
        "- second\n\n"
        "a\n"
        "b\n\n"
        "Read (https://x.example/a) https://x.example/b ana@example.com top "
        "https://x.example/img"
    )


def test_html_to_text_survives_missing_head_close() -> None:
    assert html_to_text("<head><title>x</title><body><p>kept</p>") == "kept"


EXAMPLE_TEMPLATES = Path(__file__).parents[2] / "examples" / "templates"


def _parsed_text(html: str) -> str:
    """The text html.parser derives, which the common-markup path must reproduce."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return extractor.text()


@pytest.mark.parametrize("html", [
    *(path.read_text(encoding="utf-8")
      for path in sorted(EXAMPLE_TEMPLATES.glob("*.html.j2"))),
    '<P CLASS="lead">A &amp; B &#8212; caf&eacute;</P>'
    '<A HREF="https://x.example/?a=1&amp;b=2">go</A>',
    "<a href='https://x.example/q'>single quotes</a><br/>line<hr />rule<td>cell</td>",
    '<a href="https://x.example/1" href="https://x.example/2">last href wins</a>',
    '<a href="https://x.example/self"/>after a self-closed link',
    '<a title="no href">label</a> <a href="  https://x.example/pad  ">padded</a>',
    '<p data-x="a > b">quoted "&gt;" in an attribute</p>',
    "<html><body><p>in a body</p></body></html>",
    "<a href=unquoted>not common markup</a>",
    "<!-- a comment --><p>after it</p>",
    "<p>1 < 2 and 3 > 2</p>",
    "<html><head><style>p {}</style></head><body><p>styled</p></body></html>",
    "text &amp; an unfinished &",
])
def test_html_to_text_is_the_parsers_text_for_any_markup(html: str) -> None:
    assert html_to_text(html) == _parsed_text(html)


# --- files ---


def test_file_templates_with_include_and_body_detection(tdir: Path, ctx: dict[str, Any]) -> None:
    r = Renderer(tdir)
    email = r.render_email(ctx, subject="s", body=TemplateSource(file="templates/welcome.html.j2"))
    assert email.html is not None
    assert "<p>Hi Jo &lt;b&gt;&amp;</p>" in email.html
    assert 'href="https://app.example.com/u/tok?a=1&amp;b=2"' in email.html
    assert email.text == "Hi Jo <b>&\n\nUnsubscribe (https://app.example.com/u/tok?a=1&b=2)"


def test_file_error_names_file_and_line(tdir: Path, ctx: dict[str, Any]) -> None:
    with pytest.raises(RenderError) as info:
        Renderer(tdir).render("html", TemplateSource(file="templates/broken.html.j2"), ctx)
    assert (info.value.template, info.value.line) == ("templates/broken.html.j2", 3)
    assert "nope" in info.value.reason


def test_missing_file(tdir: Path, ctx: dict[str, Any]) -> None:
    with pytest.raises(RenderError, match="not found") as info:
        Renderer(tdir).render("text", TemplateSource(file="templates/none.txt"), ctx)
    assert info.value.template == "templates/none.txt"


@pytest.mark.parametrize(
    "name", ["../secret.txt", "templates/../../secret.txt", "/etc/passwd", "link.txt"]
)
def test_paths_escaping_the_folder_are_refused(tdir: Path, ctx: dict[str, Any], name: str) -> None:
    os.symlink(tdir.parent / "secret.txt", tdir / "link.txt")
    r = Renderer(tdir)
    with pytest.raises(RenderError, match="template folder") as info:
        r.render("text", TemplateSource(file=name), ctx)
    assert info.value.template == name
    with pytest.raises(RenderError, match="template folder"):
        r.render("text", "{% include '" + name + "' %}", ctx)


def test_no_base_dir_means_no_files(ctx: dict[str, Any]) -> None:
    with pytest.raises(RenderError, match="no template folder"):
        Renderer().render("text", TemplateSource(file="a.txt"), ctx)


def test_template_source_needs_exactly_one_origin() -> None:
    with pytest.raises(ValueError):
        TemplateSource()
    with pytest.raises(ValueError):
        TemplateSource(text="a", file="b")


# --- caching ---


def test_compiled_templates_are_cached_by_source(tdir: Path, ctx: dict[str, Any]) -> None:
    r = Renderer(tdir)
    first = r.template("html", "<p>{{ contact.first_name }}</p>")
    assert r.template("html", "<p>{{ contact.first_name }}</p>") is first
    # Same text, different escaping: must not share a compiled template.
    assert r.template("text", "<p>{{ contact.first_name }}</p>") is not first
    assert r.template("html", "<p>{{ contact.company }}</p>") is not first

    src = TemplateSource(file="templates/footer.html.j2")
    compiled = r.template("html", src)
    assert r.template("html", src) is compiled
    path = tdir / "templates" / "footer.html.j2"
    path.write_text("<p>changed {{ contact.company }}</p>")
    os.utime(path, ns=(1, 1))  # a distinct mtime even on coarse-timestamp file systems
    assert r.template("html", src) is not compiled
    assert r.render("html", src, ctx) == "<p>changed Acme</p>"


def test_cache_is_bounded() -> None:
    r = Renderer(cache_size=2)
    a = r.template("text", "a")
    r.template("text", "b")
    r.template("text", "c")
    assert r.template("text", "a") is not a
