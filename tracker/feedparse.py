"""Parsing feed documents with feedparser: pure, and light to import, because it also runs
in worker processes that should not carry the whole application."""

from __future__ import annotations

import calendar
import hashlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from tracker.errors import FetchError
from tracker.observations import FeedEntry
from tracker.text import html_to_text, one_line

SUMMARY_CHARS = 500
TEXT_CHARS = 50_000
# Keys longer than this are hashed: a few feeds put whole URLs with tracking data in guids.
MAX_KEY_CHARS = 1000


@dataclass(frozen=True)
class ParsedFeed:
    """A feed document's title and entries."""

    title: str | None
    entries: list[FeedEntry]
    ttl_minutes: int | None = None


class NotAFeedError(FetchError):
    """The body is not RSS, Atom or RDF (an HTML page, an error page, garbage)."""


def parse(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Entries of a feed document (pure); raises NotAFeedError for anything else."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    result = feedparser.parse(body, response_headers=headers, sanitize_html=True)
    if not result.get("version"):
        raise NotAFeedError(_not_a_feed_reason(body, content_type, result))
    feed = result.get("feed", {})
    ttl = str(feed.get("ttl", "")).strip()
    return ParsedFeed(
        title=one_line(feed.get("title", "")) or None,
        entries=[_entry(raw) for raw in result.entries],
        ttl_minutes=int(ttl) if ttl.isdigit() else None,
    )


def _entry(raw: Any) -> FeedEntry:
    title = one_line(raw.get("title", ""))
    link = raw.get("link") or None
    summary_html = raw.get("summary", "")[:TEXT_CHARS]
    return FeedEntry(
        key=_identity(raw, link, title, summary_html),
        title=title or (link or "(untitled)"),
        link=link,
        published_at=_time(raw.get("published_parsed") or raw.get("updated_parsed")),
        author=one_line(raw.get("author", "")) or None,
        summary_html=summary_html,
        content_html=tuple(c.get("value", "")[:TEXT_CHARS] for c in raw.get("content", []) or []),
    )


def _identity(raw: Any, link: str | None, title: str, summary_html: str) -> str:
    """guid, else link, else a hash of the content (its text, so markup edits don't count)."""
    key = (raw.get("id") or "").strip() or link
    if not key:
        summary = html_to_text(summary_html)[:SUMMARY_CHARS]
        key = "sha256:" + hashlib.sha256(f"{title}\n{summary}".encode()).hexdigest()
    if len(key) > MAX_KEY_CHARS:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _time(parsed: time.struct_time | None) -> datetime | None:
    # feedparser normalises every date format it understands to a UTC struct_time.
    if not parsed:
        return None
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


def _not_a_feed_reason(body: bytes, content_type: str | None, result: Any) -> str:
    if not body.strip():
        return "not a feed: the response is empty"
    head = body[:1024].lstrip().lower()
    if (content_type and "html" in content_type) or head.startswith((b"<!doctype html", b"<html")):
        return "not a feed: the server sent an HTML page"
    problem = result.get("bozo_exception")
    detail = f" ({one_line(str(problem))[:120]})" if problem else ""
    return f"not a feed: cannot read RSS, Atom or RDF in the response{detail}"
