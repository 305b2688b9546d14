"""Hostile feed titles in alerts, as the payloads leave for the ten most used services.

A feed entry's title and summary carry mentions of every chat service's syntax and links
in Markdown, HTML and Slack form. The entry is polled, and the real apprise plugins send
its alert to local servers: self-hosted services (ntfy, Mattermost, Rocket.Chat, Matrix's
webhook mode, Teams workflows, generic JSON) and an SMTP server are addressed directly;
hosted services with a fixed host (Slack, Discord, Telegram) are reached by mapping their
host to a local TLS server at urllib3's connection layer, in this test only, with a
throwaway certificate the test trusts through REQUESTS_CA_BUNDLE.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
import socket
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import urllib3.util.connection
from aiosmtpd.controller import Controller
from markdown_it import MarkdownIt

from tracker import catalog
from tracker.alerts import subscriptions
from tracker.alerts.deliver import deliver_due
from tracker.alerts.subscriptions import SubscriptionSpec
from tracker.catalog import SourceSpec
from tracker.db import Database
from tracker.poller import poll_sources, select_sources

from .alertsinks import HttpSink, Request, self_signed_pem
from .feeds import rss
from .sites import Site

pytestmark = [
    pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning"),
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]

EVIL = "https://evil.example/x"
HOSTILE = (
    f"@everyone @here @room @channel @all <@&123456> <@U024BE7LH> <!channel> <!here> "
    f'[click]({EVIL}) <a href="{EVIL}">html</a> <{EVIL}|slack> **bold**'
)
HOSTED = ["hooks.slack.com", "discord.com", "api.telegram.org", "teams.example"]

# A mention that would ping: a bare @word of the services' broadcast names, or the raw
# `<@…>` / `<!…>` forms of Slack and Discord.
PING = re.compile(r"(?<![\w.+-])@(?:everyone|here|room|channel|all)\b|<@|<!")


def evil_links(text: str, dialect: str) -> list[str]:
    """Links to the evil site that a service speaking `dialect` would render."""
    if dialect == "html":
        return [href for href in Anchors(text).hrefs if "evil.example" in href]
    if dialect == "slack":
        # Slack's own link syntax; apprise escapes `<` and `>` of the text it is given.
        return re.findall(r"<https://evil[^>]*>", text)
    found = re.findall(r"\]\(https://evil", text)  # a Markdown link, in any dialect
    if dialect == "markdown":
        md = MarkdownIt("commonmark")
        md.validateLink = lambda url: True  # type: ignore[method-assign]
        for block in md.parse(text):
            for token in block.children or []:
                if token.type == "link_open" and "evil.example" in str(token.attrs.get("href")):
                    found.append(str(token.attrs["href"]))
                if token.type == "html_inline":
                    found.append(token.content)
    return found


class Anchors(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")


@pytest.fixture
def hosted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpSink]:
    """One local TLS server standing in for the hosted services' fixed hosts."""
    pem = self_signed_pem(tmp_path, HOSTED)
    sink = HttpSink(tls=pem)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pem.with_suffix(".crt")))
    real = urllib3.util.connection.create_connection

    def mapped(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        if address[0] in HOSTED:
            address = ("127.0.0.1", sink.port)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", mapped)
    yield sink
    sink.close()


@pytest.fixture
def plain() -> Iterator[HttpSink]:
    sink = HttpSink()
    yield sink
    sink.close()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
        )
        return "250 OK"


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def hostile_alert(db: Database, site: Site, url: str) -> None:
    """Baseline a feed, subscribe `url`, publish the hostile entry, poll and deliver."""
    with db.session() as session:
        spec = catalog.checked(
            SourceSpec("feed", site.put("/feed.xml", rss(("a", "A")))), db.settings
        )
        catalog.add(session, spec)
    poll_sources(db, select_sources(db, None))
    with db.session() as session:
        subscriptions.add(session, SubscriptionSpec(url), db.settings)
    site.put("/feed.xml", rss(("hostile", HOSTILE), ("a", "A")))
    poll_sources(db, select_sources(db, None))
    report = deliver_due(db)
    assert report.messages_sent == 1, report.failed


def strings(value: Any) -> Iterator[str]:
    """Every string inside a JSON document."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def sent_text(request: Request) -> list[str]:
    texts = list(strings(request.json))
    texts += [v for k, v in request.headers.items() if k.lower() in ("x-title", "title")]
    return texts


def assert_inert(texts: list[str], dialect: str) -> None:
    joined = "\n".join(texts)
    assert "click" in joined  # the hostile text did arrive, shown as text
    for text in texts:
        assert not PING.search(text), text
        assert evil_links(text, dialect) == [], text


# service: (where its server is, the subscription URL, what the service renders)
SERVICES = {
    "slack": ("hosted", "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "slack"),
    "discord": (
        "hosted",
        "discord://123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "markdown",
    ),
    "discord-embeds": (
        "hosted",
        "discord://123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789?format=markdown",
        "markdown",
    ),
    "telegram": ("hosted", "tgram://123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ/12345", "html"),
    "teams": ("hosted", "workflows://teams.example/workflowid/signature", "markdown"),
    "matrix": ("plain", "matrix://token@{a}/#room?mode=matrix", "text"),
    "ntfy": ("plain", "ntfy://{a}/alerts", "text"),
    "mattermost": ("plain", "mmost://{a}/tokenabc", "markdown"),
    "rocketchat": ("plain", "rocket://abc/def@{a}/#general", "markdown"),
    "json": ("plain", "json://{a}/hook", "text"),
}


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_hostile_title_leaves_inert(
    db: Database, site: Site, hosted: HttpSink, plain: HttpSink, service: str
) -> None:
    where, url, dialect = SERVICES[service]
    sink = hosted if where == "hosted" else plain
    if service == "slack":
        sink.reply = b"ok"

    hostile_alert(db, site, url.format(a=plain.authority))

    (request,) = sink.requests
    texts = sent_text(request)
    assert_inert(texts, dialect)
    if service == "telegram":
        # Telegram parses HTML: the title must arrive escaped, not as a live tag.
        text = request.json["text"]
        assert request.json["parse_mode"] == "HTML"
        assert "<a href" not in text.split("\r\n", 1)[0]
        assert [m for m in re.findall(r'<a href="([^"]+)"', text) if "evil" in m] == []


def test_hostile_title_in_email_is_inert(db: Database, site: Site, mailbox) -> None:
    box, port = mailbox
    url = f"mailto://127.0.0.1:{port}/?from=t@example.com&to=a@example.com&mode=insecure"

    hostile_alert(db, site, url)

    (message,) = box.messages
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",))
    assert_inert([html], "html")
    if text is not None:
        assert_inert([text.get_content()], "text")
    assert PING.search(message["Subject"]) is None


def test_neutralised_text_reads_the_same() -> None:
    from tracker.alerts.messages import ZWSP, neutralise

    text = "Mail me at a@example.com or ping @everyone about [x](y)"

    shown = neutralise(text)

    assert shown.replace(ZWSP, "") == text
    assert "a@example.com" in shown  # an address is not a mention
    assert json.dumps(shown)  # still plain text
