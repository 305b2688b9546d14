"""Web pages without feeds: new links matching a CSS selector, or the page's main text.

Both modes parse HTML with a real parser (selectolax's lexbor). Link mode turns each new
matching link into a post; text mode watches the main text, ignoring navigation, headers,
footers, scripts and the bits that change on every request (timestamps, tokens).

Text mode also reads plain-text documents (a license served as text/plain or Markdown)
and PDF documents (a technical report, read by `tracker.pdftext` in a worker process):
their hard-wrapped lines are joined into paragraphs, one per line of the watched text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from tracker.errors import UserError
from tracker.http import Fetcher, FetchError, Validators
from tracker.observations import MAX_ENTRIES, FeedEntry, Observation, PageText
from tracker.paragraphs import paragraphs
from tracker.pdftext import PdfText, is_pdf, read_pdf
from tracker.text import one_line

ACCEPT = "text/html,application/xhtml+xml;q=0.9,application/pdf;q=0.8,text/plain;q=0.7,*/*;q=0.5"
PLAIN_TYPES = ("text/plain", "text/markdown", "text/x-markdown")

# Elements that are never a page's content.
BOILERPLATE = (
    "script, style, noscript, template, svg, iframe, form, nav, header, footer, aside, "
    "[hidden], [aria-hidden=true], [role=navigation], [role=banner], [role=contentinfo], "
    "[role=search], .cookie-banner, #cookie-banner"
)
BLOCK_TAGS = (
    "address|article|aside|blockquote|br|dd|div|dl|dt|figcaption|figure|h[1-6]|hr|li|main|"
    "ol|p|pre|section|table|tbody|td|th|thead|tr|ul"
)
_WHITESPACE = re.compile(r"\s+")
_BLOCK = re.compile(rf"<(/?)({BLOCK_TAGS})\b", re.IGNORECASE)
# What changes on every request without the page changing: clock times, "3 hours ago",
# "rendered in 42 ms", ISO timestamps of builds, session and CSRF tokens, hashes.
_ISO_TIME = r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?"
_CLOCK = r"\b\d{1,2}:\d{2}(?::\d{2})?\s*(?:[ap]\.?m\.?)?(?:\s*[A-Z]{2,4})?\b"
_TOOK = r"\b(?:in|took)\s+\d+(?:\.\d+)?\s*(?:ms|milliseconds?|s|secs?|seconds?)\b"
_AGO = r"\b\d+\s+(?:second|minute|hour|day|week)s?\s+ago\b"
_TOKEN = r"\b(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{24,}\b"
VOLATILE = [
    (re.compile(_ISO_TIME), "<time>"),
    (re.compile(_CLOCK, re.IGNORECASE), "<time>"),
    (re.compile(_AGO, re.IGNORECASE), "<ago>"),
    (re.compile(_TOOK, re.IGNORECASE), "in <duration>"),
    (re.compile(_TOKEN), "<token>"),
]
TRACKING_PARAMS = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_hsenc|_hsmi|igshid|yclid|ref|ref_src|spm)$",
    re.IGNORECASE,
)


def check_selector(selector: str) -> str:
    """A CSS selector lexbor accepts, or UserError."""
    cleaned = selector.strip()
    if not cleaned:
        raise UserError("--links needs a CSS selector, e.g. 'article h2 a'")
    try:
        LexborHTMLParser("<p></p>").css(cleaned)
    except Exception:
        raise UserError(f"invalid CSS selector {selector!r}") from None
    return cleaned


def fetch(
    url: str,
    fetcher: Fetcher,
    *,
    links: str | None,
    validators: Validators | None,
    last_hash: str | None,
    pdf_reader: Callable[[bytes], PdfText] | None = None,
) -> Observation:
    """Fetch a page; extract links or text only when the bytes changed. A PDF is read with
    `pdf_reader` (a worker process, with a time limit), else in this thread."""
    response = fetcher.get(url, validators=validators, accept=ACCEPT)
    if response.not_modified:
        return Observation(
            True, validators=validators, content_hash=last_hash, requests=response.requests
        )
    digest = response.body_hash
    if digest == last_hash:
        return Observation(
            True, validators=response.validators, content_hash=digest, requests=response.requests
        )
    content_type = response.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    title: str | None = None
    if is_pdf(response.body, content_type):
        if links:
            raise FetchError(
                "a PDF has no links to follow: watch its text instead (a page source without "
                "--links)"
            )
        document = (pdf_reader or read_pdf)(response.body)
        text, title = PageText(_masked(document.lines), form="pdf"), document.title
    elif media_type and not any(t in media_type for t in ("html", "xml", *PLAIN_TYPES)):
        raise FetchError(f"not a web page: the server sent {media_type}")
    elif media_type in PLAIN_TYPES and not links:
        text = extract_plain_text(_decode(response.body, content_type))
    else:
        html = _decode(response.body, content_type)
        if links:
            return Observation(
                False,
                entries=extract_links(html, base_url=response.url, selector=links),
                title=page_title(html),
                validators=response.validators,
                content_hash=digest,
                requests=response.requests,
            )
        text, title = extract_text(html), page_title(html)
    return Observation(
        False,
        page=text,
        title=title,
        validators=response.validators,
        content_hash=digest,
        requests=response.requests,
    )


def extract_links(html: str, *, base_url: str, selector: str) -> list[FeedEntry]:
    """Each distinct http(s) link matching `selector` as an entry keyed by its clean URL."""
    tree = LexborHTMLParser(html)
    base = _base_href(tree, base_url)
    entries: dict[str, FeedEntry] = {}
    for node in tree.css(selector):
        anchor = node if node.tag == "a" else node.css_first("a[href]")
        if anchor is None:
            continue
        href = (anchor.attributes.get("href") or "").strip()
        url = clean_url(urljoin(base, href)) if href else None
        if url is None or url in entries:
            continue
        if len(entries) == MAX_ENTRIES:
            break  # a page of 400,000 links is read as its first MAX_ENTRIES
        title = one_line(node.text(separator=" ")) or one_line(anchor.attributes.get("title") or "")
        entries[url] = FeedEntry(key=url, title=title or url, link=url, published_at=None)
    return list(entries.values())


def clean_url(url: str) -> str | None:
    """Absolute http(s) URL without fragment and tracking parameters; None for other schemes."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not TRACKING_PARAMS.match(k)
    ]
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), "")
    )


def extract_text(html: str) -> PageText:
    """The main text: boilerplate removed, one block per line, volatile bits masked."""
    # Line breaks in the source mean nothing in HTML; block elements make the lines.
    flat = _WHITESPACE.sub(" ", html)
    tree = LexborHTMLParser(_BLOCK.sub(lambda m: f"\n<{m.group(1)}{m.group(2)}", flat))
    for node in tree.css(BOILERPLATE):
        node.decompose()
    root = _main(tree)
    text = root.text(separator="") if root is not None else ""
    return PageText(_masked(text.splitlines()))


def extract_plain_text(text: str) -> PageText:
    """A plain-text or Markdown document's paragraphs, volatile bits masked."""
    return PageText(_masked(paragraphs(text.splitlines())), form="text")


def _masked(lines: Iterable[str]) -> tuple[str, ...]:
    """Lines on one line each, without what changes on every request; empty ones dropped."""
    kept = []
    for raw in lines:
        line = one_line(raw)
        for pattern, mask in VOLATILE:
            line = pattern.sub(mask, line)
        if line:
            kept.append(line)
    return tuple(kept)


def page_title(html: str) -> str | None:
    node = LexborHTMLParser(html).css_first("title")
    return one_line(node.text()) or None if node is not None else None


def _main(tree: LexborHTMLParser) -> LexborNode | None:
    for selector in ("main", "[role=main]", "article"):
        found = tree.css(selector)
        if len(found) == 1:
            return found[0]
    return tree.body


def _base_href(tree: LexborHTMLParser, page_url: str) -> str:
    node = tree.css_first("base[href]")
    return urljoin(page_url, node.attributes["href"] or "") if node is not None else page_url


def _decode(body: bytes, content_type: str | None) -> str:
    charset = None
    if content_type and "charset=" in content_type.lower():
        charset = content_type.lower().split("charset=", 1)[1].split(";")[0].strip(" \"'")
    if charset is None:
        head = body[:2048].decode("ascii", "ignore")
        match = re.search(r"<meta[^>]+charset=[\"']?([\w-]+)", head, re.IGNORECASE)
        charset = match.group(1) if match else "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")
