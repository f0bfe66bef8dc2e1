"""Render the parts of an email (subject, text, HTML) from Jinja2 templates.

Templates are written by account users, not by us, so they run in Jinja's immutable sandbox:
they can read the context but not reach Python internals or mutate the data they are given.
Missing variables are errors (``StrictUndefined``) because an email that says "Hi ," is worse
than an email that is not sent. Every failure surfaces as one exception type, ``RenderError``,
so the engine has a single thing to catch and record against the enrollment.

Body kind: a ``body`` (as opposed to explicit ``text``/``html``) is HTML when its file name says
so (``x.html``, ``x.htm``, optionally followed by ``.j2``/``.jinja``/``.jinja2``), text when the
file name says ``.txt``/``.text``, and otherwise HTML exactly when its source, after leading
whitespace and Jinja comments/statements, starts with a tag (``<p>``, ``<!DOCTYPE html>``,
``<!-- -->``). "Hi <b>there</b>" is therefore text: a sentence that merely contains a tag is
more likely prose about markup than a layout.

Files: ``TemplateSource(file=...)`` and ``{% include %}``/``{% extends %}`` names are all relative
to the one base folder (the .seq file's), as with any Jinja loader, not to the including file.

Whitespace control: ``trim_blocks`` and ``lstrip_blocks`` are on, so a ``{% if %}`` on its own
line leaves no blank line behind in text emails; this is what most template authors expect.
As in Jinja, a single trailing newline of the source is dropped.
"""

from __future__ import annotations

import functools
import operator
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from jinja2 import BaseLoader, StrictUndefined, Template, TemplateError, TemplateNotFound
from jinja2.exceptions import SecurityError, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = [
    "DEFAULT_MAX_PART_BYTES",
    "Part",
    "RenderError",
    "RenderedEmail",
    "Renderer",
    "TemplateSource",
    "email_context",
    "html_to_text",
    "looks_like_html",
]

Part = Literal["subject", "text", "html"]

DEFAULT_MAX_PART_BYTES = 256 * 1024
INLINE = "inline"
_INLINE_FILENAME = "<inline>"


class RenderError(Exception):
    """A part could not be rendered; says which part, which template and, when known, where."""

    def __init__(self, part: Part, template: str, reason: str, line: int | None = None) -> None:
        self.part = part
        self.template = template
        self.reason = reason
        self.line = line
        where = f"template {template}" + (f", line {line}" if line is not None else "")
        super().__init__(f"cannot render {part} ({where}): {reason}")


@dataclass(frozen=True, slots=True)
class TemplateSource:
    """Where a part comes from: inline source text, or a file relative to the base folder."""

    text: str | None = None
    file: str | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.file is None):
            raise ValueError("a TemplateSource needs exactly one of text= or file=")

    @property
    def label(self) -> str:
        """The name used in error messages: the file name as written, or "inline"."""
        return self.file if self.file is not None else INLINE


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """The rendered parts; ``html`` is None for text-only emails."""

    subject: str
    text: str
    html: str | None


def email_context(
    *,
    contact: Mapping[str, Any],
    sender: Any,
    sequence: Any,
    step: Any,
    unsubscribe_url: str,
) -> dict[str, Any]:
    """Build the template context; the names are part of the language, so they live in one place.

    Optional contact fields should be left out of ``contact`` rather than set to None: a missing
    key lets ``| default(...)`` apply, while None would render as the word "None".
    """
    return {
        "contact": contact,
        "sender": sender,
        "sequence": sequence,
        "step": step,
        "unsubscribe_url": unsubscribe_url,
    }


# --- the sandbox -------------------------------------------------------------------------------


class _EmailSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, plus guards on the two operators that turn a tiny template into a
    huge allocation or computation (``'x' * 10**9``, ``7 ** 10**8``).

    Jinja's sandbox is about code execution, not resource use: filters such as ``center(10**9)``
    can still allocate a lot. The output cap below bounds what is produced, not what is touched.
    """

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *, max_chars: int, **options: Any) -> None:
        super().__init__(**options)
        self._max_chars = max_chars

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "*":
            for seq, count in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(count, int)
                    and len(seq) * count > self._max_chars
                ):
                    raise SecurityError("sequence repetition exceeds the output size limit")
            return operator.mul(left, right)
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and right > 0
            and left.bit_length() * right > self._max_chars * 8
        ):
            raise SecurityError("power result exceeds the output size limit")
        return operator.pow(left, right)


class _FolderLoader(BaseLoader):
    """Loads templates from one folder and nothing outside it (``..``, absolute paths, and
    symlinks that resolve elsewhere are all refused).

    Reported file names are the relative names as written, so errors read like the .seq file.
    File contents are cached by (mtime, size): the engine renders the same few files thousands
    of times, and returning the same ``str`` object keeps the compiled-template LRU lookup cheap.
    """

    def __init__(self, base_dir: str | os.PathLike[str] | None) -> None:
        self._base = Path(base_dir).resolve() if base_dir is not None else None
        self._files: dict[str, tuple[Path, int, int, str]] = {}

    def _resolve(self, name: str) -> Path:
        if self._base is None:
            raise TemplateNotFound(name, "no template folder is configured for file templates")
        if "\x00" in name or Path(name).is_absolute() or Path(name).drive:
            raise SecurityError(f"template path {name!r} must be relative to the template folder")
        path = (self._base / name).resolve()
        if not path.is_relative_to(self._base):
            raise SecurityError(f"template path {name!r} escapes the template folder")
        return path

    def read(self, name: str) -> str:
        """Return the file's text, re-reading only when its mtime or size changed."""
        cached = self._files.get(name)
        path = cached[0] if cached else self._resolve(name)
        try:
            st = path.stat()
            if cached and cached[1] == st.st_mtime_ns and cached[2] == st.st_size:
                return cached[3]
            source = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise TemplateNotFound(name) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateNotFound(name, f"cannot read template {name!r}: {exc}") from None
        self._files[name] = (path, st.st_mtime_ns, st.st_size, source)
        return source

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Callable[[], bool]]:
        source = self.read(template)
        return source, template, lambda: self.read(template) is source


# --- rendering --------------------------------------------------------------------------------


class Renderer:
    """Renders email parts; one instance per .seq folder, shared across threads.

    Compiled templates are kept in an LRU keyed by (autoescape, name, source text), so the same
    inline text or unchanged file compiles once however many contacts it is rendered for, and an
    edited file compiles again without any explicit invalidation.
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str] | None = None,
        *,
        max_part_bytes: int = DEFAULT_MAX_PART_BYTES,
        cache_size: int = 512,
    ) -> None:
        self.max_part_bytes = max_part_bytes
        self._loader = _FolderLoader(base_dir)
        options: dict[str, Any] = {
            "loader": self._loader,
            "undefined": StrictUndefined,
            "trim_blocks": True,
            "lstrip_blocks": True,
            "max_chars": max_part_bytes,
        }
        self._envs = {
            True: _EmailSandbox(autoescape=True, **options),
            False: _EmailSandbox(autoescape=False, **options),
        }
        self._compile_cached = functools.lru_cache(maxsize=cache_size)(self._compile)

    def _compile(self, autoescape: bool, name: str, source: str) -> Template:
        env = self._envs[autoescape]
        filename = _INLINE_FILENAME if name == INLINE else name
        code = env.compile(source, name=name, filename=filename)
        return env.template_class.from_code(env, code, env.make_globals(None))

    def _source_text(self, source: TemplateSource) -> str:
        if source.file is not None:
            return self._loader.read(source.file)
        return source.text or ""

    def template(self, part: Part, source: TemplateSource | str) -> Template:
        """Return the compiled template for a part (cached); raises RenderError on bad syntax
        or an unreadable file."""
        source = _as_source(source)
        try:
            text = self._source_text(source)
            return self._compile_cached(part == "html", source.label, text)
        except TemplateError as exc:
            raise _render_error(part, source.label, exc) from exc

    def render(self, part: Part, source: TemplateSource | str, context: Mapping[str, Any]) -> str:
        """Render one part. Subjects come back as a single line with whitespace collapsed."""
        source = _as_source(source)
        template = self.template(part, source)
        try:
            out = self._capped_join(template.generate(context))
        except _OutputTooLarge:
            raise RenderError(
                part, source.label, f"output exceeds {self.max_part_bytes} bytes"
            ) from None
        except Exception as exc:
            # Templates raise ordinary Python errors too (1/0, int("x"), a filter given the
            # wrong type); to the engine they are all the same: this part cannot be rendered.
            raise _render_error(part, source.label, exc) from exc
        if (
            len(out) * 4 > self.max_part_bytes
            and len(out.encode("utf-8", "surrogatepass")) > self.max_part_bytes
        ):
            raise RenderError(part, source.label, f"output exceeds {self.max_part_bytes} bytes")
        return " ".join(out.split()) if part == "subject" else out

    def _capped_join(self, chunks: Iterator[str]) -> str:
        """Join streamed output, stopping as soon as it is too long rather than after
        materialising all of it (characters <= UTF-8 bytes, so this bound is safe)."""
        parts: list[str] = []
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > self.max_part_bytes:
                raise _OutputTooLarge
            parts.append(chunk)
        return "".join(parts)

    def body_is_html(self, body: TemplateSource | str) -> bool:
        """Decide whether a ``body`` is HTML (see the module docstring for the rule)."""
        body = _as_source(body)
        if body.file is not None and (by_name := _kind_by_file_name(body.file)) is not None:
            return by_name
        try:
            return looks_like_html(self._source_text(body))
        except TemplateError as exc:  # unreadable file: it cannot be rendered as either kind
            raise _render_error("html", body.label, exc) from exc

    def render_email(
        self,
        context: Mapping[str, Any],
        *,
        subject: TemplateSource | str,
        body: TemplateSource | str | None = None,
        text: TemplateSource | str | None = None,
        html: TemplateSource | str | None = None,
    ) -> RenderedEmail:
        """Render a whole email. Give either ``body`` (kind decided by ``body_is_html``) or
        ``text`` and/or ``html``; when only HTML is given the text part is derived from it."""
        if body is not None:
            if text is not None or html is not None:
                raise ValueError("give either body= or text=/html=, not both")
            if self.body_is_html(body):
                html = body
            else:
                text = body
        if text is None and html is None:
            raise ValueError("an email needs a body, text or html")
        rendered_html = self.render("html", html, context) if html is not None else None
        if text is not None:
            rendered_text = self.render("text", text, context)
        else:
            rendered_text = html_to_text(rendered_html or "")
        return RenderedEmail(
            subject=self.render("subject", subject, context),
            text=rendered_text,
            html=rendered_html,
        )


class _OutputTooLarge(Exception):
    """Internal signal from the capped join; turned into a RenderError by the caller."""


def _as_source(source: TemplateSource | str) -> TemplateSource:
    return TemplateSource(text=source) if isinstance(source, str) else source


def _render_error(part: Part, label: str, exc: BaseException) -> RenderError:
    """Wrap any template failure, naming the innermost template and line Jinja points at."""
    template, line = label, None
    if isinstance(exc, TemplateSyntaxError):
        line = exc.lineno
        if exc.name:
            template = exc.name
        reason = exc.message or str(exc)
    else:
        found = _template_frame(exc.__traceback__)
        if found is not None:
            filename, line = found
            template = INLINE if filename == _INLINE_FILENAME else filename
        reason = str(exc) or type(exc).__name__
    if isinstance(exc, TemplateNotFound) and reason == exc.name:
        reason = f"template file {exc.name!r} not found"
    return RenderError(part, template, reason, line)


def _template_frame(tb: TracebackType | None) -> tuple[str, int] | None:
    """Jinja rewrites tracebacks so template frames carry the template's file name and line,
    marked by ``__jinja_exception__`` in their globals; the innermost one is the culprit."""
    found = None
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


# --- body kind and text derivation ------------------------------------------------------------

_TEMPLATE_SUFFIX = re.compile(r"\.(?:j2|jinja2?)$", re.IGNORECASE)
_STARTS_WITH_TAG = re.compile(r"\s*(?:\{#.*?#\}\s*|\{%.*?%\}\s*)*<[A-Za-z!/]", re.DOTALL)


def looks_like_html(source: str, file_name: str | None = None) -> bool:
    """True when a body is HTML: by file name when it is conclusive, else by a leading tag."""
    by_name = _kind_by_file_name(file_name) if file_name is not None else None
    return by_name if by_name is not None else _STARTS_WITH_TAG.match(source) is not None


def _kind_by_file_name(file_name: str) -> bool | None:
    """True for .html/.htm, False for .txt/.text (either optionally + .j2/.jinja/.jinja2),
    None when the name does not say."""
    stem = _TEMPLATE_SUFFIX.sub("", file_name.lower())
    if stem.endswith((".html", ".htm")):
        return True
    if stem.endswith((".txt", ".text")):
        return False
    return None


# fmt: off
_PARAGRAPH_TAGS = frozenset({
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "blockquote", "pre", "hr", "dl",
    "address", "figure",
})
_LINE_TAGS = frozenset({
    "div", "tr", "dt", "dd", "section", "article", "header", "footer", "main", "nav", "aside",
    "form", "center",
})
# fmt: on
_SKIP_TAGS = frozenset({"script", "style", "head", "title", "template", "noscript"})
_HTML_SPACE = re.compile(r"[ \t\r\n\f]+")
_BLANK_RUNS = re.compile(r"\n{3,}")


class _TextExtractor(HTMLParser):
    """Turns rendered HTML into a readable text alternative.

    Links keep their target ("text (url)") because a text reader cannot click; block elements
    become line or paragraph breaks; list items get a "- " bullet; scripts, styles and the
    <head> are dropped. Entities are unescaped by the parser (convert_charrefs).
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip_depth = 0
        self._links: list[tuple[str, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag == "body":
            self._skip_depth = 0  # a missing </head> must not hide the whole body
        elif tag == "br":
            self.out.append("\n")
        elif tag in _PARAGRAPH_TAGS:
            self.out.append("\n\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in _LINE_TAGS:
            self.out.append("\n")
        elif tag in ("td", "th"):
            self.out.append(" ")
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            self._links.append((href, len(self.out)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and <hr/> must not open a skip region or a link.
        if tag in ("a", *_SKIP_TAGS):
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _PARAGRAPH_TAGS:
            self.out.append("\n\n")
        elif tag in _LINE_TAGS:
            self.out.append("\n")
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            label = " ".join("".join(self.out[start:]).split())
            if _is_followable(href) and href not in (label, f"mailto:{label}"):
                self.out.append(f" ({href})" if label else href)

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self.out.append(_HTML_SPACE.sub(" ", data))

    def text(self) -> str:
        lines = (" ".join(line.split()) for line in "".join(self.out).split("\n"))
        return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _is_followable(href: str) -> bool:
    return bool(href) and not href.startswith("#") and not href.lower().startswith("javascript:")


# The markup email templates are made of: plain start and end tags whose attributes are all
# quoted (or bare). Anything else (comments, doctypes, unquoted values, a stray "<", an
# element whose content is skipped) goes to html.parser, which knows every corner of HTML.
_PLAIN_TAG = re.compile(
    r"<(?:([A-Za-z][A-Za-z0-9]*)((?:\s+[A-Za-z_:][-A-Za-z0-9_:.]*"
    r"(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'))?)*)\s*(/?)|/([A-Za-z][A-Za-z0-9]*)\s*)>"
)
_PLAIN_ATTR = re.compile(r"([A-Za-z_:][-A-Za-z0-9_:.]*)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'))?")


def html_to_text(html: str) -> str:
    """Derive a plain-text alternative from rendered HTML (see ``_TextExtractor``).

    Rendered emails are tokenised with one regular expression, which costs a fraction of
    html.parser's general machinery on every send; both feed the same extractor, so the text
    is the same either way.
    """
    extractor = _TextExtractor()
    if not _extract_plain(html, extractor):
        extractor = _TextExtractor()
        extractor.feed(html)
        extractor.close()
    return extractor.text()


def _extract_plain(html: str, extractor: _TextExtractor) -> bool:
    """Feed `html` to `extractor` when it is plain markup (see ``_PLAIN_TAG``); False, with
    the extractor in an unknown state, when it is not."""
    at = 0
    for tag in _PLAIN_TAG.finditer(html):
        if not _plain_data(html[at:tag.start()], extractor):
            return False
        at = tag.end()
        start, attributes, closed, end = tag.groups()
        if end is not None:
            extractor.handle_endtag(end.lower())
            continue
        name = start.lower()
        if name in _SKIP_TAGS:
            return False
        attrs = [(m[1].lower(), _attribute_value(m)) for m in _PLAIN_ATTR.finditer(attributes)] \
            if name == "a" else []
        if closed:
            extractor.handle_startendtag(name, attrs)
        else:
            extractor.handle_starttag(name, attrs)
    return _plain_data(html[at:], extractor)


def _plain_data(data: str, extractor: _TextExtractor) -> bool:
    if "<" in data:
        return False
    if data:
        extractor.handle_data(unescape(data))
    return True


def _attribute_value(match: re.Match[str]) -> str | None:
    value = match[2] if match[2] is not None else match[3]
    return None if value is None else unescape(value)
