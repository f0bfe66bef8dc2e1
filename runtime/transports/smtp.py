"""Send through an SMTP server, one connection per batch.

Connection setup (TCP, TLS, EHLO, AUTH) costs several round trips, far more than a message, so
``open()`` connects once and every ``send`` in the batch reuses it. Servers drop idle or
long-lived connections; ``send`` reconnects once on a disconnect before calling it transient.

The transaction is driven with MAIL/RCPT/DATA rather than ``sendmail`` so that each reply code
is classified where it arrives (a 5xx to RCPT is a permanent rejection of this address, a 4xx a
greylisting or rate limit) and so the final DATA reply, which usually carries the server's queue
id, can be kept as the receipt's ``provider_id``.

Credentials given without ``starttls``/``smtps`` go over the wire in clear; that is allowed for
local relays and test servers, and is the URL author's choice.
"""

from __future__ import annotations

import smtplib
import ssl
from typing import NoReturn
from urllib.parse import parse_qs, unquote, urlsplit

from runtime.message import OutgoingMessage
from runtime.transports.base import (
    PermanentSendError,
    SendError,
    SendReceipt,
    TransientSendError,
    Transport,
    thread_root,
)

__all__ = ["SmtpTransport"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_URL_OPTIONS = {"starttls", "timeout", "helo"}


class SmtpTransport(Transport):
    """SMTP with optional STARTTLS (``starttls``) or implicit TLS (``implicit_tls``) and AUTH."""

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        implicit_tls: bool = False,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``local_hostname`` is the EHLO name; when None smtplib asks DNS for this host's FQDN,
        which can be slow on badly configured machines."""
        if starttls and implicit_tls:
            raise ValueError("choose STARTTLS or implicit TLS, not both")
        self.host = host
        self.port = port or (465 if implicit_tls else 587 if starttls else 25)
        self.username = username
        self.password = password
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpTransport:
        """``smtp://user:pass@host:port?starttls=1&timeout=10&helo=name`` or ``smtps://...``.
        User and password are percent-decoded; unknown options are refused (typos would
        otherwise silently send in clear). Errors never repeat the URL: it may hold a password.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("expected smtp://[user:pass@]host[:port] or smtps://...")
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = set(query) - _URL_OPTIONS
        if unknown:
            raise ValueError(f"unknown SMTP URL option(s): {', '.join(sorted(unknown))}")
        try:
            port = parts.port
            timeout = float(query.get("timeout", ["30"])[-1])
        except ValueError as exc:
            raise ValueError(f"bad SMTP URL: {exc}") from None
        return cls(
            parts.hostname,
            port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            starttls=_flag(query.get("starttls", ["0"])[-1]),
            implicit_tls=scheme == "smtps",
            timeout=timeout,
            local_hostname=query.get("helo", [""])[-1] or None,
        )

    def open(self) -> None:
        self._connection()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def send(self, msg: OutgoingMessage) -> SendReceipt:
        try:
            return self._transaction(self._connection(), msg)
        except smtplib.SMTPServerDisconnected:
            self._drop()
        try:
            return self._transaction(self._connection(), msg)
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            raise TransientSendError(f"SMTP server {self.host} disconnected: {exc}") from exc

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is None:
            self._smtp = self._connect()
        return self._smtp

    def _connect(self) -> smtplib.SMTP:
        context = self._ssl_context or ssl.create_default_context()
        stage = f"connect to {self.host}:{self.port}"
        try:
            if self.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    local_hostname=self.local_hostname,
                    timeout=self.timeout,
                    context=context,
                )
            else:
                smtp = smtplib.SMTP(
                    self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
                )
        except (OSError, smtplib.SMTPException) as exc:
            raise _exception_error(stage, exc) from exc
        try:
            stage = "EHLO"
            smtp.ehlo()
            if self.starttls:
                stage = "STARTTLS"
                smtp.starttls(context=context)
                smtp.ehlo()
            if self.username is not None:
                stage = "AUTH"
                smtp.login(self.username, self.password or "")
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise _exception_error(stage, exc) from exc
        return smtp

    def _transaction(self, smtp: smtplib.SMTP, msg: OutgoingMessage) -> SendReceipt:
        """One MAIL/RCPT/DATA exchange. SMTPServerDisconnected propagates so ``send`` can
        reconnect; everything else becomes a SendError."""
        try:
            code, reply = smtp.mail(msg.sender)
            self._expect("MAIL FROM", code, reply, 250)
            code, reply = smtp.rcpt(msg.to)
            self._expect(f"RCPT TO <{msg.to}>", code, reply, 250, 251)
            code, reply = smtp.data(msg.raw)
            self._expect("DATA", code, reply, 250)
        except (smtplib.SMTPServerDisconnected, SendError):
            raise
        except smtplib.SMTPDataError as exc:  # DATA itself refused (no 354)
            self._fail("DATA", exc.smtp_code, exc.smtp_error)
        except (OSError, smtplib.SMTPException) as exc:
            self._drop()
            raise _exception_error("SMTP", exc) from exc
        return SendReceipt(
            message_id=msg.message_id,
            thread_id=thread_root(msg),
            provider_id=reply.decode("utf-8", "replace"),
        )

    def _expect(self, stage: str, code: int, reply: bytes | str, *ok: int) -> None:
        if code not in ok:
            self._fail(stage, code, reply)

    def _fail(self, stage: str, code: int, reply: bytes | str) -> NoReturn:
        """Raise for a refusal, leaving the connection usable for the next message.

        421 means the server is closing the channel (idle timeout, too many messages on one
        connection); it is raised as a disconnect so ``send`` retries on a fresh connection.
        """
        if code == 421:
            raise smtplib.SMTPServerDisconnected(_code_error(stage, code, reply).reason)
        if self._smtp is not None:
            try:
                self._smtp.rset()
            except (OSError, smtplib.SMTPException):
                self._drop()
        raise _code_error(stage, code, reply)

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()


def _code_error(stage: str, code: int, reply: bytes | str) -> SendError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    reason = f"{stage}: {code} {text}".strip()
    return PermanentSendError(reason) if 500 <= code <= 599 else TransientSendError(reason)


def _exception_error(stage: str, exc: BaseException) -> SendError:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _code_error(stage, exc.smtp_code, exc.smtp_error)
    reason = f"{stage}: {str(exc) or type(exc).__name__}"
    # A server without STARTTLS/AUTH, or a certificate that does not verify, will not fix itself.
    if isinstance(exc, smtplib.SMTPNotSupportedError | ssl.SSLCertVerificationError):
        return PermanentSendError(reason)
    return TransientSendError(reason)


def _flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"expected a boolean (1/0, true/false), got {value!r}")
