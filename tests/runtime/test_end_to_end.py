"""The spec's onboarding sequence, end to end, through a real SMTP server on 127.0.0.1.

Four contacts take the four roads a user expects: one opens the welcome (and gets `content`),
one stays silent (and gets `nudge`, threaded under the welcome), one replies while waiting
(and hears nothing more), one unsubscribes (and hears nothing more). The clock is moved by
hand through the engine's tick; every message is parsed back from what the server received.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from runtime import schema as t
from runtime.config import EngineConfig
from runtime.events import record_event
from runtime.transports.smtp import SmtpTransport

DATA = Path(__file__).parent / "data"
PUBLIC_URL = "https://links.example.com"
# `engine` is conftest's Harness: a store, a hand-moved clock starting on Monday 2 March 2026
# at 09:00 in New York, and a tick through `engine.transport` with `engine.config`.
Harness = Any


class Mailbox:
    """What the server accepted, parsed; addresses listed in `refuse_once` get one 451."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse_once: set[str] = set()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, options: list[str]) -> str:
        if address in self.refuse_once:
            self.refuse_once.discard(address)
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        parsed = BytesParser(policy=policy.default).parsebytes(envelope.original_content or b"")
        assert isinstance(parsed, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 Ok: queued"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for rcpt, m in self.messages if rcpt == [address]]


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    handler = Mailbox()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def onboarding(engine: Harness, mailbox: tuple[Mailbox, int]) -> Harness:
    _, port = mailbox
    engine.transport = SmtpTransport("127.0.0.1", port, local_hostname="localhost", timeout=5)
    engine.config = EngineConfig(public_url=PUBLIC_URL, link_secret=b"test")
    source = (DATA / "onboarding.seq").read_text(encoding="utf-8")
    templates = {f"templates/{p.name}": p.read_text(encoding="utf-8")
                 for p in (DATA / "templates").iterdir()}
    engine.deploy(source, templates, name="onboarding.seq")
    return engine


def _message_id(engine: Harness, enrollment: int, step: str) -> str:
    [send] = engine.rows(t.sends, enrollment_id=enrollment, step=step)
    return str(send.message_id)


def _event(engine: Harness, kind: str, enrollment: int, step: str, **later: float) -> None:
    engine.now += timedelta(**later)
    record_event(engine.store, kind, now=engine.now,
                 message_id=_message_id(engine, enrollment, step))
    engine.tick()


def test_onboarding_through_smtp(onboarding: Harness, mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    engine = onboarding
    people = {name: f"{name}@example.org" for name in ("opener", "silent", "replier", "leaver")}
    ids = {name: engine.enroll("onboarding", email, first_name=name.title(), company="Acme")
           for name, email in people.items()}
    start = engine.now

    engine.tick()  # Monday 09:00 New York: inside office hours, every welcome leaves now
    welcomes = {name: box.to(address) for name, address in people.items()}
    assert {name: [m["Subject"] for m in got] for name, got in welcomes.items()} == {
        name: [f"Welcome, {name.title()}"] for name in people
    }

    _event(engine, "opened", ids["opener"], "welcome", hours=2)
    _event(engine, "replied", ids["replier"], "welcome", hours=1)
    assert engine.row(ids["replier"]).state == "exited"  # at once, not at the end of the wait
    assert "replied" in engine.row(ids["replier"]).reason

    engine.run_until(start + timedelta(days=1, minutes=1))  # Tuesday 09:00: the branch
    assert [m["Subject"] for m in box.to(people["opener"])][1:] == [
        "Three things to try this week"]
    [_, nudge] = box.to(people["silent"])
    [welcome] = welcomes["silent"]
    assert nudge["Subject"] == "Re: Welcome, Silent"
    assert nudge["In-Reply-To"] == welcome["Message-ID"]
    assert nudge["References"] == welcome["Message-ID"]
    assert nudge["Message-ID"] != welcome["Message-ID"]

    _event(engine, "unsubscribed", ids["leaver"], "nudge", hours=1)
    assert engine.row(ids["leaver"]).state == "exited"
    with engine.store.read() as conn:
        assert conn.execute(t.suppressions.select()).one().email == people["leaver"]

    engine.run_until(start + timedelta(days=10))
    assert {name: engine.row(i).state for name, i in ids.items()} == {
        "opener": "completed", "silent": "completed", "replier": "exited", "leaver": "exited"}
    assert len(box.to(people["replier"])) == 1
    assert len(box.to(people["leaver"])) == 2  # welcome and nudge, nothing after unsubscribing

    every = [m for _, m in box.messages]
    assert len(every) == 3 + 3 + 1 + 2
    assert len({m["Message-ID"] for m in every}) == len(every)
    for message in every:
        assert message["From"] == "Ana Silva <ana@example.com>"
        unsubscribe = message["List-Unsubscribe"]
        assert unsubscribe.startswith(f"<{PUBLIC_URL}/unsubscribe?") and unsubscribe.endswith(">")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_followup_variant_is_recorded_and_survives_a_retry(
        onboarding: Harness, mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    engine = onboarding
    ids = [engine.enroll("onboarding", f"c{i}@example.org", first_name=f"C{i}", company="Initech")
           for i in range(6)]
    start = engine.now
    engine.run_until(start + timedelta(days=1, minutes=1))
    box.refuse_once.update(f"c{i}@example.org" for i in range(6))  # every followup: 451 first
    engine.run_until(start + timedelta(days=10))

    subjects = {"a": "Quick question", "b": "An idea for Initech"}
    chosen = set()
    for i, enrollment in enumerate(ids):
        [send] = engine.rows(t.sends, enrollment_id=enrollment, step="followup")
        assert send.state == "sent" and send.attempts == 2
        assert engine.row(enrollment).variants == {"followup": send.variant}
        [followup] = box.to(f"c{i}@example.org")[2:]
        assert followup["Subject"] == subjects[send.variant]
        chosen.add(send.variant)
    assert chosen == {"a", "b"}  # six contacts at 50/50 land in both cohorts


def test_ignoring_the_send_window_sends_at_night_but_business_waits_still_count(
        onboarding: Harness, mailbox: tuple[Mailbox, int]) -> None:
    box, _ = mailbox
    engine = onboarding
    monday = engine.now
    engine.now = monday - timedelta(hours=12)  # Sunday 21:00 in New York: the window is shut
    shut = engine.enroll("onboarding", "shut@example.org", first_name="Shut")
    engine.tick()
    assert box.messages == []
    assert engine.row(shut).wait == "window"

    engine.config = EngineConfig(public_url=PUBLIC_URL, ignore_send_window=True)
    trying = engine.enroll("onboarding", "try@example.org", first_name="Try")
    engine.tick()
    assert [m["Subject"] for m in box.to("try@example.org")] == ["Welcome, Try"]
    assert box.to("shut@example.org") == []  # already deferred: it keeps its opening time

    engine.run_until(monday + timedelta(hours=12, minutes=1))  # Monday 21:00: the nudge
    assert [m["Subject"] for m in box.to("try@example.org")][1:] == ["Re: Welcome, Try"]
    row = engine.row(trying)
    assert row.wait == "wait"
    # 3 business days from Monday 21:00 are Thursday 21:00: open days were counted, the
    # evening hour was kept, and nothing waited for a window.
    assert row.resume_at == monday + timedelta(days=3, hours=12)
