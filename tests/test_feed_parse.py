"""Parsing feed documents of every kind (tests/fixtures/feeds; its README says which real
shape each file models). The same checks on real recordings are in tests/corpus."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tracker import feedfast
from tracker.feedparse import parse_fast, parse_with_feedparser
from tracker.sources.feed import NotAFeedError, parse

from .conftest import FIXTURES

FEEDS = FIXTURES / "feeds"
URL = "https://feeds.example/feed.xml"


def parse_fixture(name: str, url: str = URL):
    return parse((FEEDS / name).read_bytes(), url=url, content_type="application/rss+xml")


def test_rss2_identity_is_the_guid() -> None:
    feed = parse_fixture("rss_lab_blog.xml")

    assert len(feed.entries) == 14
    assert feed.entries[1].key == "https://northwind.example/blog/loom"
    assert feed.entries[1].link == "https://northwind.example/blog/loom"
    assert feed.title == "Northwind AI Blog"


def test_atom_identity_title_and_time() -> None:
    feed = parse_fixture("atom_model_library.xml")

    assert len(feed.entries) == 20
    first = feed.entries[0]
    assert first.key == "https://models.example/library/kestrel-code"
    assert first.title == "kestrel-code"
    assert first.published_at is not None
    assert first.published_at.tzinfo == UTC


def test_rdf_identity_is_rdf_about() -> None:
    feed = parse_fixture("rdf_preprints.xml")

    assert [e.key for e in feed.entries] == [
        "http://preprints.example/abs/2611.02921",
        "http://preprints.example/abs/2611.03398",
        "http://preprints.example/abs/2611.04017",
    ]
    assert feed.entries[0].title.endswith("[cs.PL] UPDATED)")


def test_forge_atom_ids_are_tags() -> None:
    feed = parse_fixture("atom_forge_commits.xml")

    assert feed.entries[0].key.startswith("tag:git.lab.example,2008:Grit::Commit/")
    # Titles padded with newlines and spaces come out as one line.
    assert feed.entries[0].title == "Merge branch 'release-3.4'"
    assert feed.entries[0].link.startswith("https://git.lab.example/northwind/lathe/commit/")


def test_cdata_html_summary_becomes_plain_text() -> None:
    feed = parse_fixture("rss_cdata_html.xml")

    summary = feed.entries[0].summary()
    assert summary.startswith("What's changed")
    assert "<" not in summary
    assert feed.entries[0].title == "v3.4.12"
    long = feed.entries[1].summary()
    assert len(long) == 500
    # Escaped inside the CDATA, so text rather than markup once the HTML is read.
    assert "lathe plugin enable <name>@synced" in feed.entries[1].text()


def test_missing_guids_fall_back_to_link_then_content_hash() -> None:
    feed = parse_fixture("rss_missing_guids.xml")

    keys = [e.key for e in feed.entries]
    assert keys[0] == "https://northwind.example/blog/partners/kestrel-policy-robot-control"
    assert keys[3] == "https://northwind.example/blog/community/open-reasoning-one-year-part-2"
    assert keys[1].startswith("sha256:")
    assert feed.entries[1].link is None
    assert keys == [e.key for e in parse_fixture("rss_missing_guids.xml").entries]
    assert len(set(keys)) == 8


def test_relative_links_resolve_against_the_feed_url() -> None:
    feed = parse_fixture("rss_relative_links.xml", url="https://lab.example/feeds/rss.xml")

    assert feed.entries[1].link == "https://lab.example/blog/loom"
    assert feed.entries[1].key == "https://lab.example/blog/loom"


def test_iso_8859_1_feed_is_decoded() -> None:
    raw = (FEEDS / "rss_iso8859.xml").read_bytes()
    feed = parse_fixture("rss_iso8859.xml")

    assert b"KI f\xfcr Forschung" in raw  # one raw Latin-1 byte, not UTF-8
    titles = [e.title for e in feed.entries]
    assert "KI für Forschung und Lehre" in titles
    assert "ΣMath : des preuves vérifiées pas à pas" in titles  # &#931;
    assert "Aurora Labs lève 1,2 Md€ pour des modèles ouverts" in titles  # &#8364;


def test_empty_feed_has_no_entries() -> None:
    feed = parse_fixture("rss_empty_weekend.xml")

    assert feed.entries == []
    assert feed.title


def test_reordered_version_has_same_identities() -> None:
    v1 = parse_fixture("reorder_v1.xml")
    v2 = parse_fixture("reorder_v2.xml")

    assert {e.key for e in v1.entries} == {e.key for e in v2.entries}
    assert [e.key for e in v1.entries] != [e.key for e in v2.entries]


def test_five_megabyte_feed() -> None:
    item = (
        "<item><title>Release {n}</title><link>https://lab.example/r/{n}</link>"
        "<guid>r-{n}</guid><pubDate>Mon, 23 Nov 2026 10:00:00 GMT</pubDate>"
        "<description><![CDATA[<p>{text}</p>]]></description></item>"
    )
    text = "Weights and a technical report. " * 60
    items = "".join(item.format(n=n, text=text) for n in range(2600))
    body = f'<rss version="2.0"><channel><title>Big</title>{items}</channel></rss>'
    assert len(body) > 5_000_000

    feed = parse(body.encode(), url=URL)

    assert len(feed.entries) == 2600
    # A guid is a permalink unless it says otherwise, so feedparser resolves it like a link.
    assert feed.entries[-1].key == "https://feeds.example/r-2599"


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (
            b"<!DOCTYPE html><html><head><title>Blog</title></head><body>x</body></html>",
            "text/html",
            "not a feed: the server sent an HTML page",
        ),
        (b"<html><body>Welcome</body></html>", None, "not a feed: the server sent an HTML page"),
        (b"", "application/rss+xml", "not a feed: the response is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00garbage", "image/png", "not a feed: cannot read"),
        (b'{"items": []}', "application/json", "not a feed: cannot read"),
    ],
)
def test_not_a_feed(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(NotAFeedError) as raised:
        parse(body, url=URL, content_type=content_type)

    assert str(raised.value).startswith(reason)
    assert "\n" not in str(raised.value)


def test_dates_are_utc() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><guid>x</guid><title>X</title>"
        b"<pubDate>Tue, 24 Nov 2026 12:00:00 +0200</pubDate></item></channel></rss>"
    )
    (entry,) = parse(body, url=URL).entries

    assert entry.published_at == datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


# JSON Feed 1.0 and 1.1 (tests/fixtures/feeds/json_feed_*.json), which feedparser cannot read.


def parse_json(name: str, content_type: str | None = "application/feed+json"):
    return parse((FEEDS / name).read_bytes(), url=URL, content_type=content_type)


def test_json_feed_1_1_items_become_entries() -> None:
    feed = parse_json("json_feed_1_1.json")

    assert feed.title == "Kestrel Labs Notes"
    assert [e.key for e in feed.entries] == [
        "https://kestrel.example/notes/kestrel-7b-weights",
        "note-2041",
        "note-2040",
        "https://kestrel.example/notes/office-hours",
    ]
    first, second, third, fourth = feed.entries
    assert first.title == "Kestrel-7B: weights and evaluation report"
    assert first.link == "https://kestrel.example/notes/kestrel-7b-weights"
    assert first.published_at == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
    assert first.author == "Ada Quill"  # the first of `authors`
    # `summary` is plain text in JSON Feed: it reads back as the same text.
    assert first.summary() == "The 7B checkpoint & its evaluation suite are out."
    assert "Kestrel-7B checkpoint" in first.text()
    assert "track()" not in first.text()
    # Relative urls resolve against the feed's URL; date_modified stands in for a missing
    # date_published; content_text is the summary when there is no summary.
    assert second.link == "https://feeds.example/notes/tokenizer-update"
    assert second.published_at == datetime(2026, 11, 18, 16, 0, tzinfo=UTC)
    assert second.summary() == (
        "The tokenizer gains 2,000 tokens for code. Old checkpoints keep working."
    )
    assert second.author is None
    # A link post: external_url is its link; the title comes out on one line.
    assert third.link == "https://papers.example/abs/2611.01234"
    assert third.title == "Our paper on sparse routing, now on the preprint server"
    assert third.published_at == datetime(2026, 11, 15, tzinfo=UTC)
    # No id: the url is the identity; no title: the link stands in, as for RSS.
    assert fourth.title == "https://kestrel.example/notes/office-hours"
    assert fourth.published_at is None


def test_json_feed_1_0_author_object_and_numeric_id() -> None:
    feed = parse_json("json_feed_1_0.json", content_type="application/json")

    assert feed.title == "Northwind Research Log"
    assert [e.key for e in feed.entries] == ["311", "310"]
    assert feed.entries[0].author == "Cleo Dunn"
    assert feed.entries[0].published_at == datetime(2026, 10, 2, 12, 0, tzinfo=UTC)
    assert feed.entries[1].summary() == (
        "Results of the second red-team round are in the appendix."
    )


def test_json_feed_is_recognised_by_its_body_whatever_the_content_type() -> None:
    body = b"\xef\xbb\xbf\n  " + (FEEDS / "json_feed_1_0.json").read_bytes()

    for content_type in (None, "text/plain", "application/rss+xml"):
        feed = parse(body, url=URL, content_type=content_type)
        assert [e.key for e in feed.entries] == ["311", "310"]


def test_xml_sent_as_json_is_still_read_as_xml() -> None:
    body = (FEEDS / "rss_lab_blog.xml").read_bytes()

    feed = parse(body, url=URL, content_type="application/json")

    assert len(feed.entries) == 14


def test_json_feed_shared_ids_and_limits_follow_the_feed_rules() -> None:
    items = [{"id": "same", "url": f"https://lab.example/p/{n}", "title": f"P{n}"} for n in (1, 2)]
    body = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": items})

    feed = parse(body.encode(), url=URL, content_type="application/feed+json")

    # An id every item shares identifies none of them: the links do.
    assert [e.key for e in feed.entries] == ["https://lab.example/p/1", "https://lab.example/p/2"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "Expecting value"),
        (b'{"version": "https://jsonfeed.org/version/2", "items": []}', "version https://"),
        (b'{"title": "no version", "items": []}', "version none"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": {"a": 1}}', "no items list"),
        (b"[1, 2, 3]", "not an object"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": [' * 2000, "nested"),
        (b'{"title": "\xff\xfe"}', "not UTF-8"),
    ],
)
def test_bad_json_feed_is_one_line(body: bytes, detail: str) -> None:
    with pytest.raises(NotAFeedError) as raised:
        parse(body, url=URL, content_type="application/feed+json")

    message = str(raised.value)
    assert message.startswith("not a feed: cannot read JSON Feed in the response (")
    assert detail in message
    assert "\n" not in message and len(message) < 250


def test_json_feed_error_no_longer_quotes_an_xml_error() -> None:
    body = (FEEDS / "json_feed_1_1.json").read_bytes()
    # feedparser alone cannot read it: what the tracker used to say.
    with pytest.raises(NotAFeedError) as raised:
        parse_with_feedparser(body, url=URL, content_type="application/feed+json")
    assert "syntax error" in str(raised.value) or "cannot read RSS" in str(raised.value)

    assert len(parse(body, url=URL, content_type="application/feed+json").entries) == 4


def test_json_feed_polled_end_to_end(db, site) -> None:
    from sqlmodel import select

    from tracker import catalog
    from tracker.catalog import SourceSpec
    from tracker.models import Event
    from tracker.poller import poll_sources, select_sources

    document = json.loads((FEEDS / "json_feed_1_1.json").read_text())
    first_items = document["items"][1:3]
    url = site.put(
        "/feed.json",
        json.dumps({**document, "items": first_items}),
        content_type="application/feed+json",
    )
    with db.session() as session:
        catalog.add(session, catalog.checked(SourceSpec("feed", url), db.settings))

    baseline = poll_sources(db, select_sources(db, None))
    site.put("/feed.json", json.dumps(document), content_type="application/feed+json")
    second = poll_sources(db, select_sources(db, None))

    assert [r.ok for r in baseline.results] == [True]
    assert [r.ok for r in second.results] == [True]
    with db.session() as session:
        found = list(session.exec(select(Event).order_by(Event.id)))
    assert [e.kind for e in found] == ["source.baselined", "post.published", "post.published"]
    assert found[0].data == {"items": 2}
    posts = found[1:]
    assert [p.url for p in posts] == [
        "https://kestrel.example/notes/kestrel-7b-weights",
        "https://kestrel.example/notes/office-hours",
    ]
    assert posts[0].title == "Kestrel-7B: weights and evaluation report"
    assert posts[0].data["summary"] == "The 7B checkpoint & its evaluation suite are out."
    assert posts[0].data["author"] == "Ada Quill"
    assert posts[0].published_at.isoformat() == "2026-11-20T08:30:00+00:00"
    # The Accept header names JSON Feed too.
    assert "application/feed+json" in site.hits_for("/feed.json")[0].headers["Accept"]


# The fast path (tracker.feedfast, feedparser-rs) against feedparser, the reference.


def detected(feed) -> list[tuple]:
    """What detection reads of each entry."""
    return [
        (e.key, e.title, e.link, e.published_at, e.author, e.summary(), e.text())
        for e in feed.entries
    ]


def both(body: bytes, url: str = URL, content_type: str | None = "application/rss+xml"):
    fast = parse_fast(body, url=url, content_type=content_type)
    reference = parse_with_feedparser(body, url=url, content_type=content_type)
    return fast, reference


@pytest.mark.parametrize("name", sorted(p.name for p in FEEDS.glob("*.xml")))
def test_parse_agrees_with_feedparser_on_every_fixture(name: str) -> None:
    body = (FEEDS / name).read_bytes()
    fast, reference = both(body)

    assert detected(parse(body, url=URL, content_type="application/rss+xml")) == detected(reference)
    if fast is not None:
        assert detected(fast) == detected(reference)
        assert fast.title == reference.title


def stored(feed) -> list[tuple]:
    """What a first poll stores of each entry: its identity and state."""
    return [(e.key, e.state()) for e in feed.entries]


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "feedparser"])
@pytest.mark.parametrize("name", sorted(p.name for p in FEEDS.glob("*.*") if p.suffix != ".md"))
def test_a_baseline_reading_stores_what_a_full_reading_would(name: str, fast: bool) -> None:
    body = (FEEDS / name).read_bytes()
    try:
        full = parse(body, url=URL, content_type=None, fast=fast)
    except NotAFeedError:
        pytest.skip(f"{name} is not a feed (its error is tested elsewhere)")

    first = parse(body, url=URL, content_type=None, fast=fast, baseline=True)

    assert stored(first) == stored(full)
    assert first.title == full.title and first.ttl_minutes == full.ttl_minutes
    # Nothing is made of a first poll's entries: their dates and texts are not read.
    assert all(e.published_at is None and e.summary_html == "" for e in first.entries)
    assert all(e.content_html == () and e.author is None for e in first.entries)


def test_a_baseline_reading_still_keys_entries_without_guid_or_link_by_content() -> None:
    body = (FEEDS / "rss_missing_guids.xml").read_bytes()
    full = parse(body, url=URL, content_type=None)

    first = parse(body, url=URL, content_type=None, baseline=True)

    hashed = [e.key for e in full.entries if e.key.startswith("sha256:")]
    assert hashed and [e.key for e in first.entries] == [e.key for e in full.entries]


# Links whose resolution takes urljoin's own path, and links it gives back unchanged.
LINKS = [
    "http://blog.example.org/p/1",
    "https://blog.example.org:8443/p/1?x=1&y=2#top",
    "https://blog.example.org/p/1?a?b#c#d",
    "HTTPS://blog.example.org/p/1",
    "https://blog.example.org/p/1?",
    "https://blog.example.org/p/1#",
    "https://blog.example.org/p/1?#frag",
    "https://blog.example.org/p;params",
    "https://blog.example.org/p/1;",
    "https://blog.example.org/a/./b/../c",
    "https://blog.example.org",
    "https://blog.example.org?q",
    "https://user:pw@blog.example.org/p",
    "https://[::1]/p",
    "https://[::1/p",
    "https://blog.example.org:/p",
    "https://blog.example.org/p 1",
    "https://blog.example.org/p\t1",
    "https://blog.example.org/p\x00",
    "https://blög.example.org/p",
    "https://blog.example.org/caf\u00e9",
    "  https://blog.example.org/p/1  ",
    "ftp://files.example.org/a",
    "/relative/path",
    "relative",
    "//other.example.org/p",
    "?query-only",
    "#fragment-only",
    "mailto:lab@example.org",
    "tag:lab.example,2024:post-1",
    "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a",
]


@pytest.mark.parametrize("base", ["https://feeds.example/feed.xml", "http://feeds.example/", ""])
def test_links_are_resolved_as_urljoin_resolves_them(base: str) -> None:
    from urllib.parse import urljoin

    for link in LINKS:
        try:
            expected = urljoin(base, link.strip())
        except ValueError:
            expected = ""
        assert feedfast._resolve(base, link) == expected, link


def test_fast_path_reads_plain_rss_and_atom() -> None:
    assert feedfast.NAME == "feedparser-rs"
    for name in ("rss_lab_blog.xml", "rss_cdata_html.xml", "atom_model_library.xml"):
        fast, reference = both((FEEDS / name).read_bytes())
        assert fast is not None, name
        assert len(fast.entries) == len(reference.entries) > 0


def test_fast_path_resolves_links_and_permalink_guids_as_feedparser_does() -> None:
    fast, reference = both(
        (FEEDS / "rss_relative_links.xml").read_bytes(), url="https://lab.example/feeds/rss.xml"
    )
    assert fast is not None
    assert fast.entries[1].link == "https://lab.example/blog/loom"
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        b"<item><guid>r-1</guid><title>One</title></item>"
        b"<item><guid>r-2</guid><title>Two &amp; more</title></item></channel></rss>"
    )
    fast, reference = both(body)
    assert fast is not None
    assert [e.key for e in fast.entries] == [
        "https://feeds.example/r-1",
        "https://feeds.example/r-2",
    ]
    assert detected(fast) == detected(reference)


def test_atom_entries_do_not_take_the_feeds_author() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>T</title><id>urn:f</id><author><name>Lab</name></author><updated>2026-11-20T"
        b"10:00:00Z</updated><entry><id>urn:1</id><title>A</title><updated>2026-11-20T10:00:00Z"
        b"</updated></entry></feed>"
    )
    fast, reference = both(body)

    assert fast is not None
    assert fast.entries[0].author is None
    assert reference.entries[0].author is None
    assert detected(fast) == detected(reference)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            b'<rss version="2.0" xml:base="https://x.example/"><channel><title>T</title>'
            b"<item><link>a</link></item></channel></rss>",
            "xml:base",
        ),
        (
            b'<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>T'
            b"</title><item><title>f\xfcr</title></item></channel></rss>",
            "not UTF-8",
        ),
        (
            b'<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
            b"<channel><title>T</title><item><title>E</title><description>d</description>"
            b"<itunes:summary>s</itunes:summary></item></channel></rss>",
            "two summaries",
        ),
        (
            b'<rss version="2.0"><channel><title>T</title><item><guid isPermaLink="false">a'
            b"</guid></item><item><guid>b</guid></item></channel></rss>",
            "permalinks",
        ),
        (
            b'<rss version="2.0"><channel><title>T</title><item><title>x</title>'
            b"<description><p>naked</p></description></item></channel></rss>",
            "markup",
        ),
        (
            b'<rss version="2.0"><channel><title>T</title><item><title>a &lt;b&gt;c&lt;/b&gt;'
            b"</title></item></channel></rss>",
            "title",
        ),
        (
            b'<rss version="2.0"><channel><title>T</title><item><link>http://localhost/a'
            b"</link></item></channel></rss>",
            "localhost",
        ),
        (b"<html><body>not a feed</body></html>", "no feed"),
    ],
)
def test_fast_path_refuses_what_it_reads_otherwise(body: bytes, why: str) -> None:
    with pytest.raises(feedfast.Refused):
        feedfast.read(body, url=URL, content_type="application/rss+xml")
    assert parse_fast(body, url=URL) is None
    # parse() still reads it, through feedparser, or says it is not a feed.
    try:
        assert detected(parse(body, url=URL)) == detected(parse_with_feedparser(body, url=URL))
    except NotAFeedError:
        assert why == "no feed"


def test_fast_path_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracker import feedfast as fast_module
    from tracker.clients import Clients
    from tracker.config import Settings

    monkeypatch.setenv("TRACKER_FEED_FAST_PATH", "false")
    settings = Settings(_env_file=None)
    read: list[bytes] = []
    monkeypatch.setattr(fast_module, "read", lambda body, **_: read.append(body) or [])
    body = (FEEDS / "rss_lab_blog.xml").read_bytes()

    with Clients(settings) as clients:
        parsed = clients.parse_feed(body, url=URL, content_type=None)

    assert settings.feed_fast_path is False
    assert read == [] and parsed.entries


def test_fast_path_agrees_on_the_real_recordings() -> None:
    from .corpus import locate

    if locate.CORPUS is None:
        pytest.skip(locate.SKIP_REASON)
    read = 0
    for path in sorted((locate.CORPUS / "feeds").glob("*.xml")):
        fast, reference = both(path.read_bytes(), url="https://feeds.example/recorded/feed.xml")
        if fast is not None:
            read += 1
            assert detected(fast) == detected(reference), path.name
    assert read >= 6  # most of the recordings take the fast path


def test_a_baseline_reading_stores_what_a_full_reading_would_on_the_real_recordings() -> None:
    from .corpus import locate

    if locate.CORPUS is None:
        pytest.skip(locate.SKIP_REASON)
    compared = 0
    for path in sorted((locate.CORPUS / "feeds").glob("*.xml")):
        body, url = path.read_bytes(), "https://feeds.example/recorded/feed.xml"
        try:
            full = parse(body, url=url, content_type=None)
        except NotAFeedError:
            continue
        assert stored(parse(body, url=url, content_type=None, baseline=True)) == stored(full)
        compared += len(full.entries)
    assert compared > 100
