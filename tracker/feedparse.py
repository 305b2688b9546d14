"""Parsing feed documents: RSS, Atom and RDF with feedparser, JSON Feed with the standard
library. Pure, and light to import, because it also runs in worker processes that should
not carry the whole application."""

from __future__ import annotations

import calendar
import hashlib
import html
import json
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from tracker import feedfast
from tracker.errors import NotAFeedError
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


def parse(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    fast: bool = True,
    baseline: bool = False,
) -> ParsedFeed:
    """Entries of a feed document (pure); raises NotAFeedError for anything else.

    At most `MAX_ENTRIES` entries are read, in document order; an entry that cannot be
    read is dropped, never the whole feed. JSON Feed (1.0 or 1.1) is read from a body that
    starts with `{`, or that a JSON content type announces and that does not start with
    `<` (servers mislabel feeds both ways); feedparser reads the rest, or all of it when
    `fast` is false (`TRACKER_FEED_FAST_PATH=false`).

    `baseline`: the reading of a source's first poll, which makes no post of any entry and
    stores only each one's identity, title and link (`FeedEntry.state`): dates, authors,
    summaries and content are left out (a summary is read where it is the identity)."""
    if _looks_like_json(body, content_type):
        return parse_json_feed(body, url=url, baseline=baseline)
    check_complexity(body)
    read = parse_fast(body, url=url, content_type=content_type, baseline=baseline) if fast else None
    if read is not None:
        return read
    return parse_with_feedparser(body, url=url, content_type=content_type, baseline=baseline)


# The fast path's name when it is installed (`tracker.feedfast`), else None.
FAST_PATH = feedfast.NAME


def parse_fast(
    body: bytes, *, url: str, content_type: str | None = None, baseline: bool = False
) -> ParsedFeed | None:
    """The fast path's reading of the document, or None where it refuses it."""
    try:
        title, ttl, raws = feedfast.read(
            repair_references(body), url=url, content_type=content_type
        )
    except feedfast.Refused:
        return None
    return build_feed(title, ttl, raws, baseline=baseline)


def parse_with_feedparser(
    body: bytes, *, url: str, content_type: str | None = None, baseline: bool = False
) -> ParsedFeed:
    """RSS, Atom or RDF read by feedparser: the reference reading of a document."""
    headers = {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    result = feedparser.parse(repair_references(body), response_headers=headers, sanitize_html=True)
    if not result.get("version"):
        raise NotAFeedError(_not_a_feed_reason(body, content_type, result))
    feed = result.get("feed", {})
    return build_feed(feed.get("title", ""), feed.get("ttl", ""), result.entries, baseline=baseline)


def build_feed(
    title: str, ttl: Any, raw_entries: Sequence[Any], *, baseline: bool = False
) -> ParsedFeed:
    """The feed from entries shaped like feedparser's (mappings with its keys); with
    `baseline`, each entry's identity, title and link only (see `parse`)."""
    ttl_text = str(ttl or "").strip()
    raws = list(raw_entries[:MAX_ENTRIES])
    guids = Counter((raw.get("id") or "").strip() for raw in raws)
    entries = []
    for raw in raws:
        try:
            shared = guids[(raw.get("id") or "").strip()] > 1
            entries.append(_entry(raw, shared_guid=shared, baseline=baseline))
        except (TypeError, ValueError, AttributeError, UnicodeError):
            continue  # an entry the parser half-read: the rest of the feed still counts
    return ParsedFeed(
        title=one_line(title or "") or None,
        entries=entries,
        ttl_minutes=int(ttl_text) if ttl_text.isdigit() else None,
    )


# JSON Feed (https://www.jsonfeed.org/version/1.1/): the versions this reader knows.
JSON_FEED_VERSIONS = re.compile(r"^https?://jsonfeed\.org/version/1(\.1)?/?$")
_BOM = b"\xef\xbb\xbf"


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    head = body.lstrip(_BOM + b" \t\r\n")[:1]
    if head == b"{":
        return True
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return head not in (b"<", b"") and (media == "application/json" or media.endswith("+json"))


def parse_json_feed(body: bytes, *, url: str, baseline: bool = False) -> ParsedFeed:
    """Entries of a JSON Feed 1.0 or 1.1 document, shaped as feedparser shapes an entry so
    that identity, titles and times follow the same rules as for RSS and Atom."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise NotAFeedError(
            "not a feed: cannot read JSON Feed in the response (not UTF-8)"
        ) from None
    except RecursionError:
        raise NotAFeedError(
            "not a feed: cannot read JSON Feed in the response (nested too deeply)"
        ) from None
    except ValueError as error:
        detail = one_line(str(error))[:120]
        raise NotAFeedError(
            f"not a feed: cannot read JSON Feed in the response ({detail})"
        ) from None
    if not isinstance(document, dict):
        raise NotAFeedError("not a feed: cannot read JSON Feed in the response (not an object)")
    version = document.get("version")
    if not isinstance(version, str) or not JSON_FEED_VERSIONS.match(version.strip()):
        shown = one_line(str(version))[:80] if version is not None else "none"
        raise NotAFeedError(
            f"not a feed: cannot read JSON Feed in the response (version {shown}; "
            "JSON Feed 1.0 and 1.1 are read)"
        )
    items = document.get("items")
    if not isinstance(items, list):
        raise NotAFeedError("not a feed: cannot read JSON Feed in the response (no items list)")
    title = document.get("title")
    raws = [_json_item(item, url) for item in items[:MAX_ENTRIES] if isinstance(item, dict)]
    return build_feed(title if isinstance(title, str) else "", "", raws, baseline=baseline)


def _json_item(item: dict[str, Any], url: str) -> dict[str, Any]:
    """A JSON Feed item under feedparser's entry keys. Text fields are plain text in JSON
    Feed (`summary`, `content_text`): they are escaped, since entries hold HTML."""
    raw: dict[str, Any] = {}
    ident = item.get("id")
    if isinstance(ident, (str, int)) and not isinstance(ident, bool):
        raw["id"] = str(ident)  # 1.0 feeds sometimes give numbers
    link = _text(item.get("url")) or _text(item.get("external_url"))
    if link:
        raw["link"] = _join(url, link)
    raw["title"] = _text(item.get("title"))
    content_html = _text(item.get("content_html"))
    content_text = _text(item.get("content_text"))
    content = content_html or (html.escape(content_text) if content_text else "")
    if content:
        raw["content"] = [{"value": content}]
    summary = _text(item.get("summary"))
    raw["summary"] = html.escape(summary) if summary else content
    raw["author"] = _json_author(item)
    raw["published_parsed"] = _rfc3339(item.get("date_published"))
    raw["updated_parsed"] = _rfc3339(item.get("date_modified"))
    return raw


def _json_author(item: dict[str, Any]) -> str:
    people = item.get("authors")  # 1.1
    if not isinstance(people, list) or not people:
        people = [item.get("author")]  # 1.0
    for person in people:
        if isinstance(person, dict) and _text(person.get("name")):
            return _text(person.get("name"))
    return ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _join(base: str, link: str) -> str:
    from urllib.parse import urljoin

    try:
        return urljoin(base, link.strip())
    except ValueError:
        return link.strip()


def _rfc3339(value: Any) -> time.struct_time | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # RFC 3339 requires an offset; assume UTC
        return moment.astimezone(UTC).timetuple()
    except (ValueError, OverflowError):
        return None


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


def _entry(raw: Any, *, shared_guid: bool = False, baseline: bool = False) -> FeedEntry:
    title = one_line(raw.get("title", ""))
    link = raw.get("link") or None
    shown = title or (link or "(untitled)")
    if baseline:
        key = _identity(raw, link, title, None, shared_guid=shared_guid)
        return FeedEntry(key=key, title=shown, link=link, published_at=None)
    summary_html = raw.get("summary", "")[:TEXT_CHARS]
    return FeedEntry(
        key=_identity(raw, link, title, summary_html, shared_guid=shared_guid),
        title=shown,
        link=link,
        published_at=_time(raw.get("published_parsed") or raw.get("updated_parsed")),
        author=one_line(raw.get("author", "")) or None,
        summary_html=summary_html,
        content_html=tuple(c.get("value", "")[:TEXT_CHARS] for c in raw.get("content", []) or []),
    )


def _identity(
    raw: Any, link: str | None, title: str, summary_html: str | None, *, shared_guid: bool = False
) -> str:
    """guid, else link, else a hash of the content (its text, so markup edits don't count);
    `summary_html` None: read from `raw` if it is needed.

    A guid that several entries of the feed share identifies none of them (some generators
    give every entry the feed's own URL): those entries are keyed by link or content."""
    guid = "" if shared_guid else (raw.get("id") or "").strip()
    key = guid or link
    if not key or (shared_guid and not link):
        if summary_html is None:
            summary_html = raw.get("summary", "")[:TEXT_CHARS]
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
