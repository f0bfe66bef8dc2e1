"""Rendering the shipped .seq files' emails the way the engine will, for the tests beside this.

Rendering is the strongest check an example can get before the engine runs it: the
sandbox is strict, so an undeclared field, an optional field without a default, a
missing template file or a Jinja error all fail here rather than at send time.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from runtime.message import parse_mailbox
from runtime.render import Renderer, TemplateSource, email_context
from seqlang import nodes as n
from seqlang.templates import EmailVersion, template_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
UNSUBSCRIBE_URL = "https://app.example.com/u/3f9c2a7e"

RenderParts = Callable[[EmailVersion, Mapping[str, Any]], dict[str, str]]
Context = Callable[[n.Sequence, n.EmailStep, Mapping[str, Any]], dict[str, Any]]


@pytest.fixture(scope="session")
def csv_contacts() -> list[dict[str, Any]]:
    """examples/contacts.csv as the engine passes contacts to templates: blank cells left out."""
    with (EXAMPLES / "contacts.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [
        {key: int(value) if key == "seats" else value for key, value in row.items() if value}
        for row in rows
    ]


@pytest.fixture(scope="session")
def render_parts() -> RenderParts:
    """Render each subject/body/text/html part of an email version; a `body` is HTML or text
    by the engine's rule, and is returned under the key it was written with."""
    renderers: dict[Path | None, Renderer] = {}

    def renderer(base: Path | None) -> Renderer:
        if base not in renderers:
            renderers[base] = Renderer(base)
        return renderers[base]

    def render(version: EmailVersion, context: Mapping[str, Any]) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in version.parts:
            if part.is_file:
                path = template_path(part).resolve()
                engine, source = renderer(path.parent), TemplateSource(file=path.name)
            else:
                engine, source = renderer(None), TemplateSource(text=part.value.text)
            kind = part.key
            if kind == "body":
                kind = "html" if engine.body_is_html(source) else "text"
            out[part.key] = engine.render(kind, source, context)
        return out

    return render


@pytest.fixture(scope="session")
def context() -> Context:
    """The template variables of a first send, shaped as the engine shapes them."""

    def build(seq: n.Sequence, step: n.EmailStep, contact: Mapping[str, Any]) -> dict[str, Any]:
        sender = seq.setting(n.Sender)
        assert isinstance(sender, n.Sender), f"sequence {seq.name} has no `from`"
        name, address = parse_mailbox(sender.address, "from")
        display = seq.setting(n.DisplayName)
        return email_context(
            contact=contact,
            sender={"name": name, "email": address},
            sequence={"name": seq.name,
                      "display_name": display.text if isinstance(display, n.DisplayName)
                      else seq.name},
            step={"id": step.label.name if step.label else "email", "visit": 1},
            unsubscribe_url=UNSUBSCRIBE_URL,
        )

    return build
