"""Send through the Gmail API (``users.messages.send``) as the sequence's mailbox.

Going through the API rather than Gmail's SMTP gives us the real ``threadId`` back, which is
what makes a later "reply to" land in the same Gmail thread on the sender's side too.

The service is built with the discovery document shipped inside google-api-python-client
(``static_discovery=True``), so building it never touches the network. Retries are left to the
engine (``execute(num_retries=0)``): it owns backoff and must see every failure to record it.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

import httplib2
from google.auth.exceptions import RefreshError
from google.auth.exceptions import TransportError as AuthTransportError
from google.oauth2 import service_account
from google.oauth2.credentials import Credentials
from google_auth_httplib2 import AuthorizedHttp
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from runtime.message import OutgoingMessage
from runtime.transports.base import (
    PermanentSendError,
    SendError,
    SendReceipt,
    TransientSendError,
    Transport,
)

__all__ = ["SCOPES", "GmailTransport"]

SCOPES = ["https://www.googleapis.com/auth/gmail.send"]
# Gmail reports per-user rate limits as 403 with these reasons; they clear with backoff.
_RATE_LIMIT_REASONS = {"ratelimitexceeded", "userratelimitexceeded"}


class GmailTransport(Transport):
    """Sends via ``users().messages().send``; ``http`` is an authorized httplib2-compatible
    object (``from_credentials_file`` makes one; tests pass ``HttpMockSequence``)."""

    def __init__(self, http: Any, *, user_id: str = "me") -> None:
        self._http = http
        self.user_id = user_id
        self._service: Any = None

    @classmethod
    def from_credentials_file(
        cls, path: str | os.PathLike[str], *, user: str | None = None, timeout: float = 30.0
    ) -> GmailTransport:
        """Load an OAuth "authorized_user" file, or a "service_account" file used with
        domain-wide delegation on behalf of ``user`` (a service account has no mailbox)."""
        try:
            with open(path, encoding="utf-8") as f:
                info = json.load(f)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read Gmail credentials {os.fspath(path)}: {exc}") from exc
        kind = info.get("type") if isinstance(info, dict) else None
        if kind == "service_account":
            if not user:
                raise ValueError("a service-account credentials file needs user=<mailbox>")
            credentials: Any = service_account.Credentials.from_service_account_info(
                info, scopes=SCOPES
            ).with_subject(user)
        elif kind == "authorized_user":
            credentials = Credentials.from_authorized_user_info(info, scopes=SCOPES)
        else:
            raise ValueError(
                f"{os.fspath(path)}: expected a 'service_account' or 'authorized_user' "
                f"credentials file, got type {kind!r}"
            )
        http = AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout))
        return cls(http, user_id=user or "me")

    def open(self) -> None:
        if self._service is None:
            self._service = build("gmail", "v1", http=self._http, static_discovery=True)

    def send(self, msg: OutgoingMessage) -> SendReceipt:
        self.open()
        body = {"raw": base64.urlsafe_b64encode(msg.raw).decode("ascii")}
        if msg.thread_id:
            body["threadId"] = msg.thread_id
        request = self._service.users().messages().send(userId=self.user_id, body=body)
        try:
            response = request.execute()
        except HttpError as exc:
            raise _http_error(exc) from exc
        except RefreshError as exc:  # revoked or invalid credentials
            raise PermanentSendError(f"Gmail credentials rejected: {exc}") from exc
        except (AuthTransportError, httplib2.HttpLib2Error, OSError) as exc:
            raise TransientSendError(f"Gmail API unreachable: {exc}") from exc
        return SendReceipt(
            message_id=msg.message_id,
            thread_id=response["threadId"],
            provider_id=response["id"],
        )


def _http_error(exc: HttpError) -> SendError:
    status = exc.status_code or 0
    reason = f"Gmail API {status}: {exc.reason}"
    if status == 429 or status >= 500:
        return TransientSendError(reason, retry_after=_retry_after(exc))
    if status == 403 and _error_reasons(exc) & _RATE_LIMIT_REASONS:
        return TransientSendError(reason, retry_after=_retry_after(exc))
    return PermanentSendError(reason)


def _error_reasons(exc: HttpError) -> set[str]:
    """Reason codes from both Google error shapes (``errors[].reason`` and the newer
    ``details[].reason``), normalised so ``RATE_LIMIT_EXCEEDED`` matches ``rateLimitExceeded``."""
    try:
        error = json.loads(exc.content).get("error")
    except (ValueError, TypeError, AttributeError):
        return set()
    if not isinstance(error, dict):
        return set()
    items = [*error.get("errors", []), *error.get("details", [])]
    return {
        str(item["reason"]).replace("_", "").lower()
        for item in items
        if isinstance(item, dict) and "reason" in item
    }


def _retry_after(exc: HttpError) -> float | None:
    value = exc.resp.get("retry-after") if exc.resp is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:  # the HTTP-date form; the engine's own backoff applies
        return None
