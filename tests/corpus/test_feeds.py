"""Real recorded feeds (corpus/feeds) through the tracker's parser and its poll pipeline.

Expectations come from the recordings themselves, read independently of feedparser: titles
and guids with ElementTree, entry counts from the table of the corpus README.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlmodel import col, select

from tracker.db import Database
from tracker.feedparse import ParsedFeed, parse
from tracker.models import Event, Item

from ..sites import Site
from ..test_poll import add_feed, poll_all
from .locate import files

BASE_URL = "https://feeds.example/recorded/feed.xml"
ATOM = "{http://www.w3.org/2005/Atom}"
RSS1 = "{http://purl.org/rss/1.0/}"
# Tags of the HTML that CDATA descriptions carry; none may survive into a summary.
HTML_TAG = re.compile(r"</?(?:h[1-6]|ul|ol|li|p|br|code|pre|strong|em|a|div|span)\b[^>]*>")


def parse_recorded(path: Path) -> ParsedFeed:
    return parse(path.read_bytes(), url=BASE_URL, content_type="application/rss+xml")


def xml_items(path: Path) -> list[ET.Element]:
    """The document's items or entries, as the XML has them (RSS 2.0, RSS 1.0 or Atom)."""
    root = ET.parse(path).getroot()
    return root.findall("channel/item") + root.findall(f"{RSS1}item") + root.findall(f"{ATOM}entry")


def xml_title(item: ET.Element) -> str:
    title = item.find("title")
    if title is None:
        title = item.find(f"{RSS1}title")
    if title is None:
        title = item.find(f"{ATOM}title")
    return " ".join((title.text or "").split()) if title is not None else ""


def documented_counts(folder: Path) -> dict[str, int]:
    """file name -> entries, from the summary table of the corpus README."""
    counts = {}
    for line in (folder / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("`") and cells[5].isdigit():
            counts[cells[0].strip("`")] = int(cells[5])
    return counts


@pytest.mark.parametrize("path", files("feeds", "*.xml"))
def test_every_recorded_feed_parses_into_sane_entries(path: Path, corpus: Path) -> None:
    feed = parse_recorded(path)
    items = xml_items(path)

    assert feed.title
    assert len(feed.entries) == len(items) == documented_counts(corpus / "feeds")[path.name]
    keys = [entry.key for entry in feed.entries]
    assert len(set(keys)) == len(keys)
    for entry, item in zip(feed.entries, items, strict=True):
        assert entry.title == (xml_title(item) or entry.link)
        if entry.link is not None:
            assert urlsplit(entry.link).scheme in ("http", "https")
            assert urlsplit(entry.link).netloc
        if entry.published_at is not None:
            assert entry.published_at.tzinfo == UTC


def test_the_iso_8859_1_feed_is_decoded(corpus: Path) -> None:
    latin1 = [
        path
        for path in sorted((corpus / "feeds").glob("*.xml"))
        if re.match(rb"<\?xml[^>]*encoding=[\"']ISO-8859-1", path.read_bytes(), re.IGNORECASE)
    ]
    assert latin1, "the corpus has a feed declared ISO-8859-1"
    for path in latin1:
        raw = path.read_bytes()
        titles = [entry.title for entry in parse_recorded(path).entries]
        assert titles == [xml_title(item) for item in xml_items(path)]
        # Characters stored as one raw Latin-1 byte, and characters beyond Latin-1 written as
        # character references, both come out right; nothing is left half-decoded.
        latin = [t for t in titles if any(0x80 <= ord(c) <= 0xFF for c in t)]
        beyond = [t for t in titles if any(ord(c) > 0xFF for c in t)]
        assert latin and beyond
        assert all(c.encode("latin-1") in raw for t in latin for c in t if 0x80 <= ord(c) <= 0xFF)
        assert not any("Ã" in t or "&#" in t for t in titles)


def test_cdata_html_becomes_plain_text(corpus: Path) -> None:
    recorded = sorted((corpus / "feeds").glob("*.xml"))
    with_cdata = [path for path in recorded if b"<![CDATA[<" in path.read_bytes()]
    assert with_cdata, "the corpus has a feed with HTML in CDATA"
    for path in with_cdata:
        feed = parse_recorded(path)
        summaries = [entry.summary() for entry in feed.entries]
        assert all(summaries)
        assert all(len(summary) <= 500 for summary in summaries)
        assert not [s for s in summaries if HTML_TAG.search(s)]
        assert not [e.title for e in feed.entries if "CDATA" in e.title or "<" in e.title]


def test_relative_links_resolve_against_the_feed_url(corpus: Path) -> None:
    path = corpus / "feeds" / "rss_relative_links.xml"
    raw_links = [item.findtext("link") or "" for item in xml_items(path)]
    assert raw_links and all(link.startswith("/") for link in raw_links)

    feed = parse(path.read_bytes(), url="https://lab.example/feeds/rss.xml")

    assert [e.link for e in feed.entries] == [f"https://lab.example{link}" for link in raw_links]
    assert [e.key for e in feed.entries] == [e.link for e in feed.entries]


def guid_titles(path: Path) -> dict[str, str]:
    return {item.findtext("guid") or "": xml_title(item) for item in xml_items(path)}


def test_reorder_with_an_edited_title_yields_no_event(
    db: Database, site: Site, corpus: Path
) -> None:
    v1, v2 = corpus / "feeds" / "reorder_v1.xml", corpus / "feeds" / "reorder_v2.xml"
    before, after = guid_titles(v1), guid_titles(v2)
    assert set(before) == set(after) and list(before) != list(after)
    edited = {guid: title for guid, title in after.items() if before[guid] != title}
    assert len(edited) == 1
    url = site.put("/feed.xml", v1.read_bytes())
    add_feed(db, url)
    poll_all(db)
    site.put("/feed.xml", v2.read_bytes())

    report = poll_all(db)

    assert report.results[0].ok and not report.results[0].unchanged
    assert report.event_ids == []
    with db.session() as session:
        stored = {item.key: item.data["title"] for item in session.exec(select(Item))}
    assert {guid: stored[guid] for guid in edited} == edited


def test_a_new_feed_document_yields_one_post_per_new_entry(
    db: Database, site: Site, corpus: Path
) -> None:
    first, second = corpus / "feeds" / "rss_hf_blog.xml", corpus / "feeds" / "rss_mistral_news.xml"
    new = set(guid_titles(second)) - set(guid_titles(first))
    assert new
    url = site.put("/feed.xml", first.read_bytes())
    add_feed(db, url)
    poll_all(db)
    site.put("/feed.xml", second.read_bytes())

    report = poll_all(db)

    with db.session() as session:
        events = list(session.exec(select(Event).where(col(Event.id).in_(report.event_ids))))
    posts = [e.subject for e in events if e.kind == "post.published"]
    # (a post may also yield disclosure.withheld, which is the rules' business, not this test's)
    assert sorted(posts) == sorted(new)
