"""The HTTP API as readers' mail clients and other systems use it, and `seqlang serve`."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from runtime import schema as t
from runtime.config import EngineConfig
from runtime.events import INGESTED_KINDS
from runtime.http import MAX_BODY_BYTES, PIXEL_GIF, InboundEvent, create_app
from runtime.store import connect
from runtime.tracking import SendKey, sign

PUBLIC = "https://links.example.com"
TOKEN = "api-token"
CONFIG = EngineConfig(public_url=PUBLIC, link_secret=b"test-secret", api_token=TOKEN)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DOCS = "https://example.com/docs/intro"

WAITING = """
sequence flow {
  from "ana@example.com"
  EXIT
  welcome: email {
    subject "Welcome"
    html \"\"\"<html><body><p><a href="DOCS">Read the docs</a></p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>\"\"\"
  }
  if COND within 3 days {
    email { subject "Then" body "x {{ unsubscribe_url }}" }
  } else {
    email { subject "Else" body "x {{ unsubscribe_url }}" }
  }
}
""".replace("DOCS", DOCS)


@pytest.fixture
def app(engine: Any) -> Any:
    """The harness with the tracking config, and a client whose clock is the harness's."""
    engine.config = CONFIG
    engine.client = TestClient(create_app(engine.store, CONFIG, clock=lambda: engine.now))
    return engine


def start(app: Any, cond: str = "opened(welcome)", exit_when: str = "") -> dict[str, str]:
    """Deploy, enroll Ana, send the welcome; return its links by name, as local paths."""
    app.deploy(WAITING.replace("COND", cond).replace("EXIT", exit_when))
    app.enrollment = app.enroll()
    app.tick()
    [sent] = app.transport.sent
    message = BytesParser(policy=policy.default).parsebytes(sent.raw)
    html = message.get_body(("html",)).get_content()
    [pixel] = re.findall(r'<img src="([^"]+)"', html)
    click, unsubscribe = (h.replace("&amp;", "&") for h in re.findall(r'<a href="([^"]+)"', html))
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    return {name: local(url) for name, url in
            (("pixel", pixel), ("click", click), ("unsubscribe", unsubscribe))}


def local(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == PUBLIC
    return parts.path + (f"?{parts.query}" if parts.query else "")


def events(app: Any) -> list[tuple[str, str, str | None]]:
    return [(e.kind, e.step, e.url) for e in app.rows(t.events) if e.kind != "sent"]


def test_the_pixel_records_an_open_that_wakes_the_enrollment_into_the_then_branch(
        app: Any) -> None:
    links = start(app)
    assert app.row(app.enrollment).wait == "within"
    app.now += timedelta(hours=2)
    answer = app.client.get(links["pixel"])
    assert answer.status_code == 200 and answer.content == PIXEL_GIF and len(PIXEL_GIF) == 43
    assert answer.headers["content-type"] == "image/gif"
    assert "no-store" in answer.headers["cache-control"]
    assert events(app) == [("opened", "welcome", None)]
    assert app.row(app.enrollment).next_run_at == app.now
    app.tick()
    assert app.subjects() == ["Welcome", "Then"]


def test_a_click_records_its_url_and_redirects_to_it(app: Any) -> None:
    links = start(app, cond='clicked(welcome, "https://example.com/docs")')
    app.now += timedelta(hours=1)
    answer = app.client.get(links["click"], follow_redirects=False)
    assert answer.status_code == 302 and answer.headers["location"] == DOCS
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert events(app) == [("clicked", "welcome", DOCS)]
    app.tick()
    assert app.subjects() == ["Welcome", "Then"]


def test_tampered_links_record_nothing_and_never_redirect(app: Any) -> None:
    links = start(app, cond='clicked(welcome, "https://")')
    path, _ = links["click"].split("?")
    token = path.removeprefix("/c/")
    forged = [
        f"{path}?u={quote('https://evil.example.com/', safe='')}",
        f"{path}?u={quote(DOCS + '/../../phish', safe='')}",
        f"/c/{token[:-2]}xx?u={quote(DOCS, safe='')}",
        f"/c/{token.replace('.welcome.', '.other.')}?u={quote(DOCS, safe='')}",
        path,
    ]
    for url in forged:
        answer = app.client.get(url, follow_redirects=False)
        assert answer.status_code == 400, url
        assert "location" not in answer.headers
        assert answer.text == "This link is not valid."
    bad_pixel = app.client.get(links["pixel"].replace(".gif", "x.gif"))
    assert bad_pixel.status_code == 200 and bad_pixel.content == PIXEL_GIF
    assert events(app) == []
    due = app.row(app.enrollment).next_run_at
    assert due == app.now + timedelta(hours=72)


def test_get_unsubscribe_only_asks_and_post_unsubscribes_once_and_stops_every_send(
        app: Any) -> None:
    links = start(app, cond="replied", exit_when="exit when bounced")
    page = app.client.get(links["unsubscribe"])
    assert page.status_code == 200 and '<form method="post">' in page.text
    assert events(app) == [] and app.rows(t.suppressions) == []

    one_click = {"content": b"List-Unsubscribe=One-Click",
                 "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
    for _ in range(2):  # a mail provider's one-click POST, then the reader's own button
        answer = app.client.post(links["unsubscribe"], **one_click)
        assert answer.status_code == 200 and "unsubscribed" in answer.text
    assert events(app) == [("unsubscribed", "welcome", None)]
    assert [(s.email, s.reason) for s in app.rows(t.suppressions)] == [
        ("ana@example.com", "unsubscribed")]

    app.run_until(app.now + timedelta(days=5))  # `exit when bounced`: the walk goes on,
    assert app.subjects() == ["Welcome"]  # but nothing more is sent
    assert [kind for kind, _ in app.history(app.enrollment)] == [
        "sent", "waiting", "branch", "skipped", "completed"]


def test_a_forged_unsubscribe_link_is_refused(app: Any) -> None:
    links = start(app)
    forged = links["unsubscribe"][:-3] + "abc"
    assert app.client.get(forged).status_code == 400
    assert app.client.post(forged).status_code == 400
    assert app.rows(t.suppressions) == [] and events(app) == []


def test_events_need_the_api_token(app: Any, engine: Any) -> None:
    start(app)
    body = {"kind": "replied", "email": "ana@example.com"}
    assert app.client.post("/events", json=body).status_code == 401
    wrong = app.client.post("/events", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert app.client.get(f"/enrollments/{app.enrollment}").status_code == 401
    unset = TestClient(create_app(engine.store, EngineConfig(link_secret=b"x")))
    closed = unset.post("/events", json=body, headers=AUTH)
    assert closed.status_code == 503 and "SEQLANG_API_TOKEN" in closed.json()["detail"]
    assert events(app) == []


@pytest.mark.parametrize(("body", "field"), [
    ({"kind": "liked", "email": "ana@example.com"}, "kind"),
    ({"kind": "replied", "email": "ana@example.com", "at": "2026-03-02T10:00"}, "at"),
    ({"kind": "replied", "email": "ana@example.com", "sender": "x"}, "sender"),
    ({"kind": "replied", "email": "ana@example.com", "url": DOCS}, "url"),
])
def test_an_invalid_event_is_422_naming_the_field(app: Any, body: dict[str, Any],
                                                  field: str) -> None:
    answer = app.client.post("/events", json=body, headers=AUTH)
    assert answer.status_code == 422
    assert [error["loc"][-1] for error in answer.json()["detail"]] == [field]


@pytest.mark.parametrize("body", [
    {"kind": "replied"},
    {"kind": "replied", "email": "ana@example.com", "message_id": "<a@example.com>"},
    {"kind": "replied", "message_id": "<a@example.com>", "step": "welcome"},
])
def test_an_event_names_its_email_one_way(app: Any, body: dict[str, Any]) -> None:
    answer = app.client.post("/events", json=body, headers=AUTH)
    assert answer.status_code == 422
    assert "`email`" in answer.json()["detail"][0]["msg"]


def test_an_event_may_name_its_email_by_message_id(app: Any) -> None:
    start(app)
    [send] = app.rows(t.sends)
    answer = app.client.post("/events", headers=AUTH,
                             json={"kind": "replied", "message_id": send.message_id})
    assert answer.status_code == 200 and answer.json()["step"] == "welcome"
    unknown = app.client.post("/events", headers=AUTH,
                              json={"kind": "replied", "message_id": "<nope@example.com>"})
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "no email was sent with Message-ID <nope@example.com>"


def test_the_api_accepts_every_kind_the_engine_records() -> None:
    assert get_args(InboundEvent.model_fields["kind"].annotation) == INGESTED_KINDS


def test_an_event_for_an_unknown_contact_or_step_is_404(app: Any) -> None:
    start(app)
    stranger = app.client.post("/events", headers=AUTH,
                               json={"kind": "replied", "email": "bob@example.com"})
    assert stranger.status_code == 404
    assert stranger.json()["detail"] == "no email was sent to bob@example.com"
    step = app.client.post("/events", headers=AUTH,
                           json={"kind": "opened", "email": "ana@example.com", "step": "nope"})
    assert step.status_code == 404
    assert step.json()["detail"] == "no email was sent to ana@example.com from step nope"
    assert events(app) == []


def test_a_reply_posted_by_a_webhook_ends_the_enrollment(app: Any) -> None:
    start(app)
    answer = app.client.post("/events", headers=AUTH, json={
        "kind": "replied", "email": " Ana@Example.com ", "step": "welcome", "url": None,
        "at": "2026-03-02T15:30:00+00:00"})
    assert answer.status_code == 200
    assert answer.json() | {"event": 0} == {"event": 0, "enrollment": app.enrollment,
                                           "step": "welcome", "kind": "replied", "woken": 1}
    [reply] = [e for e in app.rows(t.events) if e.kind == "replied"]
    assert reply.occurred_at.isoformat() == "2026-03-02T15:30:00+00:00"
    app.tick()
    row = app.row(app.enrollment)
    assert row.state == "exited" and "replied" in row.reason
    assert app.subjects() == ["Welcome"]


def test_an_enrollment_is_explained_as_json(app: Any) -> None:
    start(app)
    answer = app.client.get(f"/enrollments/{app.enrollment}", headers=AUTH)
    assert answer.status_code == 200
    found = answer.json()
    assert (found["enrollment"], found["email"], found["state"]) == (
        app.enrollment, "ana@example.com", "active")
    assert [s["step"] for s in found["sends"]] == ["welcome"]
    assert found["why"].startswith("waiting for opened(welcome)")
    missing = app.client.get("/enrollments/999999", headers=AUTH)
    assert missing.status_code == 404 and missing.json()["detail"] == "no enrollment 999999"


def test_health_and_request_size_limits(app: Any, engine: Any) -> None:
    assert app.client.get("/healthz").text == "ok"
    big = b'{"kind": "replied", "email": "' + b"a" * MAX_BODY_BYTES + b'"}'
    declared = app.client.post("/events", content=big, headers=AUTH)
    streamed = app.client.post("/events", content=iter([big[:1000], big[1000:]]), headers=AUTH)
    assert declared.status_code == streamed.status_code == 413
    with pytest.raises(ValueError, match="secret"):
        create_app(engine.store, EngineConfig())


def test_with_the_database_down_readers_still_get_the_pixel_and_their_link() -> None:
    down = connect("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    client = TestClient(create_app(down, CONFIG))
    key = SendKey(1, "welcome", 1)
    click = client.get(f"/c/{sign('click', key, CONFIG.link_secret, DOCS)}",
                       params={"u": DOCS}, follow_redirects=False)
    assert (click.status_code, click.headers["location"]) == (302, DOCS)
    pixel = client.get(f"/o/{sign('open', key, CONFIG.link_secret)}.gif")
    assert (pixel.status_code, pixel.content) == (200, PIXEL_GIF)
    assert client.get("/healthz").status_code == 503


def test_a_genuine_link_to_an_email_not_on_record_still_redirects(app: Any) -> None:
    key = SendKey(999, "welcome", 1)
    answer = app.client.get(f"/c/{sign('click', key, CONFIG.link_secret, DOCS)}",
                            params={"u": DOCS}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (302, DOCS)
    assert events(app) == []


# ---- seqlang serve -------------------------------------------------------------------------


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_command(tmp_path: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "seqlang", "serve", "--port", str(port),
            "--database-url", f"sqlite:///{tmp_path / 'serve.db'}"]


@pytest.fixture
def server(tmp_path: Path, free_port: int) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(serve_command(tmp_path, free_port),
                               env={**os.environ, "SEQLANG_LINK_SECRET": "s3cret"},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield process, f"http://127.0.0.1:{free_port}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_answers_health_checks_and_stops_cleanly_on_sigint(
        server: tuple[subprocess.Popen[str], str]) -> None:
    process, base = server
    deadline = time.monotonic() + 30
    while True:
        try:
            health = httpx.get(f"{base}/healthz", timeout=1)
            break
        except httpx.TransportError:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "seqlang serve did not start in 30 s"
            time.sleep(0.1)
    assert (health.status_code, health.text) == (200, "ok")
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "Traceback" not in err


def test_serve_refuses_to_start_without_a_link_secret(tmp_path: Path, free_port: int) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SEQLANG_LINK_SECRET"}
    result = subprocess.run(serve_command(tmp_path, free_port), env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "SEQLANG_LINK_SECRET is not set" in result.stderr
