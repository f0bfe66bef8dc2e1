"""What a template refers to, found statically: contact fields, variables and links.

`jinja2.meta.find_undeclared_variables` only names top-level variables, and
every template uses `contact`; the rules need the field after the dot, and
whether the template guards it. The engine renders with `StrictUndefined` and
leaves a missing optional field out of `contact`, so only a `default` filter,
an `is defined` test, or `contact.get(...)` keep a missing field from failing
the send; a plain `{% if contact.company %}` does not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from jinja2 import nodes as jinja

CONTACT = "contact"
_DEFAULT_FILTERS = ("default", "d")
_PRESENCE_TESTS = ("defined", "undefined")


@dataclass(frozen=True, slots=True)
class FieldUse:
    """`contact.NAME` at a template line; `guarded` when a missing value cannot fail the render."""

    name: str
    line: int
    guarded: bool


def _field(node: jinja.Node) -> str | None:
    """NAME for `contact.NAME` and `contact["NAME"]`."""
    if not isinstance(node, jinja.Getattr | jinja.Getitem):
        return None
    base = node.node
    if not (isinstance(base, jinja.Name) and base.name == CONTACT and base.ctx == "load"):
        return None
    if isinstance(node, jinja.Getattr):
        return node.attr
    arg = node.arg
    return arg.value if isinstance(arg, jinja.Const) and isinstance(arg.value, str) else None


def _get_call(node: jinja.Node) -> str | None:
    """NAME for `contact.get("NAME")`, which yields None rather than failing."""
    if isinstance(node, jinja.Call) and _field(node.node) == "get" and node.args:
        first = node.args[0]
        if isinstance(first, jinja.Const) and isinstance(first.value, str):
            return first.value
    return None


def _defined_if_true(test: jinja.Node) -> frozenset[str]:
    """Fields certainly present when `test` is true."""
    if isinstance(test, jinja.Test) and test.name == "defined":
        name = _field(test.node)
        return frozenset({name}) if name else frozenset()
    if isinstance(test, jinja.And):
        return _defined_if_true(test.left) | _defined_if_true(test.right)
    if isinstance(test, jinja.Not):
        return _defined_if_false(test.node)
    return frozenset()


def _defined_if_false(test: jinja.Node) -> frozenset[str]:
    """Fields certainly present when `test` is false."""
    if isinstance(test, jinja.Test) and test.name == "undefined":
        name = _field(test.node)
        return frozenset({name}) if name else frozenset()
    if isinstance(test, jinja.Or):
        return _defined_if_false(test.left) | _defined_if_false(test.right)
    if isinstance(test, jinja.Not):
        return _defined_if_true(test.node)
    return frozenset()


class _FieldFinder:
    def __init__(self) -> None:
        self.uses: list[FieldUse] = []

    def all(self, items: Iterable[jinja.Node], guarded: frozenset[str]) -> None:
        for item in items:
            self.visit(item, guarded)

    def visit(self, node: jinja.Node, guarded: frozenset[str]) -> None:
        name = _field(node)
        if name is not None:
            self.uses.append(FieldUse(name, node.lineno, name in guarded))
            return
        wrapped = self._presence_guard(node)
        if wrapped is not None:
            self.uses.append(FieldUse(wrapped, node.lineno, True))
            self.all(_arguments(node), guarded)
            return
        if isinstance(node, jinja.If):
            self._if(node, guarded)
        elif isinstance(node, jinja.CondExpr):
            self.visit(node.test, guarded)
            self.visit(node.expr1, guarded | _defined_if_true(node.test))
            if node.expr2 is not None:
                self.visit(node.expr2, guarded | _defined_if_false(node.test))
        elif isinstance(node, jinja.And):
            self.visit(node.left, guarded)
            self.visit(node.right, guarded | _defined_if_true(node.left))
        elif isinstance(node, jinja.Or):
            self.visit(node.left, guarded)
            self.visit(node.right, guarded | _defined_if_false(node.left))
        else:
            self.all(node.iter_child_nodes(), guarded)

    @staticmethod
    def _presence_guard(node: jinja.Node) -> str | None:
        """The field a `| default`, `is defined` or `.get()` wrapper keeps from failing."""
        if isinstance(node, jinja.Filter) and node.name in _DEFAULT_FILTERS and node.node:
            return _field(node.node)
        if isinstance(node, jinja.Test) and node.name in _PRESENCE_TESTS:
            return _field(node.node)
        return _get_call(node)

    def _if(self, node: jinja.If, guarded: frozenset[str]) -> None:
        rest = guarded
        for branch in (node, *node.elif_):
            self.visit(branch.test, rest)
            self.all(branch.body, rest | _defined_if_true(branch.test))
            rest = rest | _defined_if_false(branch.test)
        self.all(node.else_, rest)


def _arguments(node: jinja.Node) -> list[jinja.Node]:
    if isinstance(node, jinja.Filter | jinja.Test | jinja.Call):
        return [*node.args, *(kw.value for kw in node.kwargs)]
    return []


def field_uses(tree: jinja.Template) -> list[FieldUse]:
    """Every `contact.NAME` in the template, in tree order."""
    finder = _FieldFinder()
    finder.all(tree.body, frozenset())
    return finder.uses


def field_column(line_text: str, name: str) -> tuple[int, int]:
    """1-based column and width of the most likely unguarded `contact.NAME` on a line.

    Jinja's nodes know their line but not their column, so the column comes
    from the text: the first use not followed by a `default` filter or an
    `is defined` test, else the first use.
    """
    pattern = re.compile(
        rf"\b{CONTACT}\s*(?:\.\s*{re.escape(name)}\b|\[\s*(['\"]){re.escape(name)}\1\s*\])"
    )
    guard = re.compile(r"\s*(?:\|\s*(?:default|d)\b|is\s+(?:not\s+)?(?:un)?defined\b)")
    matches = list(pattern.finditer(line_text))
    if not matches:
        return 1, 1
    chosen = next((m for m in matches if not guard.match(line_text, m.end())), matches[0])
    return chosen.start() + 1, chosen.end() - chosen.start()


@lru_cache(maxsize=4096)
def _read_names(tree: jinja.Template) -> frozenset[str]:
    """Keyed by the tree's identity: the template cache hands out one tree per source."""
    return frozenset(v.name for v in tree.find_all(jinja.Name) if v.ctx == "load")


def uses_variable(tree: jinja.Template, name: str) -> bool:
    """True when the template reads the top-level variable `name` anywhere."""
    return name in _read_names(tree)


# ---- links ---------------------------------------------------------------------------

_COMMENT = re.compile(r"\{#.*?#\}", re.DOTALL)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_BARE_URL = re.compile(r"""\bhttps?://[^\s"'<>]+""", re.IGNORECASE)
_JINJA_START = re.compile(r"\{[{%]")
_TRAILING_PUNCTUATION = ".,;:!?)]"


@dataclass(frozen=True, slots=True)
class Link:
    """A link target as written: `text` is its literal start; `dynamic` when Jinja follows it."""

    text: str
    dynamic: bool

    def may_start_with(self, prefix: str) -> bool:
        """Whether the rendered link can start with `prefix`; unknowable parts count as a yes."""
        if self.text.startswith(prefix):
            return True
        return self.dynamic and prefix.startswith(self.text)


def _link(raw: str) -> Link:
    found = _JINJA_START.search(raw)
    if found is None:
        return Link(raw.strip(), False)
    return Link(raw[:found.start()].lstrip(), True)


@lru_cache(maxsize=1024)
def links(source: str) -> tuple[Link, ...]:
    """`href="..."` values and bare http(s) URLs in the template source, in order.

    An href that is Jinja from its first character (`{{ unsubscribe_url }}`,
    `{{ cta }}`) has no literal start to compare and is left out; counting it as
    "may match anything" would silence the rule for every email with an
    unsubscribe link.
    """
    text = _COMMENT.sub("", source)
    found: list[Link] = []
    for match in _HREF.finditer(text):
        link = _link(match.group(1) if match.group(1) is not None else match.group(2))
        if link.text:
            found.append(link)
    for match in _BARE_URL.finditer(text):
        url = match.group()
        jinja_start = _JINJA_START.search(url)
        if jinja_start is not None:
            found.append(Link(url[:jinja_start.start()], True))
        else:
            found.append(Link(url.rstrip(_TRAILING_PUNCTUATION), False))
    return tuple(dict.fromkeys(found))
