"""The fast reading of RSS and Atom documents: feedparser-rs (Rust) for the documents whose
reading by feedparser it was seen to reproduce, entry for entry, on the fields detection
reads; `read` raises Refused for every other document, and feedparser reads it
(`tracker.feedparse.parse`).

Each refusal stands for a construct where the two were seen to disagree on real feeds
(bench/parser_eval.py, bench/RESULTS.md "Feed parsing"): documents that are not UTF-8;
versions other than those compared; anything feedparser-rs calls malformed; `xml:base`,
DOCTYPEs and entity declarations, base64 and xhtml content (feedparser resolves, expands
and sanitizes them its own way); iTunes elements (feedparser turns a second summary into
content and takes authors in another order); C1 control characters; known namespaces
under unusual prefixes; unescaped markup in text elements and markup in titles; entries
with two authors, summaries, ids or alternate links; and entries where an element the
document has (a date, content, an author) is missing from feedparser-rs's reading.

What it accepts goes through the same `build_feed` as feedparser's entries, so identity,
titles and times follow one set of rules; dates are read by feedparser's own date parser.
Summaries and content stay as the feed wrote them (feedparser sanitizes them): they are
only ever turned into text, which drops scripts and styles.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import urljoin

try:  # a dependency with wheels for the usual platforms; without it feedparser reads all
    import feedparser_rs
    from feedparser.datetimes import _parse_date as feedparser_date
except ImportError:  # pragma: no cover - exercised where the wheel is missing
    feedparser_rs = None  # type: ignore[assignment]

# Whether the fast path can run here; `TRACKER_FEED_FAST_PATH=false` (Settings) turns it
# off per call (an escape hatch, and how bench/feed_cycle.py measures without it).
ENABLED = feedparser_rs is not None
NAME = "feedparser-rs" if ENABLED else None

_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]+)", re.I)
_REFUSED_BYTES = (
    b"xml:base",
    b"<!doctype",
    b"<!entity",
    b"itunes",
    b"base64",
    # Elements feedparser reads as summary or content that feedparser-rs does not know.
    b"<fullitem",
    b"<body",
    b"<xhtml:body",
    b"<abstract",
    b"netscape.com/rdf/simple/0.9",  # RSS 0.90: feedparser-rs calls it RSS 1.0
    b"<dc:identifier",  # feedparser-rs takes it for the entry's id, feedparser does not
    b'type="xhtml"',
    b"type='xhtml'",
    # feedparser-rs drops links to these hosts (feeds built on a developer's machine).
    b"://localhost",
    b"://127.",
)
_ENTRY_START = re.compile(rb"<(?:item|entry)[\s>]", re.I)
_AUTHORS = re.compile(rb"<(?:author|dc:creator|dc:author|creator|atom:author)[\s>]", re.I)
# feedparser reads a second summary-like element as content.
_SUMMARIES = re.compile(
    rb"<(?:description|summary|dc:description|media:description|media:text)[\s>]", re.I
)
# C1 control characters (U+0080 to U+009F) in UTF-8: feedparser reads them as
# windows-1252 punctuation, feedparser-rs keeps them.
_C1 = re.compile(rb"\xc2[\x80-\x9f]|&#(?:0*1[2-5][0-9]|x0*[89][0-9a-f]);")
# Namespaces feedparser-rs knows by their usual prefix only; feedparser knows them by URI.
_NAMESPACES = {
    b"http://www.w3.org/2005/atom": b"atom",
    b"http://purl.org/dc/elements/1.1/": b"dc",
    b"http://purl.org/dc/terms/": b"dcterms",
    b"http://purl.org/rss/1.0/modules/content/": b"content",
    b"http://search.yahoo.com/mrss/": b"media",
    b"http://www.w3.org/1999/02/22-rdf-syntax-ns#": b"rdf",
}
# Markup written straight into a text element (not escaped, not CDATA): feedparser reads
# it as HTML, feedparser-rs keeps only its text or nothing.
_NAKED = re.compile(
    rb"<(?:title|description|summary|content|content:encoded)(?:\s[^>]*)?>\s*<(?!!\[cdata\[|/)"
)
_DATES = re.compile(
    rb"<(?:pubdate|published|updated|modified|issued|created|dc:date|dcterms:[a-z]+)[\s>]"
)
_IDS = re.compile(rb"<(?:id|guid)[\s>]")
_LINKS = re.compile(rb"<(?:atom:)?link(\s[^>]*)?/?>")
_CONTENT_TYPE = re.compile(rb"""<content\s[^>]*type\s*=\s*["']([^"']*)["']""")
_TEXT_TYPES = {b"text", b"html", b"text/html", b"text/plain"}
# The versions whose reading was compared with feedparser's (bench/parser_eval.py).
VERSIONS = {"rss20", "rss10", "rss092", "rss091u", "atom10", "atom03"}
_CONTENTS = re.compile(rb"<(?:content:encoded|content)[\s>]")
_DECLARATION = re.compile(rb"""xmlns:([A-Za-z_][\w.-]*)\s*=\s*["']([^"']*)["']""")
_XML_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);")
_UTF8 = {"utf-8", "utf8"}


class Refused(Exception):
    """feedparser-rs is not trusted to read this document as feedparser would."""


def read(body: bytes, *, url: str, content_type: str | None) -> tuple[str, str, list[Any]]:
    """(feed title, ttl, entries shaped like feedparser's); raises Refused."""
    if not ENABLED:
        raise Refused("the fast path is off or feedparser-rs is not installed")
    lowered, chunks = _check_bytes(body, content_type)
    try:
        result = feedparser_rs.parse(body, sanitize_html=False)
    except Exception as error:  # its exceptions share no base class
        raise Refused(f"feedparser-rs raised {type(error).__name__}") from None
    version = result.get("version") or ""
    if version not in VERSIONS or result.get("bozo"):
        raise Refused(
            "feedparser-rs found no well-formed RSS or Atom of a version compared with feedparser"
        )
    feed = result.get("feed") or {}
    entries = result.entries
    resolve_ids = False
    if version.startswith("atom"):
        resolve_ids = True  # feedparser resolves relative Atom ids too
    elif version != "rss10":
        # feedparser resolves a guid against the document's URL unless it says
        # isPermaLink="false"; feedparser-rs keeps neither the attribute nor the base.
        guids = lowered.count(b"<guid")
        not_links = lowered.count(b'ispermalink="false"') + lowered.count(b"ispermalink='false'")
        if not_links and not_links != guids:
            raise Refused("some guids are permalinks and some are not")
        resolve_ids = not not_links
    feed_author = None
    if version.startswith("atom") and feed.get("author"):
        # feedparser-rs hands entries the feed's author; feedparser leaves them without.
        own = lowered.count(b"<author") - 1
        if 0 < own < len(entries):
            raise Refused("some entries have an author and some do not")
        feed_author = feed.get("author") if own <= 0 else None
    if len(entries) != len(chunks):
        raise Refused("feedparser-rs found another number of entries than the document has")
    for entry in entries:
        if "<" in (entry.get("title") or ""):
            raise Refused("a title has markup (feedparser sanitizes it as HTML)")
    atom = version.startswith("atom")
    raws = []
    for entry, chunk in zip(entries, chunks, strict=True):
        _check_entry(entry, chunk, inherits=feed_author is not None)
        summarised = bool(_SUMMARIES.search(chunk))
        raws.append(_Entry(entry, url, resolve_ids, feed_author, atom, summarised))
    return feed.get("title") or "", feed.get("ttl") or "", raws


def _check_bytes(body: bytes, content_type: str | None) -> tuple[bytes, list[bytes]]:
    """Refuse what feedparser-rs is not trusted with; else the document in lower case and
    cut into entries (`_chunks`), for the checks of its reading."""
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    if b"<?xml" in body[:1024] and not body.startswith(b"<?xml"):
        raise Refused("the XML declaration is not at the start")
    declared = _DECLARED.match(body)
    if declared and declared.group(1).decode("ascii").lower() not in _UTF8:
        raise Refused("declared encoding is not UTF-8")
    charset = _CHARSET.search(content_type or "")
    if charset and charset.group(1).lower() not in _UTF8:
        raise Refused("the response's charset is not UTF-8")
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused("not UTF-8") from None
    lowered = body.lower()
    for construct in _REFUSED_BYTES:
        if construct in lowered:
            raise Refused(f"the document has {construct.decode()}")
    if _C1.search(body):
        raise Refused("the document has C1 control characters")
    for prefix, uri in _DECLARATION.findall(lowered):
        usual = _NAMESPACES.get(uri.strip())
        if usual is not None and prefix != usual:
            raise Refused("a known namespace under an unusual prefix")
    if _NAKED.search(lowered):
        raise Refused("markup written straight into a text element")
    for kind in _CONTENT_TYPE.findall(lowered):
        if kind.strip() not in _TEXT_TYPES:
            raise Refused("content of another type than text or HTML")
    chunks = _chunks(lowered)
    for chunk in chunks:
        if len(_AUTHORS.findall(chunk)) > 1 or len(_SUMMARIES.findall(chunk)) > 1:
            raise Refused("an entry has two authors or two summaries")
        if len(_IDS.findall(chunk)) > 1:
            raise Refused("an entry has two ids")
        alternates = 0
        for attributes in _LINKS.findall(chunk):
            if attributes and b"href" not in attributes:
                raise Refused("a link without href")
            if b"rel=" not in attributes or b"alternate" in attributes:
                alternates += 1
        if alternates > 1:
            raise Refused("an entry has two links")
    return lowered, chunks


def _chunks(lowered: bytes) -> list[bytes]:
    """The document cut at each entry's start tag: one piece per entry, in order."""
    starts = [match.start() for match in _ENTRY_START.finditer(lowered)]
    return [lowered[a:b] for a, b in zip(starts, [*starts[1:], len(lowered)], strict=False)]


def _check_entry(entry: Any, chunk: bytes, *, inherits: bool) -> None:
    """What feedparser-rs read of an entry against the elements its piece of the document
    has: an element it did not read means it reads that construct otherwise."""
    if _DATES.search(chunk) and not (entry.get("published") or entry.get("updated")):
        raise Refused("an entry's date was not read")
    if _CONTENTS.search(chunk) and not entry.get("content"):
        raise Refused("an entry's content was not read")
    if not inherits and bool(_AUTHORS.search(chunk)) != bool(entry.get("author")):
        raise Refused("an entry's author was read otherwise")


class _Entry:
    """A feedparser-rs entry under feedparser's keys: links, and guids that are links,
    resolved against the document's URL; an author only where the entry names one."""

    __slots__ = ("_atom", "_entry", "_feed_author", "_resolve_ids", "_summarised", "_url")

    def __init__(
        self,
        entry: Any,
        url: str,
        resolve_ids: bool,
        feed_author: Any,
        atom: bool,
        summarised: bool,
    ) -> None:
        self._summarised = summarised
        self._entry = entry
        self._url = url
        self._resolve_ids = resolve_ids
        self._feed_author = feed_author
        self._atom = atom

    def get(self, key: str, default: Any = None) -> Any:
        entry = self._entry
        value = entry.get(key)
        if key == "link":
            value = value or (entry.get("id") if entry.get("guidislink") else None)
            if self._atom:
                value = _xml_unescape(value)  # from an href attribute
            value = _resolve(self._url, value)
        elif key == "id" and value and self._resolve_ids:
            value = _resolve(self._url, value)
        elif key == "summary" and not value and not self._summarised:
            # feedparser copies the first content into a missing (not an empty) summary.
            content = entry.get("content")
            value = (content[0].get("value") or "") if content else value
        elif key == "content" and value:
            value = [{"value": item.get("value") or ""} for item in value]
        elif key in ("published_parsed", "updated_parsed"):
            # The date as feedparser's own date parser reads the element's text.
            raw = entry.get(key.removesuffix("_parsed"))
            value = feedparser_date(raw) if raw else None
        elif key == "author" and value and value == self._feed_author:
            value = None
        return default if value is None else value


def _xml_unescape(value: Any) -> Any:
    """feedparser-rs leaves entities in some attribute values (`href="a?b=1&amp;c=2"`)."""
    if not value or not isinstance(value, str) or "&" not in value:
        return value
    return html.unescape(value) if _XML_ENTITY.search(value) else value


# An absolute http(s) URL that `urljoin` gives back as it is (it would take it apart and
# put it together again): a plain host and port, no `;` parameters, no empty query or
# fragment, nothing it strips or removes.
_PLAIN_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[^\x00-\x20\x7f?#;]*)?"
    r"(?:\?[^\x00-\x20\x7f#]+)?(?:#[^\x00-\x20\x7f]+)?"
)


def _resolve(base: str, value: Any) -> Any:
    if not value or not isinstance(value, str):
        return value
    value = value.strip()
    if _PLAIN_URL.fullmatch(value) and value.isascii():
        return value  # most links: what urljoin would give, at a fraction of its cost
    try:
        return urljoin(base, value)
    except ValueError:
        return ""
