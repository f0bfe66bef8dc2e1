"""Open pixels, click links and unsubscribe links in the emails the engine sends."""

from __future__ import annotations

import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from runtime import schema as t
from runtime.config import EngineConfig
from runtime.tracking import SendKey, sign, track_html, verify
from seqlang import nodes as n

PUBLIC = "https://links.example.com"
CONFIG = EngineConfig(public_url=PUBLIC, link_secret=b"test-secret")
KEY = SendKey(7, "welcome", 1)
BOTH = n.Track(opens=True, clicks=True)

TRACKED = """
sequence flow {
  from "ana@example.com"
  track TRACK
  welcome: email {
    subject "Welcome"
    html \"\"\"<html><body><p>Hi {{ contact.first_name }},</p>
<p><a href="https://example.com/start?a=1&amp;b=2">Get started</a>
or <a href="mailto:help@example.com">write to us</a>.</p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>\"\"\"
  }
}
"""


def hrefs(html: str) -> list[str]:
    """Every <a href> as a browser would follow it (entities decoded)."""
    found: list[str] = []

    class Links(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.extend(v or "" for k, v in attrs if tag == "a" and k == "href")

    Links().feed(html)
    return found


def images(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', html)


def parts(raw: bytes) -> tuple[EmailMessage, str, str]:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    return (message, html.get_content().replace("\r\n", "\n"),
            text.get_content().replace("\r\n", "\n"))


def send_one(engine: Any, track: str, config: EngineConfig = CONFIG) -> tuple[EmailMessage, str,
                                                                              str]:
    engine.config = config
    engine.deploy(TRACKED.replace("TRACK", track))
    engine.enroll(first_name="Ana")
    engine.tick()
    [sent] = engine.transport.sent
    return parts(sent.raw)


def test_tracked_email_has_a_pixel_and_signed_click_links_but_its_text_keeps_real_links(
        engine: Any) -> None:
    message, html, text = send_one(engine, "opens, clicks")
    enrollment = engine.rows(t.sends, step="welcome")[0].enrollment_id
    key = SendKey(enrollment, "welcome", 1)

    start, mailto, unsubscribe = hrefs(html)
    click = urlsplit(start)
    assert f"{click.scheme}://{click.netloc}" == PUBLIC and click.path.startswith("/c/")
    [target] = parse_qs(click.query)["u"]
    assert target == "https://example.com/start?a=1&b=2"
    assert verify(click.path.removeprefix("/c/"), "click", CONFIG.link_secret, target) == key
    assert mailto == "mailto:help@example.com"
    assert message["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert unsubscribe.startswith(f"{PUBLIC}/unsubscribe?t=")

    [pixel] = images(html)
    assert re.fullmatch(rf"{PUBLIC}/o/[^/]+\.gif", pixel)
    assert verify(pixel.rsplit("/", 1)[1].removesuffix(".gif"), "open",
                  CONFIG.link_secret) == key
    assert html.index(pixel) < html.index("</body>")

    assert "https://example.com/start?a=1&b=2" in text
    assert PUBLIC + "/c/" not in text and PUBLIC + "/o/" not in text


@pytest.mark.parametrize(("track", "pixel", "clicks"), [("opens", True, False),
                                                       ("clicks", False, True)])
def test_track_setting_decides_what_is_added(engine: Any, track: str, pixel: bool,
                                             clicks: bool) -> None:
    _, html, _ = send_one(engine, track)
    assert bool(images(html)) is pixel
    start = hrefs(html)[0]
    assert start.startswith(f"{PUBLIC}/c/") is clicks
    if not clicks:
        assert start == "https://example.com/start?a=1&b=2"


def test_track_none_leaves_the_html_exactly_as_rendered(engine: Any) -> None:
    message, html, _ = send_one(engine, "none")
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    body = TRACKED.split('html """', 1)[1].split('"""', 1)[0]
    assert html == (body.replace("{{ contact.first_name }}", "Ana")
                    .replace("{{ unsubscribe_url }}", unsubscribe))


def test_without_a_link_secret_emails_leave_untracked(engine: Any) -> None:
    _, html, _ = send_one(engine, "opens, clicks", EngineConfig(public_url=PUBLIC))
    assert images(html) == []
    assert hrefs(html)[0] == "https://example.com/start?a=1&b=2"


def test_tokens_are_bound_to_their_purpose_send_url_and_secret() -> None:
    secret = CONFIG.link_secret
    token = sign("click", KEY, secret, "https://example.com/a")
    assert verify(token, "click", secret, "https://example.com/a") == KEY
    assert verify(token, "click", secret, "https://evil.example.com/a") is None
    assert verify(token, "open", secret) is None
    assert verify(token, "click", b"other secret", "https://example.com/a") is None
    assert verify(token.replace("7.welcome", "8.welcome"), "click", secret,
                  "https://example.com/a") is None
    assert verify(token[:-1] + ("A" if token[-1] != "A" else "B"), "click", secret,
                  "https://example.com/a") is None
    assert verify("", "open", secret) is None
    assert verify(sign("open", KEY, b""), "open", b"") is None


HOSTILE = """<html><head><title>Hi</title></head>
<body>
<!-- <a href="https://comment.example.com">hidden</a> </body> -->
<script>var s = '<a href="https://script.example.com">';</script>
<a title='<a href="https://attr.example.com">' href="https://ok.example.com/">one</a>
<A HREF=https://upper.example.com/x CLASS=btn>two</A>
<a data-href="https://data.example.com" href="#top">three</a>
<a href="javascript:alert(1)">four</a> <a href=" HTTP://SPACED.example.com ">five</a>
<a href='https://quote.example.com/?q="x"&amp;r=<y>' onclick="go()">six</a>
<img src="https://img.example.com/logo.png"> <a href="https://links.example.com/unsubscribe?t=x">u</a>
<a>no href</a><a href>empty</a>
</body></html>
<!-- </body> -->"""


def test_hostile_html_only_real_anchor_hrefs_are_rewritten_and_nothing_else_moves() -> None:
    out = track_html(HOSTILE, KEY, BOTH, CONFIG)
    followed = hrefs(out)
    rewritten = [h for h in followed if h.startswith(f"{PUBLIC}/c/")]
    assert [parse_qs(urlsplit(h).query)["u"][0] for h in rewritten] == [
        "https://ok.example.com/", "https://upper.example.com/x", "HTTP://SPACED.example.com",
        'https://quote.example.com/?q="x"&r=<y>']
    for link in rewritten:
        click = urlsplit(link)
        target = parse_qs(click.query)["u"][0]
        assert verify(click.path.removeprefix("/c/"), "click", CONFIG.link_secret,
                      target) == KEY
    for untouched in ('<!-- <a href="https://comment.example.com">hidden</a> </body> -->',
                      """<script>var s = '<a href="https://script.example.com">';</script>""",
                      '<a data-href="https://data.example.com" href="#top">',
                      '<a href="javascript:alert(1)">', '<img src="https://img.example.com/logo.png">',
                      '<a href="https://links.example.com/unsubscribe?t=x">', "<a>no href</a>",
                      "<a href>empty</a>"):
        assert untouched in out
    assert 'title="&lt;a href=&quot;https://attr.example.com&quot;&gt;"' in out
    assert 'class="btn">two</A>' in out and 'onclick="go()">six</a>' in out
    [pixel] = [i for i in images(out) if i.startswith(PUBLIC)]
    assert out.index(pixel) < out.index("</body></html>")
    assert out.endswith("</body></html>\n<!-- </body> -->")


def test_the_pixel_goes_at_the_end_of_a_fragment_without_body() -> None:
    out = track_html("<p>Hi</p>", KEY, n.Track(opens=True, clicks=False), CONFIG)
    assert out.startswith("<p>Hi</p><img src=\"https://links.example.com/o/7.welcome.1.")
