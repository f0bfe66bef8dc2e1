"""Webhook steps: posted after the walk, signed with HMAC-SHA256, retried with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runtime import schema as t
from runtime.config import EngineConfig

SECRET = b"s3cret"


class Receiver:
    """An HTTP endpoint on 127.0.0.1 answering with scripted statuses, recording requests."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    thread = threading.Thread(target=found.server.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def deploy_hook(engine, url: str) -> int:
    engine.config = EngineConfig(webhook_secret=SECRET)
    engine.deploy(f'sequence flow {{\n  from "ana@example.com"\n  crm: webhook "{url}"\n'
                  '  task "after the hook"\n}\n')
    return engine.enroll()


def test_a_webhook_is_signed_and_retried_until_delivered(engine, receiver):
    enrollment = deploy_hook(engine, receiver.url)
    receiver.statuses = [503]
    counts = engine.tick()
    assert (counts.completed, counts.webhooks_retrying) == (1, 1)
    [hook] = engine.rows(t.webhooks)
    assert (hook.state, hook.attempts, hook.last_error) == ("pending", 1,
                                                           "HTTP 503 Service Unavailable")
    delay = hook.next_attempt_at - engine.now
    assert 15 <= delay.total_seconds() <= 30
    assert engine.at(hook.next_attempt_at).webhooks_delivered == 1
    [hook] = engine.rows(t.webhooks)
    assert (hook.state, hook.attempts) == ("delivered", 2)
    assert len(receiver.requests) == 2
    headers, body = receiver.requests[-1]
    expected = hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    assert headers["X-Seqlang-Signature"] == f"sha256={expected}"
    assert headers["X-Seqlang-Delivery"] == str(hook.id)
    assert headers["Content-Type"] == "application/json"
    payload = json.loads(body)
    assert (payload["enrollment"], payload["step"], payload["sequence"]) == (
        enrollment, "crm", "flow")
    assert receiver.requests[0][1] == body  # a retry posts the same bytes


def test_a_client_error_fails_the_webhook_without_retrying(engine, receiver):
    deploy_hook(engine, receiver.url)
    receiver.statuses = [404]
    assert engine.tick().webhooks_failed == 1
    [hook] = engine.rows(t.webhooks)
    assert (hook.state, hook.last_error) == ("failed", "HTTP 404 Not Found (after 1 attempts)")
    engine.later(hours=2)
    assert len(receiver.requests) == 1


def test_an_unreachable_receiver_gives_up_after_the_last_attempt(engine):
    deploy_hook(engine, "http://127.0.0.1:9/nothing-listens-here")
    engine.config = EngineConfig(webhook_secret=SECRET, webhook_max_attempts=3)
    engine.tick()
    for _ in range(3):
        hook = engine.rows(t.webhooks)[0]
        if hook.state != "pending":
            break
        engine.at(hook.next_attempt_at)
    [hook] = engine.rows(t.webhooks)
    assert (hook.state, hook.attempts) == ("failed", 3)
    assert hook.last_error.startswith("cannot reach http://127.0.0.1:9/")
