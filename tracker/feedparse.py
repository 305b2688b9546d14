"""Parsing feed documents with feedparser: pure, and light to import, because it also runs
in worker processes that should not carry the whole application."""

from __future__ import annotations

import calendar
import hashlib
import re
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from tracker.errors import FetchError
from tracker.observations import MAX_ENTRIES, FeedEntry
from tracker.text import html_to_text, one_line

SUMMARY_CHARS = 500
TEXT_CHARS = 50_000
# Keys longer than this are hashed: a few feeds put whole URLs with tracking data in guids.
MAX_KEY_CHARS = 1000
# Real feeds have a handful of attributes per element; feedparser's cost grows with the
# square of their number.
MAX_ATTRIBUTES = 1000
_LONG_TAG = re.compile(rb"<[A-Za-z_][^<>]{4000,}")
# References that may name a surrogate (U+D800 to U+DFFF: 55296 to 57343); `_surrogate`
# tells for sure.
_MAYBE = rb"&#(?:0*5[5-7][0-9]{3}|[xX]0*[dD][89a-fA-F][0-9a-fA-F]{2});"
_CANDIDATE = re.compile(_MAYBE)
REPLACEMENT = b"&#xFFFD;"


@dataclass(frozen=True)
class ParsedFeed:
    """A feed document's title and entries."""

    title: str | None
    entries: list[FeedEntry]
    ttl_minutes: int | None = None


class NotAFeedError(FetchError):
    """The body is not RSS, Atom or RDF (an HTML page, an error page, garbage)."""


def parse(body: bytes, *, url: str, content_type: str | None = None) -> ParsedFeed:
    """Entries of a feed document (pure); raises NotAFeedError for anything else.

    At most `MAX_ENTRIES` entries are read, in document order; an entry that cannot be
    read is dropped, never the whole feed."""
    check_complexity(body)
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    result = feedparser.parse(repair_references(body), response_headers=headers, sanitize_html=True)
    if not result.get("version"):
        raise NotAFeedError(_not_a_feed_reason(body, content_type, result))
    feed = result.get("feed", {})
    ttl = str(feed.get("ttl", "")).strip()
    raws = list(result.entries[:MAX_ENTRIES])
    guids = Counter((raw.get("id") or "").strip() for raw in raws)
    entries = []
    for raw in raws:
        try:
            entries.append(_entry(raw, shared_guid=guids[(raw.get("id") or "").strip()] > 1))
        except (TypeError, ValueError, AttributeError, UnicodeError):
            continue  # an entry feedparser half-read: the rest of the feed still counts
    return ParsedFeed(
        title=one_line(feed.get("title", "")) or None,
        entries=entries,
        ttl_minutes=int(ttl) if ttl.isdigit() else None,
    )


def check_complexity(body: bytes) -> None:
    """Refuse documents that would keep feedparser busy for minutes: its cost grows with
    the square of an element's attributes (100,000 attributes: 4 minutes of CPU)."""
    for tag in _LONG_TAG.finditer(body):
        if tag.group().count(b"=") > MAX_ATTRIBUTES:
            raise NotAFeedError(
                f"not a usable feed: an element has more than {MAX_ATTRIBUTES:,} attributes"
            )


def repair_references(body: bytes) -> bytes:
    """Character references to UTF-16 surrogates (`&#55357;&#56832;`, a lone `&#xD800;`)
    made right: a pair becomes the character it encodes, a lone one U+FFFD. feedparser
    would raise UnicodeEncodeError on them and lose the whole feed."""
    if b"&#" not in body or not _CANDIDATE.search(body):
        return body
    out: list[bytes] = []
    done = 0
    pending: re.Match[bytes] | None = None  # a high surrogate waiting for its low half
    for match in _CANDIDATE.finditer(body):
        value = _surrogate(match.group())
        if pending is not None:
            if value is not None and value >= 0xDC00 and match.start() == pending.end():
                high = _surrogate(pending.group()) or 0
                out += [body[done : pending.start()], _pair(high, value)]
                done, pending = match.end(), None
                continue
            out += [body[done : pending.start()], REPLACEMENT]
            done, pending = pending.end(), None
        if value is None:
            continue
        if value <= 0xDBFF:
            pending = match
        else:
            out += [body[done : match.start()], REPLACEMENT]
            done = match.end()
    if pending is not None:
        out += [body[done : pending.start()], REPLACEMENT]
        done = pending.end()
    out.append(body[done:])
    return b"".join(out)


def _surrogate(reference: bytes) -> int | None:
    digits = reference[2:-1]
    value = int(digits[1:], 16) if digits[:1] in (b"x", b"X") else int(digits)
    return value if 0xD800 <= value <= 0xDFFF else None


def _pair(high: int, low: int) -> bytes:
    return b"&#x%X;" % (0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))


def _entry(raw: Any, *, shared_guid: bool = False) -> FeedEntry:
    title = one_line(raw.get("title", ""))
    link = raw.get("link") or None
    summary_html = raw.get("summary", "")[:TEXT_CHARS]
    return FeedEntry(
        key=_identity(raw, link, title, summary_html, shared_guid=shared_guid),
        title=title or (link or "(untitled)"),
        link=link,
        published_at=_time(raw.get("published_parsed") or raw.get("updated_parsed")),
        author=one_line(raw.get("author", "")) or None,
        summary_html=summary_html,
        content_html=tuple(c.get("value", "")[:TEXT_CHARS] for c in raw.get("content", []) or []),
    )


def _identity(
    raw: Any, link: str | None, title: str, summary_html: str, *, shared_guid: bool = False
) -> str:
    """guid, else link, else a hash of the content (its text, so markup edits don't count).

    A guid that several entries of the feed share identifies none of them (some generators
    give every entry the feed's own URL): those entries are keyed by link or content."""
    guid = "" if shared_guid else (raw.get("id") or "").strip()
    key = guid or link
    if not key or (shared_guid and not link):
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
