"""Signed links in outgoing emails: the open pixel, tracked clicks, and unsubscribe.

Every link names one send by its key (enrollment, step, visit), the same key that makes a send
unique in the store; the key exists before the send is reserved, so links can be written into
the email while it is composed. A token is that key in the clear plus an HMAC-SHA256 (keyed by
SEQLANG_LINK_SECRET) over what the link may do: a purpose, the key and, for a click, the exact
target URL. `seqlang serve` therefore records events only for emails the engine wrote, and
redirects only to URLs the engine signed: a click link is never an open redirect.

Without a secret nothing could be verified later, so emails leave without pixel or click
links (their text is left as the template wrote it) and `seqlang serve` refuses to start.
Changing the secret breaks the links of emails already sent.

Rewriting reads the HTML with `html.parser`, the same reader the text alternative comes from,
so links inside comments, scripts and attribute values are seen for what they are. Only the
start tags of `<a>` elements whose `href` is an absolute http(s) URL are rebuilt; every other
byte of the email stays as rendered. Links into the public base URL itself (the unsubscribe
page) are left alone: tracking them would record nothing useful.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from typing import Literal
from urllib.parse import quote, urlencode

from runtime.config import LINK_SECRET_ENV, EngineConfig
from seqlang import nodes as n

__all__ = [
    "SendKey",
    "click_url",
    "open_url",
    "sign",
    "track_html",
    "unsubscribe_url",
    "verify",
]

log = logging.getLogger("seqlang.tracking")

Purpose = Literal["open", "click", "unsubscribe"]

_MAC_BYTES = 16  # 128 bits, 22 characters of base64url
_TOKEN = re.compile(r"(\d{1,18})\.([A-Za-z0-9_-]{1,200})\.(\d{1,9})\.([A-Za-z0-9_-]{22})")
_WEB_URL = re.compile(r"https?://", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SendKey:
    """Which send a link belongs to: `(enrollment, step, visit)` is unique per send."""

    enrollment: int
    step: str
    visit: int

    def __str__(self) -> str:
        return f"{self.enrollment}.{self.step}.{self.visit}"


def sign(purpose: Purpose, key: SendKey, secret: bytes, url: str = "") -> str:
    """A token for `purpose` on the send `key` (and, for clicks, the target `url`)."""
    return f"{key}.{_mac(purpose, key, secret, url)}"


def verify(token: str, purpose: Purpose, secret: bytes, url: str = "") -> SendKey | None:
    """The send a genuine token names; None for anything forged, altered or malformed."""
    match = _TOKEN.fullmatch(token)
    if match is None or not secret:
        return None
    key = SendKey(int(match[1]), match[2], int(match[3]))
    if not hmac.compare_digest(match[4], _mac(purpose, key, secret, url)):
        return None
    return key


def _mac(purpose: Purpose, key: SendKey, secret: bytes, url: str) -> str:
    message = f"{purpose}\x00{key}\x00{url}".encode("utf-8", "surrogatepass")
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:_MAC_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def unsubscribe_url(key: SendKey, config: EngineConfig) -> str:
    token = sign("unsubscribe", key, config.link_secret)
    return f"{config.public_url}/unsubscribe?{urlencode({'t': token})}"


def open_url(key: SendKey, config: EngineConfig) -> str:
    return f"{config.public_url}/o/{sign('open', key, config.link_secret)}.gif"


def click_url(key: SendKey, url: str, config: EngineConfig) -> str:
    token = sign("click", key, config.link_secret, url)
    return f"{config.public_url}/c/{token}?u={quote(url, safe='')}"


def track_html(html: str, key: SendKey, track: n.Track, config: EngineConfig) -> str:
    """The HTML part with the open pixel and click links that `track` asks for."""
    if not (track.opens or track.clicks):
        return html
    if not config.link_secret:
        _log_untracked()
        return html
    finder = _LinkFinder(html, config.public_url + "/" if track.clicks else None)
    edits = [(start, end, _tracked_tag(tag, key, config)) for start, end, tag in finder.links]
    if track.opens:
        pixel = (f'<img src="{escape(open_url(key, config))}" width="1" height="1" alt="" '
                 'style="border:0;width:1px;height:1px">')
        at = finder.body_end if finder.body_end is not None else len(html)
        edits.append((at, at, pixel))
    out, done = [], 0
    for start, end, replacement in sorted(edits, key=lambda edit: edit[:2]):
        out += (html[done:start], replacement)
        done = end
    out.append(html[done:])
    return "".join(out)


@functools.cache
def _log_untracked() -> None:
    """Once per process, at INFO: the worker's log shows it, a simulation's output does not."""
    log.info("%s is not set: emails leave without open and click tracking", LINK_SECRET_ENV)


@dataclass(frozen=True, slots=True)
class _Tag:
    attrs: list[tuple[str, str | None]]
    self_closing: bool


def _tracked_tag(tag: _Tag, key: SendKey, config: EngineConfig) -> str:
    parts = ["<a"]
    for name, value in tag.attrs:
        if value is None:
            parts.append(f" {name}")
            continue
        if name == "href" and _is_tracked(value, config.public_url + "/"):
            value = click_url(key, value.strip(), config)
        parts.append(f' {name}="{escape(value)}"')
    parts.append(" />" if tag.self_closing else ">")
    return "".join(parts)


def _is_tracked(href: str, own: str) -> bool:
    href = href.strip()
    return _WEB_URL.match(href) is not None and not href.startswith(own)


class _LinkFinder(HTMLParser):
    """Where the trackable `<a>` start tags and the closing `</body>` are, as offsets into the
    HTML (the parser reports line and column; offsets come from the line starts)."""

    def __init__(self, html: str, own: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[int, int, _Tag]] = []
        self.body_end: int | None = None
        self._own = own
        self._lines = [0, *(m.end() for m in re.finditer("\n", html))]
        self.feed(html)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._lines[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "a" or self._own is None:
            return
        own = self._own
        if any(name == "href" and value is not None and _is_tracked(value, own)
               for name, value in attrs):
            raw = self.get_starttag_text() or ""
            start = self._offset()
            self.links.append((start, start + len(raw), _Tag(attrs, raw.endswith("/>"))))

    def handle_endtag(self, tag: str) -> None:
        if tag == "body":
            self.body_end = self._offset()
