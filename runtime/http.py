"""The engine's HTTP API: what readers' mail clients and other systems reach, served by
`seqlang serve`.

Readers' side, authenticated by the signed tokens of `runtime.tracking`:
  GET  /o/{token}.gif        the open pixel: records `opened`, always answers the GIF
  GET  /c/{token}?u=URL      a tracked click: records `clicked` with URL, redirects to it
  GET  /unsubscribe?t=TOKEN  a page with a confirm button, and nothing else: mail scanners
                             fetch every link of a message, so a GET must never unsubscribe
  POST /unsubscribe?t=TOKEN  RFC 8058 one-click (and the page's button): records
                             `unsubscribed`, which suppresses the address; idempotent

Systems' side, with `Authorization: Bearer $SEQLANG_API_TOKEN`:
  POST /events               an event from an inbound-mail or ESP webhook, about the latest
                             email to a contact (from a step, when given) or the email
                             with a Message-ID
  GET  /enrollments/{id}     what `seqlang status ID` explains, as JSON

And GET /healthz for load balancers. The reader must never pay for the tracking: the pixel
answers the GIF whatever its token, and a genuine click is redirected even when the database
cannot record it (that is logged instead). Events go through `runtime.service.record_event`,
exactly as `seqlang event` records them.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header, HTTPException, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime import schema as t
from runtime import service
from runtime.config import API_TOKEN_ENV, EngineConfig
from runtime.sends import idempotency_key
from runtime.store import Store
from runtime.tracking import SendKey, verify

__all__ = ["MAX_BODY_BYTES", "PIXEL_GIF", "InboundEvent", "create_app"]

log = logging.getLogger("seqlang.http")

MAX_BODY_BYTES = 64 * 1024
# A 1x1 transparent GIF: the smallest image every mail client displays.
PIXEL_GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
             b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
S = t.sends
UnsubscribeToken = Annotated[str, Query(alias="t")]


class InboundEvent(BaseModel):
    """The body of POST /events."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["opened", "clicked", "replied", "bounced", "unsubscribed"]
    # Which email: the contact's latest (from `step` when given), or the one with this
    # Message-ID, which is what most providers' webhooks and inbound replies carry.
    email: str | None = Field(default=None, min_length=3, max_length=t.EMAIL)
    step: str | None = Field(default=None, min_length=1, max_length=t.NAME)
    message_id: str | None = Field(default=None, min_length=3, max_length=998)
    url: str | None = Field(default=None, max_length=4096)
    at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_way_to_name_the_email(self) -> InboundEvent:
        if (self.email is None) == (self.message_id is None):
            raise ValueError("give either `email` (with an optional `step`) or `message_id`")
        if self.step is not None and self.email is None:
            raise ValueError("`step` goes with `email`")
        return self

    @field_validator("url")
    @classmethod
    def _only_clicks_carry_a_url(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url is not None and info.data.get("kind") != "clicked":
            raise ValueError("only `clicked` events carry a URL")
        return url


def create_app(store: Store, config: EngineConfig,
               clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The API over one store; refuses to run without the secret that verifies its links.

    `clock` stands in for the system clock when events are recorded (the tests' moved clock).
    """
    if not config.link_secret:
        raise ValueError("a link secret is required to verify tracking and unsubscribe links")
    secret = config.link_secret
    app = FastAPI(title="seqlang", docs_url=None, redoc_url=None)
    app.add_middleware(_BodyLimit, limit=MAX_BODY_BYTES)
    authorized = _bearer(config.api_token)

    def now() -> datetime | None:
        return clock() if clock is not None else None

    @app.get("/o/{token}.gif")
    def pixel(token: str) -> Response:
        key = verify(token, "open", secret)
        if key is not None:
            _record_quietly(store, key, "opened", now=now())
        return Response(PIXEL_GIF, media_type="image/gif",
                        headers={"Cache-Control": "no-store, max-age=0"})

    @app.get("/c/{token}")
    def click(token: str, u: str = "") -> Response:
        key = verify(token, "click", secret, u)
        if key is None:
            return PlainTextResponse("This link is not valid.", status_code=400)
        _record_quietly(store, key, "clicked", u, now())
        # The tracked URL names the enrollment and step: keep it from the target site.
        return RedirectResponse(u, status_code=302, headers={"Referrer-Policy": "no-referrer"})

    @app.get("/unsubscribe")
    def unsubscribe_page(token: UnsubscribeToken = "") -> HTMLResponse:
        if verify(token, "unsubscribe", secret) is None:
            return _invalid_unsubscribe()
        return HTMLResponse(_page(
            "Unsubscribe",
            "<p>Stop receiving these emails?</p>"
            '<form method="post"><input type="hidden" name="List-Unsubscribe" '
            'value="One-Click"><button type="submit">Unsubscribe</button></form>'),
            headers={"Cache-Control": "no-store"})

    @app.post("/unsubscribe")
    def unsubscribe(token: UnsubscribeToken = "") -> HTMLResponse:
        key = verify(token, "unsubscribe", secret)
        if key is None:
            return _invalid_unsubscribe()
        send_id = _send_of(store, key)
        if send_id is None:
            return HTMLResponse(_page("Unsubscribe", "<p>This email is not on record.</p>"),
                                status_code=404)
        if not _unsubscribed(store, send_id):
            service.record_event(store, "unsubscribed", send_id=send_id, now=now())
        return HTMLResponse(_page("Unsubscribed",
                                  "<p>You are unsubscribed and will get no more of these "
                                  "emails.</p>"))

    @app.post("/events", dependencies=[Depends(authorized)])
    def events(event: InboundEvent) -> dict[str, Any]:
        try:
            recorded = service.record_event(store, event.kind, contact=event.email,
                                            step=event.step, message_id=event.message_id,
                                            url=event.url, at=event.at, now=now())
        except service.EventError as error:  # the body is valid: no such email was sent
            raise HTTPException(404, str(error)) from None
        return {"event": recorded.id, "enrollment": recorded.enrollment_id,
                "step": recorded.step, "kind": recorded.kind, "woken": recorded.woken}

    @app.get("/enrollments/{enrollment_id}", dependencies=[Depends(authorized)])
    def enrollment(enrollment_id: int) -> dict[str, Any]:
        try:
            return service.explain(store, enrollment_id).to_json()
        except LookupError as error:
            raise HTTPException(404, str(error.args[0])) from None

    @app.get("/healthz")
    def healthz() -> Response:
        try:
            with store.read() as conn:
                conn.execute(sa.select(1))
        except SQLAlchemyError:
            log.exception("health check: the database does not answer")
            return PlainTextResponse("database unavailable", status_code=503)
        return PlainTextResponse("ok")

    return app


def _bearer(token: str | None) -> Any:
    """A dependency that lets through only `Authorization: Bearer <token>`."""
    expected = f"Bearer {token}".encode() if token else None

    def authorized(authorization: Annotated[str | None, Header()] = None) -> None:
        if expected is None:
            raise HTTPException(503, f"{API_TOKEN_ENV} is not set on the server")
        if authorization is None or not hmac.compare_digest(
                authorization.encode("utf-8", "surrogateescape"), expected):
            raise HTTPException(401, "a valid `Authorization: Bearer` token is required",
                                headers={"WWW-Authenticate": "Bearer"})

    return authorized


def _record_quietly(store: Store, key: SendKey, kind: str, url: str | None = None,
                    now: datetime | None = None) -> None:
    """Record a reader's open or click, logging instead of failing the reader's request."""
    try:
        send_id = _send_of(store, key)
        if send_id is None:
            log.warning("%s for send %s, which is not on record", kind, key)
            return
        service.record_event(store, kind, send_id=send_id, url=url, now=now)
    except (SQLAlchemyError, service.EventError):
        log.exception("could not record %s for send %s", kind, key)


def _send_of(store: Store, key: SendKey) -> int | None:
    with store.read() as conn:
        return conn.execute(sa.select(S.c.id).where(
            S.c.idempotency_key == idempotency_key(key.enrollment, key.step, key.visit))
        ).scalar()


def _unsubscribed(store: Store, send_id: int) -> bool:
    E = t.events
    with store.read() as conn:
        return conn.execute(sa.select(sa.exists().where(
            E.c.send_id == send_id, E.c.kind == "unsubscribed"))).scalar_one()


def _invalid_unsubscribe() -> HTMLResponse:
    return HTMLResponse(_page("Unsubscribe", "<p>This unsubscribe link is not valid. Reply to "
                                             "the email to ask the sender to stop.</p>"),
                        status_code=400)


def _page(title: str, body: str) -> str:
    return ("<!doctype html><html><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title></head><body>{body}</body></html>")


class _BodyLimit:
    """Refuses request bodies over `limit` bytes (413), whether announced by Content-Length or
    streamed in chunks, before any endpoint reads them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(scope, receive, send, self.limit)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.limit:
                await _too_large(scope, receive, send, self.limit)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = PlainTextResponse(f"request body over {limit} bytes", status_code=413)
    await response(scope, receive, send)
