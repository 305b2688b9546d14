"""Parsing feed documents of every kind (tests/fixtures/feeds; its README says which real
shape each file models). The same checks on real recordings are in tests/corpus."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

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
