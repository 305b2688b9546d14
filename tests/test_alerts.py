"""Alerts end to end, against real local targets: an SMTP server and HTTP sinks on loopback.

Events come from polls of the local feed site or the fake Hub; subscriptions are apprise
URLs pointing at an aiosmtpd server (`mailto://`) or at small HTTP servers that record what
apprise posts (`json://`, `rocket://`). Time-dependent steps call `deliver_due(now=...)`.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from markdown_it import MarkdownIt
from sqlmodel import col, select

from tracker import catalog
from tracker.alerts import messages, outbox, subscriptions
from tracker.alerts.deliver import deliver_due
from tracker.alerts.subscriptions import SubscriptionSpec
from tracker.catalog import SourceSpec
from tracker.db import Database
from tracker.models import Delivery, DeliveryAttempt, Event, Subscription
from tracker.poller import PollReport, poll_sources, select_sources

from .fakehub import FakeHub
from .feeds import rss
from .sites import Site

# apprise's e-mail plugin imports `imghdr` (via PGPy support) on first use; Python 3.11
# deprecates it, and the suite turns warnings into errors.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

PUBLIC_URL = "https://tracker.example"
HOSTILE_TITLE = "*bold* <script>alert(1)</script> [x](javascript:alert(1))"


# ----------------------------------------------------------------- local targets


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.port = 0
        self.envelopes: list[Any] = []
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)  # type: ignore[arg-type]
        )
        return "250 Message accepted for delivery"

    def url(self, to: str = "alice@example.com", port: int | None = None) -> str:
        return (
            f"mailto://127.0.0.1:{port or self.port}/"
            f"?from=tracker@example.com&to={to}&mode=insecure"
        )


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on loopback."""
    box = Mailbox()
    box.port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


# ----------------------------------------------------------------- helpers


def add_feed(db: Database, url: str) -> int:
    with db.session() as session:
        return catalog.add(session, catalog.checked(SourceSpec("feed", url), db.settings)).id


def poll(db: Database) -> PollReport:
    """Poll every source, without delivering (as a scheduler's poll task does)."""
    return poll_sources(db, select_sources(db, None))


def watched_feed(db: Database, site: Site) -> int:
    """A feed with one entry, already baselined."""
    source_id = add_feed(db, site.put("/feed.xml", rss(("a", "Alpha"))))
    report = poll(db)
    assert report.results[0].ok, report.results[0].error
    return source_id


def publish(site: Site, *items: tuple[str, str]) -> None:
    """New entries on top of the baselined one."""
    site.put("/feed.xml", rss(*items, ("a", "Alpha")))


def subscribe(db: Database, url: str, **spec: Any) -> int:
    with db.session() as session:
        return subscriptions.add(session, SubscriptionSpec(url, **spec), db.settings).id


def deliveries(db: Database, subscription_id: int | None = None) -> list[Delivery]:
    statement = select(Delivery).order_by(col(Delivery.id))
    if subscription_id is not None:
        statement = statement.where(Delivery.subscription_id == subscription_id)
    with db.session() as session:
        return list(session.exec(statement))


def attempts(db: Database, delivery_id: int) -> list[DeliveryAttempt]:
    with db.session() as session:
        return list(
            session.exec(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(col(DeliveryAttempt.id))
            )
        )


def now() -> datetime:
    return datetime.now(UTC)


def one_line_error(result: Any) -> str:
    assert result.code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("tracker: error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    return result.stderr


def hostile_feed(link: str) -> str:
    """An RSS document with one entry whose title (and link) a hostile site chose."""
    from xml.sax.saxutils import escape

    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Lab Blog</title><link>https://lab.example/</link>"
        f"<item><title>{escape(HOSTILE_TITLE)}</title><link>{escape(link)}</link>"
        '<guid isPermaLink="false">evil</guid>'
        f"<description>{escape('<p>About ' + escape(HOSTILE_TITLE) + '</p>')}</description>"
        "</item><item><title>Alpha</title><link>https://lab.example/posts/a</link>"
        '<guid isPermaLink="false">a</guid></item></channel></rss>'
    )


class Tags(HTMLParser):
    """Every start tag of an HTML document, with its attributes."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def markdown_tokens(text: str) -> list[Any]:
    """Inline tokens as a lax Markdown renderer sees them (it accepts any link scheme)."""
    md = MarkdownIt("commonmark")
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    tokens = []
    for block in md.parse(text):
        tokens.append(block)
        tokens.extend(block.children or [])
    return tokens


def markdown_links(text: str) -> list[str]:
    return [t.attrs["href"] for t in markdown_tokens(text) if t.type == "link_open"]


def event(**fields: Any) -> Event:
    values: dict[str, Any] = {
        "id": 7,
        "key": "k",
        "kind": "post.published",
        "severity": "notice",
        "source_id": 1,
        "subject": "https://lab.example/posts/b",
        "title": "Beta",
        "url": "https://lab.example/posts/b",
        "detected_at": datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        "data": {},
    }
    return Event(**(values | fields))


# ----------------------------------------------------------------- end to end


def test_new_user_gets_an_email_for_the_next_poll(
    cli, hub: FakeHub, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_PUBLIC_URL", PUBLIC_URL)
    hub.add_repo("model", "org/repo", license="mit")
    assert cli("sources", "add", "hub", "org/repo", "--name", "Org models").code == 0
    assert cli("poll").code == 0
    added = cli("subscriptions", "add", mailbox.url(), "--json")
    assert added.code == 0, added.stderr
    hub.set_gated("model", "org/repo", "manual")

    polled = cli("poll")

    assert polled.code == 0
    assert "Alerts: 1 sent, 0 failed." in polled.stdout
    (gated,) = json.loads(cli("events", "--kind", "access.gated", "--json").stdout)
    (envelope,) = mailbox.envelopes
    assert envelope.mail_from == "tracker@example.com"
    assert envelope.rcpt_tos == ["alice@example.com"]
    (message,) = mailbox.messages
    assert message["Subject"] == "Gated (manual approval): org/repo"
    assert email.utils.parseaddr(message["To"])[1] == "alice@example.com"
    assert email.utils.parseaddr(message["From"])[1] == "tracker@example.com"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for part in (plain, html):
        assert "gated: false → manual" in part
        assert "Org models" in part
        assert f"{PUBLIC_URL}/events/{gated['id']}" in part


def test_json_sink_gets_the_feed_post(cli, site: Site, new_sink) -> None:
    sink = new_sink()
    cli("sources", "add", "feed", site.put("/feed.xml", rss(("a", "Alpha"))))
    cli("poll")
    assert cli("subscriptions", "add", sink.url()).code == 0
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")))

    assert cli("poll").code == 0

    (request,) = sink.requests
    assert request.path == "/hook"
    assert request.headers["Content-Type"] == "application/json"
    payload = request.payload
    assert {"version", "title", "message", "type"} <= set(payload)
    assert payload["title"] == "Beta"
    assert payload["type"] == "info"
    assert "https://lab.example/posts/b" in payload["message"]
    assert "Lab Blog" in payload["message"]


def test_failed_send_is_retried_after_the_backoff(db: Database, site: Site, new_sink) -> None:
    db.settings.delivery_retry_seconds = 10
    sink = new_sink(statuses=[500])
    watched_feed(db, site)
    subscribe(db, sink.url())
    publish(site, ("b", "Beta"))
    poll(db)
    start = now()

    first = deliver_due(db, now=start)

    assert (first.messages_sent, first.messages_failed) == (0, 1)
    (pending,) = deliveries(db)
    assert (pending.status, pending.attempts) == ("pending", 1)
    assert "500" in pending.last_error
    assert pending.next_attempt_at == start + timedelta(seconds=10)
    assert deliver_due(db, now=start + timedelta(seconds=9)).messages_sent == 0

    second = deliver_due(db, now=start + timedelta(seconds=11))

    assert (second.messages_sent, second.delivered) == (1, 1)
    (sent,) = deliveries(db)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, None)
    tries = attempts(db, sent.id)
    assert [a.ok for a in tries] == [False, True]
    assert tries[0].error and tries[1].error is None
    assert [p["title"] for p in sink.payloads] == ["Beta", "Beta"]


def test_delivery_gives_up_after_max_attempts(cli, db: Database, site: Site, new_sink) -> None:
    db.settings.delivery_max_attempts = 2
    db.settings.delivery_retry_seconds = 1
    sink = new_sink(status=500)
    watched_feed(db, site)
    subscribe(db, sink.url())
    publish(site, ("b", "Beta"))
    poll(db)
    start = now()

    deliver_due(db, now=start)
    deliver_due(db, now=start + timedelta(hours=1))
    deliver_due(db, now=start + timedelta(days=1))

    (failed,) = deliveries(db)
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert len(sink.requests) == 2
    (listed,) = json.loads(cli("subscriptions", "list", "--json").stdout)
    assert listed["last_delivery_status"] == "failed"
    (shown,) = json.loads(cli("deliveries", "--json").stdout)
    assert (shown["status"], shown["attempts"], shown["event_title"]) == ("failed", 2, "Beta")
    assert "500" in shown["last_error"]
    assert "500" in cli("deliveries").stdout


def test_hanging_target_does_not_hold_up_the_others(
    cli, db: Database, site: Site, mailbox: Mailbox, new_sink
) -> None:
    hanging, good = new_sink(hang=True), new_sink()
    watched_feed(db, site)
    stuck = subscribe(db, hanging.url(query="rto=1&cto=1"), name="stuck")
    mail = subscribe(db, mailbox.url())
    fine = subscribe(db, good.url())
    publish(site, ("b", "Beta"))
    started = time.monotonic()

    polled = cli("poll", "--json")

    elapsed = time.monotonic() - started
    alerts = json.loads(polled.stdout)["alerts"]
    assert (alerts["messages_sent"], alerts["messages_failed"]) == (2, 1)
    assert elapsed < 4
    assert len(hanging.requests) == 1
    assert [p["title"] for p in good.payloads] == ["Beta"]
    assert [m["Subject"] for m in mailbox.messages] == ["Beta"]
    assert [d.status for d in deliveries(db, mail)] == ["sent"]
    assert [d.status for d in deliveries(db, fine)] == ["sent"]
    (late,) = deliveries(db, stuck)
    assert (late.status, late.attempts) == ("pending", 1)
    # apprise's words for a read timeout: "A Connection error occurred sending JSON
    # notification to 127.0.0.1." (the timeout itself is only in its debug log)
    assert "Connection error" in late.last_error
    assert "127.0.0.1" in late.last_error
    assert alerts["errors"] == [f"stuck: {late.last_error}"]


# ----------------------------------------------------------------- filters


def sub(**fields: Any) -> Subscription:
    return Subscription(url="json://tracker.example/hook", **fields)


def test_filter_by_exact_kind() -> None:
    gated = sub(kinds=["access.gated"])

    assert subscriptions.matches(gated, event(kind="access.gated", severity="warning"))
    assert not subscriptions.matches(gated, event(kind="access.ungated"))
    assert not subscriptions.matches(gated, event(kind="post.published"))


def test_filter_by_kind_family() -> None:
    access = sub(kinds=["access.*", "license.changed"])

    for kind in ("access.gated", "access.gate_changed", "access.ungated", "license.changed"):
        assert subscriptions.matches(access, event(kind=kind)), kind
    for kind in ("repo.updated", "post.published", "model.published"):
        assert not subscriptions.matches(access, event(kind=kind)), kind


def test_filter_by_source() -> None:
    two_sources = sub(source_ids=[2, 5])

    assert subscriptions.matches(two_sources, event(source_id=2))
    assert subscriptions.matches(two_sources, event(source_id=5))
    assert not subscriptions.matches(two_sources, event(source_id=3))
    assert not subscriptions.matches(two_sources, event(source_id=None))


def test_filter_by_min_severity() -> None:
    warnings = sub(min_severity="warning")

    assert [
        subscriptions.matches(warnings, event(severity=level))
        for level in ("info", "notice", "warning", "critical")
    ] == [False, False, True, True]


def test_filter_by_text_ignores_case_and_looks_at_title_subject_and_link() -> None:
    llama = sub(match="LLaMA")

    assert subscriptions.matches(llama, event(title="New llama release"))
    assert subscriptions.matches(llama, event(subject="meta-llama/Llama-2-7b-hf"))
    assert subscriptions.matches(llama, event(url="https://lab.example/LLAMA-3"))
    assert not subscriptions.matches(llama, event(title="Mistral", data={"summary": "llama"}))


def test_filters_must_all_pass() -> None:
    strict = sub(kinds=["access.*"], source_ids=[1], min_severity="warning", match="llama")
    base = {"kind": "access.gated", "severity": "warning", "source_id": 1, "title": "Llama"}

    assert subscriptions.matches(strict, event(**base))
    for change in (
        {"kind": "repo.updated"},
        {"source_id": 2},
        {"severity": "notice"},
        {"title": "x"},
    ):
        assert not subscriptions.matches(strict, event(**(base | change))), change


def test_disabled_subscription_matches_nothing() -> None:
    assert subscriptions.matches(sub(), event())
    assert not subscriptions.matches(sub(enabled=False), event())


def test_disabled_subscription_gets_no_deliveries(db: Database, site: Site, new_sink) -> None:
    sink = new_sink()
    watched_feed(db, site)
    off = subscribe(db, sink.url())
    with db.session() as session:
        session.get(Subscription, off).enabled = False
    publish(site, ("b", "Beta"))

    poll(db)
    deliver_due(db)

    assert deliveries(db) == []
    assert sink.requests == []


# ----------------------------------------------------------------- digests and storms


def test_hourly_digest_sends_one_summary_after_the_hour(db: Database, site: Site, new_sink) -> None:
    digest_sink, instant_sink = new_sink(), new_sink()
    watched_feed(db, site)
    digest = subscribe(db, digest_sink.url(), digest="hourly")
    subscribe(db, instant_sink.url())
    publish(site, ("b", "Beta"), ("c", "Gamma"), ("d", "Delta"))
    poll(db)

    deliver_due(db)

    assert digest_sink.requests == []
    assert sorted(p["title"] for p in instant_sink.payloads) == ["Beta", "Delta", "Gamma"]
    pending = deliveries(db, digest)
    assert {d.status for d in pending} == {"pending"} and len(pending) == 3
    (due,) = {d.next_attempt_at for d in pending}
    assert due == pending[0].created_at.replace(minute=0, second=0, microsecond=0) + timedelta(
        hours=1
    )
    assert deliver_due(db, now=due - timedelta(seconds=1)).messages_sent == 0

    report = deliver_due(db, now=due + timedelta(seconds=1))

    assert (report.messages_sent, report.delivered) == (1, 3)
    (summary,) = digest_sink.payloads
    assert summary["title"] == "release-tracker hourly digest: 3 changes"
    for title in ("Beta", "Gamma", "Delta"):
        assert title in summary["message"]
    assert {d.status for d in deliveries(db, digest)} == {"sent"}
    assert len(instant_sink.requests) == 3


def test_storm_of_new_entries_is_one_grouped_message(db: Database, site: Site, new_sink) -> None:
    sink = new_sink()
    watched_feed(db, site)
    subscribe(db, sink.url())
    publish(site, *((f"p{i}", f"Post {i}") for i in range(25)))
    poll(db)

    report = deliver_due(db)

    assert (report.messages_sent, report.delivered) == (1, 25)
    (grouped,) = sink.payloads
    assert grouped["title"] == "release-tracker: 25 changes at once"
    for i in range(25):
        assert f"Post {i}\n" in grouped["message"]
    assert {d.status for d in deliveries(db)} == {"sent"}


def test_few_new_entries_are_one_message_each(db: Database, site: Site, new_sink) -> None:
    sink = new_sink()
    watched_feed(db, site)
    subscribe(db, sink.url())
    publish(site, *((f"p{i}", f"Post {i}") for i in range(3)))
    poll(db)

    report = deliver_due(db)

    assert (report.messages_sent, report.delivered) == (3, 3)
    assert sorted(p["title"] for p in sink.payloads) == ["Post 0", "Post 1", "Post 2"]


# ----------------------------------------------------------------- secrets


SECRETS = ("S3cretPass", "tok123", "Pa55word")


def test_secrets_are_masked_in_subscription_output(cli, mailbox: Mailbox, new_sink) -> None:
    sink = new_sink()
    json_url = sink.url("/hook", "-X-Token=tok123", auth="user:S3cretPass@")
    mail_url = mailbox.url() + "&user=bob&pass=Pa55word"

    outputs = [
        cli("subscriptions", "add", json_url),
        cli("subscriptions", "add", mail_url, "--json"),
        cli("subscriptions", "list"),
        cli("subscriptions", "list", "--json"),
    ]

    assert [r.code for r in outputs] == [0, 0, 0, 0]
    for result in outputs:
        for secret in SECRETS:
            assert secret not in result.stdout + result.stderr
    listed = json.loads(outputs[3].stdout)
    assert listed[0]["url"].startswith("json://user:****@127.0.0.1:")
    assert "X-Token=****" in listed[0]["url"]
    assert listed[1]["url"].startswith("mailto://bob:****@127.0.0.1:")


def test_secrets_are_masked_in_delivery_errors(cli, db: Database, site: Site, new_sink) -> None:
    sink = new_sink(status=500)
    watched_feed(db, site)
    subscribe(db, sink.url("/hook", "-X-Token=tok123", auth="user:S3cretPass@"))
    subscribe(
        db,
        f"mailto://bob:Pa55word@127.0.0.1:{free_port()}/?from=a@example.com&to=b@example.com&mode=insecure",
    )
    publish(site, ("b", "Beta"))

    outputs = [cli("poll"), cli("deliveries"), cli("deliveries", "--json")]

    assert [r.code for r in outputs] == [0, 0, 0]
    assert {d.status for d in deliveries(db)} == {"pending"}
    assert all(d.last_error for d in deliveries(db))
    for result in outputs:
        for secret in SECRETS:
            assert secret not in result.stdout + result.stderr
    # The secrets were used, just never shown.
    (request,) = sink.requests
    assert request.path == "/hook?X-Token=tok123"
    assert request.headers["Authorization"].startswith("Basic ")


def test_custom_header_values_are_masked(cli, new_sink) -> None:
    url = new_sink().url("/hook", "+Cookie=sid-hdr456")

    outputs = [
        cli("subscriptions", "add", url),
        cli("subscriptions", "list"),
        cli("subscriptions", "list", "--json"),
    ]

    assert [r.code for r in outputs] == [0, 0, 0]
    for result in outputs:
        assert "hdr456" not in result.stdout + result.stderr


# ----------------------------------------------------------------- refused input


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "invalid alert URL"),
        ("bogus://x", "unsupported alert URL"),
        ("slack://", "invalid slack:// URL"),
        ("mailto://", "invalid mailto:// URL"),
        ("mailto://nobody", "invalid mailto:// URL"),
    ],
)
def test_bad_alert_urls_are_refused(cli, url: str, message: str) -> None:
    result = cli("subscriptions", "add", url)

    assert message in one_line_error(result)
    assert json.loads(cli("subscriptions", "list", "--json").stdout) == []


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1/x",
        "json://10.0.0.5/x",
        "mailto://user:pw@example.com?smtp=127.0.0.1&from=a@example.com",
    ],
)
def test_private_alert_targets_are_refused_unless_allowed(
    cli, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("TRACKER_ALLOW_PRIVATE_NETWORKS", "false")

    result = cli("subscriptions", "add", url)

    error = one_line_error(result)
    assert "TRACKER_ALLOW_PRIVATE_NETWORKS" in error
    assert ":pw@" not in error
    assert json.loads(cli("subscriptions", "list", "--json").stdout) == []


def test_hosted_service_is_accepted_without_private_networks(
    cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKER_ALLOW_PRIVATE_NETWORKS", "false")

    result = cli("subscriptions", "add", "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ")

    assert result.code == 0, result.stderr
    (listed,) = json.loads(cli("subscriptions", "list", "--json").stdout)
    assert listed["url"].startswith("slack://")
    assert "TIiajkdnlazkcOXrIdevi7FQ" not in listed["url"]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (("--digest", "weekly"), "unknown digest 'weekly'"),
        (("--min-severity", "loud"), "unknown severity 'loud'"),
        (("--kind", "no.such"), "unknown event kind 'no.such'"),
        (("--kind", "nothing.*"), "unknown event kind 'nothing.*'"),
        (("--source", "999"), "no source with id 999"),
    ],
)
def test_bad_subscription_options_are_refused(
    cli, new_sink, option: tuple[str, str], message: str
) -> None:
    result = cli("subscriptions", "add", new_sink().url(), *option)

    assert message in one_line_error(result)
    assert json.loads(cli("subscriptions", "list", "--json").stdout) == []


def test_send_to_private_address_is_refused_when_not_allowed(
    db: Database, site: Site, new_sink
) -> None:
    sink = new_sink()
    watched_feed(db, site)
    subscribe(db, sink.url())  # stored while private networks were allowed
    publish(site, ("b", "Beta"))
    poll(db)
    db.settings.allow_private_networks = False

    report = deliver_due(db)

    assert (report.messages_sent, report.messages_failed) == (0, 1)
    assert sink.requests == []
    (refused,) = deliveries(db)
    assert refused.last_error.startswith("refused: 127.0.0.1")
    assert "TRACKER_ALLOW_PRIVATE_NETWORKS" in refused.last_error


# ----------------------------------------------------------------- exactly once


def test_polling_an_unchanged_world_again_sends_nothing_more(
    cli, db: Database, site: Site, new_sink
) -> None:
    sink = new_sink()
    watched_feed(db, site)
    subscribe(db, sink.url())
    publish(site, ("b", "Beta"))

    first, second = cli("poll", "--json"), cli("poll", "--json")
    again = deliver_due(db, now=now() + timedelta(days=1))

    assert json.loads(first.stdout)["alerts"]["messages_sent"] == 1
    assert json.loads(second.stdout)["events"] == 0
    assert json.loads(second.stdout)["alerts"]["messages_sent"] == 0
    assert (again.messages_sent, again.messages_failed) == (0, 0)
    assert [p["title"] for p in sink.payloads] == ["Beta"]


def test_delivery_held_by_a_live_sender_is_not_sent_twice(
    db: Database, site: Site, new_sink
) -> None:
    sink = new_sink()
    watched_feed(db, site)
    subscribe(db, sink.url())
    publish(site, ("b", "Beta"))
    poll(db)
    claimed_at = now()
    with db.session() as session:
        assert len(outbox.claim_due(session, now=claimed_at)) == 1  # another sender, busy

    report = deliver_due(db, now=claimed_at + outbox.CLAIM_LEASE - timedelta(seconds=1))

    assert report.messages_sent == 0
    assert sink.requests == []


def test_delivery_of_a_sender_that_died_is_sent_after_its_lease(
    db: Database, site: Site, new_sink
) -> None:
    sink = new_sink()
    watched_feed(db, site)
    subscribe(db, sink.url())
    publish(site, ("b", "Beta"))
    poll(db)
    claimed_at = now()
    with db.session() as session:
        outbox.claim_due(session, now=claimed_at)  # ... and the sender died
    (held,) = deliveries(db)
    assert (held.status, held.claimed_until) == ("pending", claimed_at + outbox.CLAIM_LEASE)

    report = deliver_due(db, now=held.claimed_until + timedelta(seconds=1))

    assert (report.messages_sent, report.delivered) == (1, 1)
    (sent,) = deliveries(db)
    assert (sent.status, sent.attempts, sent.claimed_until) == ("sent", 1, None)
    assert [p["title"] for p in sink.payloads] == ["Beta"]


def test_sender_renews_its_hold_on_the_subscription_with_every_message(
    db: Database, site: Site, new_sink
) -> None:
    held_until: list[datetime] = []

    def note_lease(_path: str) -> None:
        with db.read() as session:
            subscription = session.get(Subscription, subscription_id)
            assert subscription is not None and subscription.sending_until is not None
            held_until.append(subscription.sending_until)

    sink = new_sink(on_request=note_lease, delay=0.05)
    watched_feed(db, site)
    subscription_id = subscribe(db, sink.url())
    publish(site, ("b", "Beta"), ("c", "Gamma"), ("d", "Delta"))
    poll(db)

    report = deliver_due(db)

    # A drain of short sends longer than one lease must not let a second sender in.
    assert report.messages_sent == 3
    assert len(held_until) == 3
    assert held_until == sorted(held_until) and len(set(held_until)) == 3


def test_sender_out_of_time_stops_between_messages_and_names_its_subscription(
    db: Database, site: Site, new_sink
) -> None:
    sink = new_sink(delay=0.3)
    watched_feed(db, site)
    subscription_id = subscribe(db, sink.url())
    publish(site, ("b", "Beta"), ("c", "Gamma"), ("d", "Delta"))
    poll(db)

    first = deliver_due(db, budget_seconds=0.1)
    rest = deliver_due(db)

    assert (first.messages_sent, first.unfinished) == (1, [subscription_id])
    assert (rest.messages_sent, rest.unfinished) == (2, [])
    assert sorted(p["title"] for p in sink.payloads) == ["Beta", "Delta", "Gamma"]
    with db.read() as session:
        subscription = session.get(Subscription, subscription_id)
        assert subscription is not None and subscription.sender_token is None


def test_settled_delivery_is_not_sent_again(db: Database, site: Site, new_sink) -> None:
    sink = new_sink()
    watched_feed(db, site)
    subscribe(db, sink.url())
    publish(site, ("b", "Beta"))
    poll(db)
    start = now()
    deliver_due(db, now=start)

    later = deliver_due(db, now=start + outbox.CLAIM_LEASE + timedelta(days=1))

    assert later.messages_sent == 0
    assert len(sink.requests) == 1
    (sent,) = deliveries(db)
    assert (sent.status, sent.attempts) == ("sent", 1)


def test_late_outcome_of_a_dead_sender_does_not_undo_a_sent_delivery(
    db: Database, site: Site, new_sink
) -> None:
    sink = new_sink()
    watched_feed(db, site)
    subscribe(db, sink.url())
    publish(site, ("b", "Beta"))
    poll(db)
    claimed_at = now()
    with db.session() as session:
        (batch,) = outbox.claim_due(session, now=claimed_at)
    deliver_due(db, now=claimed_at + outbox.CLAIM_LEASE + timedelta(seconds=1))

    with db.session() as session:  # the first sender wakes up and reports a failure
        outbox.settle(
            session,
            [d.id for d in batch.deliveries],
            ok=False,
            error="late",
            now=claimed_at + timedelta(minutes=10),
            max_attempts=6,
            retry_seconds=1,
        )

    (sent,) = deliveries(db)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, None)
    assert [a.ok for a in attempts(db, sent.id)] == [True]
    assert len(sink.requests) == 1


# ----------------------------------------------------------------- test and remove


def test_subscription_test_sends_a_test_mail(cli, mailbox: Mailbox) -> None:
    added = json.loads(cli("subscriptions", "add", mailbox.url(), "--json").stdout)

    result = cli("subscriptions", "test", str(added["id"]))

    assert result.code == 0, result.stdout + result.stderr
    assert f"Test alert sent to subscription {added['id']}." in result.stdout
    (message,) = mailbox.messages
    assert message["Subject"] == "release-tracker test alert"
    assert "this subscription works" in message.get_body(("plain",)).get_content()


def test_subscription_test_against_a_dead_port_fails_with_one_line(cli, mailbox: Mailbox) -> None:
    added = json.loads(cli("subscriptions", "add", mailbox.url(port=free_port()), "--json").stdout)

    result = cli("subscriptions", "test", str(added["id"]))

    assert result.code == 1
    output = (result.stdout + result.stderr).strip()
    assert "\n" not in output
    assert output.startswith(f"Test alert to subscription {added['id']} failed: ")
    assert "127.0.0.1" in output
    assert "Traceback" not in output
    assert mailbox.messages == []


def test_subscription_test_of_unknown_id_is_refused(cli) -> None:
    assert "no subscription with id 42" in one_line_error(cli("subscriptions", "test", "42"))


def test_remove_subscription_drops_its_pending_deliveries(
    cli, db: Database, site: Site, new_sink
) -> None:
    sink, other = new_sink(), new_sink()
    watched_feed(db, site)
    gone = subscribe(db, sink.url(), digest="daily")
    kept = subscribe(db, other.url(), digest="daily")
    publish(site, ("b", "Beta"))
    poll(db)
    assert len(deliveries(db, gone)) == 1

    result = cli("subscriptions", "remove", str(gone))

    assert result.code == 0
    assert f"Removed subscription {gone}." in result.stdout
    assert deliveries(db, gone) == []
    assert [s["id"] for s in json.loads(cli("subscriptions", "list", "--json").stdout)] == [kept]
    deliver_due(db, now=now() + timedelta(days=2))
    assert sink.requests == []
    assert len(other.requests) == 1


# ----------------------------------------------------------------- untrusted content


def hostile_email(db: Database, site: Site, mailbox: Mailbox, link: str) -> EmailMessage:
    """The e-mail alert for a new feed entry whose title, summary and link are hostile."""
    db.settings.public_url = PUBLIC_URL
    add_feed(db, site.put("/feed.xml", rss(("a", "Alpha"))))
    poll(db)
    subscribe(db, mailbox.url())
    site.put("/feed.xml", hostile_feed(link))
    poll(db)
    deliver_due(db)
    (message,) = mailbox.messages
    return message


def test_email_of_entry_with_javascript_link_links_only_to_the_event(
    db: Database, site: Site, mailbox: Mailbox
) -> None:
    message = hostile_email(db, site, mailbox, "javascript:alert(1)")

    # A header: plain text, nothing renders it (link syntax is broken up by a zero-width space).
    assert message["Subject"].replace(messages.ZWSP, "") == HOSTILE_TITLE
    html = message.get_body(("html",)).get_content()
    hrefs = [attrs.get("href") for tag, attrs in Tags(html).tags if tag == "a"]
    (delivery,) = deliveries(db)
    assert hrefs == [f"{PUBLIC_URL}/events/{delivery.event_id}"]


def test_email_html_shows_hostile_markup_as_text(
    db: Database, site: Site, mailbox: Mailbox
) -> None:
    message = hostile_email(db, site, mailbox, "https://lab.example/posts/evil")

    html = message.get_body(("html",)).get_content()
    tags = Tags(html).tags
    assert "script" not in {tag for tag, _ in tags}
    assert all((a.get("href") or "").startswith("http") for tag, a in tags if tag == "a")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the summary repeats the title


def test_markdown_body_escapes_untrusted_text() -> None:
    hostile = event(
        subject="org/*name*_[x](javascript:alert(1))",
        url=None,
        data={"summary": "About " + HOSTILE_TITLE + " # `code` <b>bold</b>"},
        before={"license": "[a](javascript:alert(2))"},
        after={"license": "**mit**"},
    )

    body = messages.render_event(
        hostile, "markdown", sources={1: "Lab_[Blog]"}, public_url=PUBLIC_URL
    ).body

    tokens = markdown_tokens(body)
    assert markdown_links(body) == [f"{PUBLIC_URL}/events/7"]
    assert not [t for t in tokens if t.type in ("html_inline", "html_block", "code_inline")]
    emphasis = [t for t in tokens if t.type in ("em_open", "strong_open")]
    assert len(emphasis) == 1  # the template's own bold around the change line
    text = "".join(t.content for t in tokens if t.type == "text").replace(messages.ZWSP, "")
    assert "*bold* <script>alert(1)</script> [x](javascript:alert(1))" in text
    assert "org/*name*_[x](javascript:alert(1))" in text
    assert "Lab_[Blog]" in text


def test_markdown_link_target_cannot_smuggle_a_second_link() -> None:
    tricky = "https://lab.example/a)[click](javascript:alert(1)"
    hostile = event(subject=tricky, url=tricky)

    body = messages.render_event(hostile, "markdown", sources={}, public_url=PUBLIC_URL).body

    assert all(href.startswith(("http://", "https://")) for href in markdown_links(body))


def test_markdown_target_gets_the_title_escaped(db: Database, site: Site, new_sink) -> None:
    chat = new_sink()
    add_feed(db, site.put("/feed.xml", rss(("a", "Alpha"))))
    poll(db)
    rocket = subscribe(db, f"rocket://abc/def@127.0.0.1:{chat.port}/#general")
    site.put("/feed.xml", hostile_feed("https://lab.example/posts/evil"))
    poll(db)

    deliver_due(db)

    assert [d.status for d in deliveries(db, rocket)] == ["sent"]
    (request,) = chat.requests
    assert request.path == "/hooks/abc/def"
    text = request.payload["text"]
    assert "javascript:alert(1)" not in markdown_links(text)
    assert not [t for t in markdown_tokens(text) if t.type in ("html_inline", "html_block")]
