"""Parsing real feed documents (tests/fixtures/feeds, provenance in its README)."""

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
    feed = parse_fixture("rss_hf_blog.xml")

    assert len(feed.entries) == 14
    assert feed.entries[1].key == "https://huggingface.co/blog/daggr"
    assert feed.entries[1].link == "https://huggingface.co/blog/daggr"


def test_atom_identity_title_and_time() -> None:
    feed = parse_fixture("atom_ollama_models.xml")

    assert len(feed.entries) == 20
    first = feed.entries[0]
    assert first.key == "https://ollama.com/library/ornith"
    assert first.published_at is not None
    assert first.published_at.tzinfo == UTC


def test_rdf_identity_is_rdf_about() -> None:
    feed = parse_fixture("rdf_arxiv_cs_pl.xml")

    assert [e.key for e in feed.entries] == [
        "http://arxiv.org/abs/1502.02921",
        "http://arxiv.org/abs/1503.01398",
    ]


def test_github_atom_ids_are_tags() -> None:
    feed = parse_fixture("atom_github_commits_agda.xml")

    assert feed.entries[0].key.startswith("tag:github.com,2008:Grit::Commit/")


def test_cdata_html_summary_becomes_plain_text() -> None:
    feed = parse_fixture("rss_cdata_html.xml")

    summary = feed.entries[0].summary()
    assert summary
    assert "<" not in summary
    assert len(summary) <= 500
    assert feed.entries[0].title == "v2.1.240"


def test_missing_guids_fall_back_to_link_then_content_hash() -> None:
    feed = parse_fixture("rss_missing_guids.xml")

    keys = [e.key for e in feed.entries]
    assert keys[0] == "https://huggingface.co/blog/nvidia/cosmos-policy-for-robot-control"
    assert (
        keys[3]
        == "https://huggingface.co/blog/huggingface/one-year-since-the-deepseek-moment-blog-2"
    )
    assert keys[1].startswith("sha256:")
    assert feed.entries[1].link is None
    assert keys == [e.key for e in parse_fixture("rss_missing_guids.xml").entries]
    assert len(set(keys)) == 8


def test_relative_links_resolve_against_the_feed_url() -> None:
    feed = parse_fixture("rss_relative_links.xml", url="https://lab.example/feeds/rss.xml")

    assert feed.entries[1].link == "https://lab.example/blog/daggr"
    assert feed.entries[1].key == "https://lab.example/blog/daggr"


def test_iso_8859_1_feed_is_decoded() -> None:
    feed = parse_fixture("rss_iso8859.xml")

    titles = [e.title for e in feed.entries]
    assert "Mistral AI - KI für Deutschland" in titles
    assert "MathΣtral" in titles


def test_empty_real_feed_has_no_entries() -> None:
    feed = parse_fixture("rss_arxiv_cs_empty.xml")

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
