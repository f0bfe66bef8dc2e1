"""Message building: header injection safety, encoding round-trips, threading, unsubscribe."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.message import (
    MAX_NAME_CHARS,
    MessageError,
    OutgoingMessage,
    build_message,
    clean_header_text,
    normalize_message_id,
    parse_mailbox,
    reply_subject,
)

BASE_HEADERS = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}
UNSUB = "https://app.example.com/u/tok123"


def parse(raw: bytes) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=policy.default).parsebytes(raw))


def content(part: object) -> str:
    """Decoded body with wire CRLFs back to Python newlines (the parser keeps CRLF)."""
    return cast(EmailMessage, part).get_content().replace("\r\n", "\n")


def rfc2047_display_name(raw: bytes, header: str) -> str:
    """The display name as mail clients decode it. CPython's policy.default address parser keeps
    the whitespace between adjacent encoded words in a display name (RFC 2047 6.2 says to drop
    it), so it cannot judge long non-ASCII names; decode_header follows the RFC."""
    value = re.sub(r"\r?\n(?=[ \t])", "", str(message_from_bytes(raw)[header]))
    return str(make_header(decode_header(parseaddr(value)[0])))


def header_names(msg: EmailMessage) -> set[str]:
    return {k.lower() for k in msg}


def build(**overrides: Any) -> OutgoingMessage:
    args: dict[str, Any] = {
        "sender": "Ana Silva <ana@example.com>",
        "to": "jo@example.org",
        "subject": "Hello",
        "text": "Hi Jo",
        "html": "<p>Hi Jo</p>",
    }
    args.update(overrides)
    return build_message(**args)


def assert_wire_clean(raw: bytes) -> None:
    """CRLF only, short header lines, 7-bit headers."""
    head, _, _ = raw.partition(b"\r\n\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF"
    assert b"\r" not in raw.replace(b"\r\n", b""), "bare CR"
    assert head.isascii()
    assert not re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", head.replace(b"\r\n", b"")), "control"
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998


# --- structure ---


def test_multipart_alternative_round_trip() -> None:
    html = "<p>Caf\u00e9 \u2014 <a href='https://x.example/?a=1&b=2'>go</a></p>\n" * 40
    text = "Caf\u00e9 \u2014 go\n.\nFrom here\n--=_seq_fake\ntrailing space \n"
    out = build(text=text, html=html, date=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert_wire_clean(out.raw)
    msg = parse(out.raw)
    assert header_names(msg) == BASE_HEADERS
    assert msg.get_content_type() == "multipart/alternative"
    assert msg["Date"] == "Fri, 02 Jan 2026 03:04:05 +0000"
    plain, rich = msg.iter_parts()
    assert content(plain) == text
    assert content(rich) == html
    assert (out.to, out.sender, out.subject) == ("jo@example.org", "ana@example.com", "Hello")
    assert out.message_id == msg["Message-ID"]


def test_text_only_is_a_single_part() -> None:
    out = build(html=None, text="line1\r\nline2\rline3\n")
    msg = parse(out.raw)
    assert msg.get_content_type() == "text/plain"
    assert header_names(msg) == BASE_HEADERS | {"content-transfer-encoding"}
    assert content(msg) == "line1\nline2\nline3\n"


def test_display_names_and_idn() -> None:
    out = build(
        sender='"Silva, Ana" <ana@example.com>', to=("J\u00f6 M\u00fcller", "jo@b\u00fccher.de")
    )
    msg = parse(out.raw)
    assert msg["From"].addresses[0].display_name == "Silva, Ana"
    to = msg["To"].addresses[0]
    assert (to.display_name, to.addr_spec) == ("J\u00f6 M\u00fcller", "jo@xn--bcher-kva.de")
    assert out.to == "jo@xn--bcher-kva.de"


# --- injection ---

HOSTILE_TEXT = [
    "x\r\nBcc: victim@evil.example",
    "x\nBcc: victim@evil.example",
    "x\rBcc: victim@evil.example",
    "x\r\n\r\n<html>body takeover</html>",
    "x\x00Bcc: victim@evil.example",
    "x\u2028Bcc: victim@evil.example",
    "x\x85Bcc: victim@evil.example",
    "x\x0bBcc:\x0cvictim@evil.example",
    "=?utf-8?q?=0D=0ABcc:_victim@evil.example?=",
    "\r\n\tBcc: folded@evil.example",
]


@pytest.mark.parametrize("payload", HOSTILE_TEXT)
def test_hostile_names_and_subjects_never_add_headers(payload: str) -> None:
    out = build(
        sender=(payload, "ana@example.com"),
        to=(payload, "jo@example.org"),
        subject=payload,
        unsubscribe_url=UNSUB,
        in_reply_to="<a@b>",
    )
    assert_wire_clean(out.raw)
    msg = parse(out.raw)
    expected = BASE_HEADERS | {
        "list-unsubscribe",
        "list-unsubscribe-post",
        "in-reply-to",
        "references",
    }
    assert header_names(msg) == expected
    cleaned = clean_header_text(payload)
    assert msg["Subject"] == cleaned
    assert msg["To"].addresses[0].display_name == cleaned
    assert msg["To"].addresses[0].addr_spec == "jo@example.org"
    assert len(msg["To"].addresses) == 1 and len(msg["From"].addresses) == 1
    assert content(msg.get_body(("plain",))) == "Hi Jo"


def test_hostile_name_inside_a_mailbox_string() -> None:
    out = build(to="Jo\r\nBcc: victim@evil.example <jo@example.org>")
    msg = parse(out.raw)
    assert "bcc" not in header_names(msg)
    assert msg["To"].addresses[0].addr_spec == "jo@example.org"
    assert msg["To"].addresses[0].display_name == "Jo Bcc: victim@evil.example"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("to", "jo@example.org\r\nBcc: victim@evil.example"),
        ("to", "jo@example.org\nBcc: victim@evil.example"),
        ("to", "jo@exa\x00mple.org"),
        ("to", "jo@example.org, victim@evil.example"),
        ("to", "jo@example.org victim@evil.example"),
        ("to", "jo example@example.org"),
        ("to", "jo@@example.org"),
        ("to", "jo"),
        ("to", "@example.org"),
        ("to", "jo@"),
        ("to", "jo@-example.org"),
        ("to", "jo..x@example.org"),
        ("to", '"jo"@example.org'),
        ("to", "j\u00f6@example.org"),
        ("to", "Jo <jo@example.org>\r\nBcc: victim@evil.example"),
        ("to", ("Jo", "jo@example.org>\r\nBcc: <victim@evil.example")),
        ("sender", "Ana <ana@exa\r\nmple.com>"),
        ("sender", "ana@exa mple.com"),
    ],
)
def test_bad_addresses_are_rejected_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(MessageError) as info:
        build(**{field: value})
    assert info.value.field == field
    assert "\n" not in str(info.value)


def test_surrounding_whitespace_of_an_address_is_trimmed() -> None:
    assert build(to=" jo@example.org\r\n").to == "jo@example.org"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("in_reply_to", "<a@b>\r\nBcc: victim@evil.example"),
        ("in_reply_to", "<a b@c>"),
        ("in_reply_to", "<no-at-sign>"),
        ("in_reply_to", "<a@b><c@d>"),
        ("references", ["<ok@x>", "<a@b>\nBcc: v@e"]),
        ("unsubscribe_url", "https://x.example/u\r\nBcc: victim@evil.example"),
        ("unsubscribe_url", "https://x.example/u>, <mailto:victim@evil.example"),
        ("unsubscribe_url", "javascript:alert(1)"),
        ("unsubscribe_url", "https://x.example/caf\u00e9"),
        ("msgid_domain", "example.com\r\nBcc: victim@evil.example"),
    ],
)
def test_bad_machine_values_are_rejected(field: str, value: Any) -> None:
    with pytest.raises(MessageError) as info:
        build(**{field: value})
    assert info.value.field == field


def test_long_display_names_are_truncated_to_keep_lines_short() -> None:
    name, addr = parse_mailbox(("x" * 5000, "jo@example.org"), "to")
    assert (len(name), addr) == (MAX_NAME_CHARS, "jo@example.org")
    assert_wire_clean(build(to=("\u00e9" * 5000, "jo@example.org")).raw)


# --- subjects ---


@pytest.mark.parametrize(
    "subject",
    [
        "R\u00e9union \u00e0 9h \u2014 \u65e5\u672c\u8a9e \U0001f680",
        "Plain ascii subject that is quite a bit longer than seventy-eight characters, so folded",
        "\u00e9" * 300,
        "x" * 2000,  # one unbreakable word longer than a header line may be
        "Looks encoded =?utf-8?q?caf=C3=A9?= but is literal",
        "",
    ],
)
def test_subjects_round_trip(subject: str) -> None:
    out = build(subject=subject)
    assert_wire_clean(out.raw)
    assert parse(out.raw)["Subject"] == subject == out.subject


def test_reply_subject() -> None:
    assert reply_subject("Quick question") == "Re: Quick question"
    assert reply_subject("Re: Quick question") == "Re: Quick question"
    assert reply_subject("RE:Quick question") == "RE:Quick question"
    assert reply_subject("re [2]: x") == "re [2]: x"
    assert reply_subject("Fwd: x") == "Re: Fwd: x"
    assert reply_subject("Regarding x") == "Re: Regarding x"
    assert reply_subject("  ") == "Re:"


# --- threading, unsubscribe, ids ---


def test_first_reply_threading_headers() -> None:
    out = build(in_reply_to="orig.1@example.com", thread_id="t-1", subject="Re: Hello")
    msg = parse(out.raw)
    assert msg["In-Reply-To"] == "<orig.1@example.com>"
    assert msg["References"] == "<orig.1@example.com>"
    assert (out.in_reply_to, out.thread_id) == ("<orig.1@example.com>", "t-1")


def test_references_chain_ends_with_parent_and_folds() -> None:
    refs = [f"<message.number.{i}.with.a.long.id@mail.example.com>" for i in range(5)]
    out = build(in_reply_to=refs[-1], references=refs[:-1])
    assert_wire_clean(out.raw)
    msg = parse(out.raw)
    assert msg["References"].split() == refs
    assert msg["In-Reply-To"] == refs[-1]
    # Parent already last in the chain: not repeated.
    again = parse(build(in_reply_to=refs[-1], references=refs).raw)
    assert again["References"].split() == refs


def test_no_threading_headers_for_a_new_thread() -> None:
    out = build()
    assert out.in_reply_to is None and out.thread_id is None
    assert "in-reply-to" not in header_names(parse(out.raw))


def test_list_unsubscribe_one_click() -> None:
    msg = parse(build(unsubscribe_url=UNSUB).raw)
    assert msg["List-Unsubscribe"] == f"<{UNSUB}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # RFC 8058 one-click needs https; plain http (local setups) gets the link only.
    local = parse(build(unsubscribe_url="http://localhost:8000/u/1").raw)
    assert local["List-Unsubscribe"] == "<http://localhost:8000/u/1>"
    assert "list-unsubscribe-post" not in header_names(local)


def test_message_ids_unique_and_on_the_right_domain() -> None:
    ids = {build(html=None).message_id for _ in range(10_000)}
    assert len(ids) == 10_000
    assert all(i.startswith("<") and i.endswith("@example.com>") for i in ids)
    assert build(msgid_domain="mail.example.net").message_id.endswith("@mail.example.net>")


def test_normalize_message_id() -> None:
    assert normalize_message_id(" abc@x ", "f") == "<abc@x>"
    with pytest.raises(MessageError):
        normalize_message_id("<abc@x", "f")


# --- property: arbitrary text can never change the header set ---

EXPECTED_WITH_UNSUB = BASE_HEADERS | {"list-unsubscribe", "list-unsubscribe-post"}


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=200), subject=st.text(max_size=400), to_name=st.text(max_size=60))
def test_arbitrary_names_and_subjects_keep_exact_headers(
    name: str, subject: str, to_name: str
) -> None:
    out = build(
        sender=(name, "ana@example.com"),
        to=f'"{to_name}" <jo@example.org>',
        subject=subject,
        unsubscribe_url=UNSUB,
    )
    assert_wire_clean(out.raw)
    msg = parse(out.raw)
    assert header_names(msg) == EXPECTED_WITH_UNSUB
    assert msg["Subject"] == clean_header_text(subject)
    sender = msg["From"].addresses
    assert len(sender) == 1 and sender[0].addr_spec == "ana@example.com"
    assert rfc2047_display_name(out.raw, "From") == parse_mailbox((name, "a@b"), "x")[0]
    assert [a.addr_spec for a in msg["To"].addresses] == ["jo@example.org"]
