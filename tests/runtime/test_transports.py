"""Transports: outbox files, a real local SMTP server (aiosmtpd), Gmail via the real client
library over mocked HTTP, the memory recorder, and URL parsing. No network access."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from googleapiclient.http import HttpMockSequence

from runtime.message import OutgoingMessage, build_message
from runtime.transports import (
    MemoryTransport,
    OutboxTransport,
    PermanentSendError,
    SendReceipt,
    SmtpTransport,
    TransientSendError,
    Transport,
    parse_transport_url,
)
from runtime.transports.gmail import GmailTransport
from runtime.transports.outbox import INDEX_NAME


def make_msg(to: str = "jo@example.org", subject: str = "Hello", **kw: Any) -> OutgoingMessage:
    return build_message(
        sender="Ana Silva <ana@example.com>",
        to=to,
        subject=subject,
        text="Hi\n.\nbye",
        html="<p>Hi</p>",
        unsubscribe_url="https://app.example.com/u/1",
        **kw,
    )


# --- outbox ---


def test_outbox_writes_eml_files_and_index(tmp_path: Path) -> None:
    box = tmp_path / "out"
    transport = OutboxTransport(box)
    msgs = [make_msg(subject=f"S{i} caf\u00e9") for i in range(3)]
    with transport:
        receipts = [transport.send(m) for m in msgs]

    files = sorted(p.name for p in box.glob("*.eml"))
    assert files == [r.provider_id for r in receipts]  # names sort in sending order
    assert not [p for p in box.iterdir() if p.name.startswith(".")]  # no temp files left
    index = [json.loads(line) for line in (box / INDEX_NAME).read_text().splitlines()]
    assert [e["message_id"] for e in index] == [m.message_id for m in msgs]
    for entry, msg, receipt in zip(index, msgs, receipts, strict=True):
        assert set(entry) == {"at", "message_id", "to", "subject", "file"}
        assert (entry["to"], entry["subject"], entry["file"]) == (
            "jo@example.org",
            msg.subject,
            receipt.provider_id,
        )
        assert entry["at"].endswith("Z")
        raw = (box / entry["file"]).read_bytes()
        assert raw == msg.raw
        assert message_from_bytes(raw)["Message-ID"] == msg.message_id
        assert receipt == SendReceipt(msg.message_id, msg.message_id, entry["file"])


def test_outbox_workers_sharing_a_folder_each_append_whole_lines(tmp_path: Path) -> None:
    first, second = OutboxTransport(tmp_path), OutboxTransport(tmp_path)
    msgs = [make_msg(subject=f"S{i}") for i in range(6)]
    with first, second:
        for i, msg in enumerate(msgs):
            (first if i % 2 else second).send(msg)
    index = [json.loads(line) for line in (tmp_path / INDEX_NAME).read_text().splitlines()]
    assert [e["message_id"] for e in index] == [m.message_id for m in msgs]


def test_outbox_batch_after_close_recreates_a_removed_folder(tmp_path: Path) -> None:
    box = tmp_path / "out"
    transport = OutboxTransport(box)
    with transport:
        transport.send(make_msg())
    for path in box.iterdir():
        path.unlink()
    box.rmdir()
    with transport:
        receipt = transport.send(make_msg(subject="again"))
    [line] = (box / INDEX_NAME).read_text().splitlines()
    assert json.loads(line)["file"] == receipt.provider_id
    assert (box / receipt.provider_id).exists()


def test_outbox_receipt_keeps_the_thread_of_a_reply(tmp_path: Path) -> None:
    reply = make_msg(in_reply_to="<root@example.com>", thread_id="<root@example.com>")
    assert OutboxTransport(tmp_path).send(reply).thread_id == "<root@example.com>"


def test_outbox_write_failure_is_transient(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(TransientSendError, match="outbox"):
        OutboxTransport(blocker / "out").send(make_msg())


# --- SMTP against a real local server ---


class Recorder:
    """aiosmtpd handler: records deliveries, scripts refusals by recipient local part."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, list[str], bytes]] = []
        self.connections = 0
        self.busy_once = True

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("nouser@"):
            return "550 5.1.1 <nouser@example.org>: Recipient address rejected"
        if address.startswith("greylist@"):
            return "451 4.7.1 Greylisted, please try again later"
        if address.startswith("busy@") and self.busy_once:
            self.busy_once = False
            return "421 4.7.0 Too many messages on this connection"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        self.delivered.append((str(envelope.mail_from), list(envelope.rcpt_tos), raw))
        return f"250 2.0.0 Ok: queued as Q{len(self.delivered)}"


class CountingController(Controller):
    def factory(self) -> SMTP:
        self.handler.connections += 1  # one protocol instance per TCP connection
        return super().factory()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(**smtp_kwargs: Any) -> tuple[CountingController, Recorder]:
    handler = Recorder()
    controller = CountingController(handler, hostname="127.0.0.1", port=free_port(), **smtp_kwargs)
    controller.start()
    handler.connections = 0  # start() makes one probe connection
    return controller, handler


@pytest.fixture
def smtp_server() -> Iterator[tuple[CountingController, Recorder]]:
    controller, handler = start_server()
    yield controller, handler
    controller.stop()


def client(controller: Controller, **kw: Any) -> SmtpTransport:
    return SmtpTransport(
        "127.0.0.1", controller.port, local_hostname="client.test", timeout=5, **kw
    )


def test_smtp_batch_uses_one_connection(smtp_server: tuple[CountingController, Recorder]) -> None:
    controller, handler = smtp_server
    msgs = [make_msg(to=f"user{i}@example.org") for i in range(5)]
    with client(controller) as transport:
        receipts = [transport.send(m) for m in msgs]
    assert handler.connections == 1
    assert [d[1] for d in handler.delivered] == [[m.to] for m in msgs]
    assert all(d[0] == "ana@example.com" for d in handler.delivered)
    for (_, _, raw), msg in zip(handler.delivered, msgs, strict=True):
        parsed = message_from_bytes(raw)
        assert parsed["Message-ID"] == msg.message_id
        plain = parsed.get_payload()[0].get_payload(decode=True)
        assert plain == b"Hi\r\n.\r\nbye"  # dot-stuffing undone by the server
    assert receipts[0].provider_id == "2.0.0 Ok: queued as Q1"
    assert receipts[0].thread_id == msgs[0].message_id


def test_smtp_rejections_are_classified_and_connection_survives(
    smtp_server: tuple[CountingController, Recorder],
) -> None:
    controller, handler = smtp_server
    with client(controller) as transport:
        with pytest.raises(PermanentSendError, match="550") as permanent:
            transport.send(make_msg(to="nouser@example.org"))
        assert "nouser@example.org" in permanent.value.reason
        with pytest.raises(TransientSendError, match="451"):
            transport.send(make_msg(to="greylist@example.org"))
        transport.send(make_msg(to="ok@example.org"))  # RSET left the session usable
    assert handler.connections == 1
    assert [d[1] for d in handler.delivered] == [["ok@example.org"]]


def test_smtp_reconnects_once_after_421(smtp_server: tuple[CountingController, Recorder]) -> None:
    controller, handler = smtp_server
    with client(controller) as transport:
        transport.send(make_msg(to="busy@example.org"))
    assert handler.connections == 2
    assert [d[1] for d in handler.delivered] == [["busy@example.org"]]


def test_smtp_reconnects_after_server_drops_idle_connection() -> None:
    controller, handler = start_server(timeout=0.2)
    try:
        with client(controller) as transport:
            transport.send(make_msg(to="a@example.org"))
            time.sleep(0.5)  # the server closes the idle connection
            transport.send(make_msg(to="b@example.org"))
    finally:
        controller.stop()
    assert handler.connections == 2
    assert len(handler.delivered) == 2


def test_smtp_connection_refused_is_transient() -> None:
    transport = SmtpTransport("127.0.0.1", free_port(), local_hostname="client.test", timeout=2)
    with pytest.raises(TransientSendError, match="connect"):
        transport.send(make_msg())


def check_login(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"ana", b"s3cr:t")
    # handled=False: let aiosmtpd send the 535 itself (its default assumes we replied).
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def auth_server() -> Iterator[tuple[CountingController, Recorder]]:
    controller, handler = start_server(
        authenticator=check_login, auth_required=True, auth_require_tls=False
    )
    yield controller, handler
    controller.stop()


AUTH_WITHOUT_TLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@AUTH_WITHOUT_TLS
def test_smtp_auth_over_plain(auth_server: tuple[CountingController, Recorder]) -> None:
    controller, handler = auth_server
    url = f"smtp://ana:s3cr%3At@127.0.0.1:{controller.port}?helo=client.test&timeout=5"
    with parse_transport_url(url) as transport:
        transport.send(make_msg())
    assert len(handler.delivered) == 1


@AUTH_WITHOUT_TLS
def test_smtp_auth_failure_and_missing_auth(
    auth_server: tuple[CountingController, Recorder],
) -> None:
    controller, handler = auth_server
    with pytest.raises(PermanentSendError, match="AUTH: 535"):
        client(controller, username="ana", password="wrong").send(make_msg())
    with pytest.raises(PermanentSendError, match="MAIL FROM: 530"):
        client(controller).send(make_msg())
    assert handler.delivered == []


def test_smtp_url_parsing() -> None:
    t = parse_transport_url("smtp://us%40er:p%2Fw@mail.example.com:2525?starttls=1&timeout=5")
    assert isinstance(t, SmtpTransport)
    assert (t.host, t.port, t.username, t.password) == ("mail.example.com", 2525, "us@er", "p/w")
    assert (t.starttls, t.implicit_tls, t.timeout) == (True, False, 5.0)
    s = parse_transport_url("smtps://relay.example.com")
    assert isinstance(s, SmtpTransport)
    assert (s.port, s.implicit_tls, s.username) == (465, True, None)
    plain = parse_transport_url("smtp://localhost")
    assert isinstance(plain, SmtpTransport)
    assert plain.port == 25
    for bad in (
        "smtp://host?starttls=maybe",
        "smtp://host?startls=1",
        "smtps://host?starttls=1",
        "smtp://host:notaport",
        "smtp:///nohost",
        "smpt://ana:hunter2@host",
    ):
        with pytest.raises(ValueError) as info:
            parse_transport_url(bad)
        assert "hunter2" not in str(info.value)
    with pytest.raises(ValueError) as info:
        parse_transport_url("smtp://ana:hunter2@host:99999")
    assert "hunter2" not in str(info.value)


# --- Gmail through the real client library ---


def gmail_error(status: int, reason: str, **headers: str) -> tuple[dict[str, str], str]:
    body = {
        "error": {
            "code": status,
            "message": f"{reason} happened",
            "errors": [{"reason": reason, "message": "x", "domain": "global"}],
        }
    }
    return {"status": str(status), **headers}, json.dumps(body)


def test_gmail_send_returns_ids_and_posts_our_raw_message() -> None:
    http = HttpMockSequence(
        [
            ({"status": "200"}, json.dumps({"id": "m1", "threadId": "t1"})),
            ({"status": "200"}, json.dumps({"id": "m2", "threadId": "t1"})),
        ]
    )
    first = make_msg()
    reply = make_msg(subject="Re: Hello", in_reply_to=first.message_id, thread_id="t1")
    with GmailTransport(http) as transport:
        r1 = transport.send(first)
        r2 = transport.send(reply)
    assert r1 == SendReceipt(first.message_id, "t1", "m1")
    assert r2 == SendReceipt(reply.message_id, "t1", "m2")

    (uri1, method, body1, _), (_, _, body2, _) = http.request_sequence
    assert method == "POST" and uri1.startswith(
        "https://gmail.googleapis.com/gmail/v1/users/me/messages/send"
    )
    sent1, sent2 = json.loads(body1), json.loads(body2)
    assert base64.urlsafe_b64decode(sent1["raw"]) == first.raw
    assert "threadId" not in sent1
    assert base64.urlsafe_b64decode(sent2["raw"]) == reply.raw
    assert sent2["threadId"] == "t1"
    assert message_from_bytes(base64.urlsafe_b64decode(sent2["raw"]))["In-Reply-To"] == (
        first.message_id
    )


@pytest.mark.parametrize(
    ("response", "expected", "retry_after"),
    [
        (gmail_error(429, "rateLimitExceeded", **{"retry-after": "7"}), TransientSendError, 7.0),
        (gmail_error(403, "userRateLimitExceeded"), TransientSendError, None),
        (gmail_error(500, "backendError"), TransientSendError, None),
        (gmail_error(503, "backendError"), TransientSendError, None),
        (gmail_error(400, "invalidArgument"), PermanentSendError, None),
        (gmail_error(403, "insufficientPermissions"), PermanentSendError, None),
        (gmail_error(404, "notFound"), PermanentSendError, None),
    ],
)
def test_gmail_errors_are_classified(
    response: tuple[dict[str, str], str], expected: type[Exception], retry_after: float | None
) -> None:
    transport = GmailTransport(HttpMockSequence([response]))
    with pytest.raises(expected) as info:
        transport.send(make_msg())
    assert response[0]["status"] in str(info.value)
    if isinstance(info.value, TransientSendError):
        assert info.value.retry_after == retry_after


class BrokenHttp:
    """An httplib2-compatible object whose network is down."""

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionResetError("connection reset by peer")


def test_gmail_network_failure_is_transient() -> None:
    with pytest.raises(TransientSendError, match="unreachable"):
        GmailTransport(BrokenHttp()).send(make_msg())


def test_gmail_url_with_credentials_file(tmp_path: Path) -> None:
    creds = tmp_path / "token.json"
    creds.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "id.apps.googleusercontent.com",
                "client_secret": "secret",
                "refresh_token": "refresh",
            }
        )
    )
    assert isinstance(parse_transport_url(f"gmail:{creds}"), GmailTransport)
    service_account = tmp_path / "sa.json"
    service_account.write_text(json.dumps({"type": "service_account"}))
    with pytest.raises(ValueError, match="user="):
        parse_transport_url(f"gmail:{service_account}")
    with pytest.raises(ValueError):
        parse_transport_url(f"gmail:{creds}?mailbox=x")
    with pytest.raises(ValueError):
        parse_transport_url("gmail:")
    with pytest.raises(ValueError, match="cannot read"):
        parse_transport_url(f"gmail:{tmp_path / 'missing.json'}")


# --- memory and the factory ---


def test_memory_transport_records_and_scripts_failures() -> None:
    transport = MemoryTransport()
    transport.fail_next(TransientSendError("try later"), PermanentSendError("no"))
    msg = make_msg()
    with transport:
        with pytest.raises(TransientSendError):
            transport.send(msg)
        with pytest.raises(PermanentSendError):
            transport.send(msg)
        receipt = transport.send(msg)
    assert transport.sent == [msg]
    assert transport.batches == 1
    assert receipt == SendReceipt(msg.message_id, msg.message_id, "1")


def test_parse_transport_url_schemes(tmp_path: Path) -> None:
    default = parse_transport_url()
    assert isinstance(default, OutboxTransport) and default.folder == Path("outbox")
    box = parse_transport_url(f"outbox:{tmp_path / 'x'}")
    assert isinstance(box, OutboxTransport) and box.folder == tmp_path / "x"
    assert isinstance(parse_transport_url("memory:"), MemoryTransport)
    for bad in ("memory:extra", "carrier-pigeon://x", "no-scheme"):
        with pytest.raises(ValueError):
            parse_transport_url(bad)


def test_all_transports_satisfy_the_protocol() -> None:
    for transport in (
        MemoryTransport(),
        OutboxTransport("x"),
        SmtpTransport("localhost"),
        GmailTransport(None),
    ):
        assert isinstance(transport, Transport)
