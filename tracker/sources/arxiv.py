"""arXiv searches: the newest papers matching an arXiv API query (`au:...`, `abs:...`).

One GET per poll, `{api}?search_query=QUERY&sortBy=submittedDate&sortOrder=descending
&max_results=50`, through the same fetcher as feeds and pages (network guard, deadline,
size cap). The answer is Atom with arXiv's extensions, read with feedparser after the
same hardening as feeds (`tracker.feedparse`). A paper is keyed by its arXiv id without
the version (`2401.12345` for `http://arxiv.org/abs/2401.12345v2`), so a new version of a
paper seen before is not a new paper.

The API asks clients for one request every three seconds: `Pacer` keeps requests to one
host from this process at least that far apart, and puts a source off (a deferral, not a
failure) rather than keep a poll thread waiting long.
"""

from __future__ import annotations

import calendar
import html
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlencode, urlsplit

import feedparser

from tracker.errors import DeferredError, FetchError, UserError
from tracker.feedparse import TEXT_CHARS, check_complexity, repair_references
from tracker.http import Fetcher
from tracker.observations import FeedEntry, Observation
from tracker.text import one_line

MAX_RESULTS = 50
MAX_QUERY = 1000
MAX_AUTHORS = 20
ACCEPT = "application/atom+xml, application/xml;q=0.9, */*;q=0.1"
# A request that would have to wait longer than this for its turn is put off instead.
MAX_WAIT = 60.0
# What the API answers when it is asked too often: a bare line of text, not a feed.
RATE_LIMITED_WAIT = 300.0

# `http://arxiv.org/abs/2401.12345v2`, `https://arxiv.org/abs/hep-th/9901001v1`.
_ABS_ID = re.compile(
    r"^https?://[^/]+/abs/(?P<id>(?:[a-z][a-z.-]*/\d{7})|(?:\d{4}\.\d{4,5}))(?:v(?P<v>\d+))?$",
    re.IGNORECASE,
)
_ERRORS = re.compile(r"^https?://[^/]+/api/errors", re.IGNORECASE)


def check_query(text: str) -> str:
    """An arXiv search query as a source's target (spaces tidied), or UserError."""
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise UserError("invalid arXiv query: it contains control characters")
    query = " ".join(text.split())
    if not query:
        raise UserError("an arXiv query is needed, e.g. 'au:hinton' or 'abs:\"open weights\"'")
    if len(query) > MAX_QUERY:
        raise UserError(f"arXiv query too long: at most {MAX_QUERY} characters")
    return query


def query_url(api_url: str, query: str, *, max_results: int = MAX_RESULTS) -> str:
    """The API request for the newest `max_results` papers matching `query`."""
    parameters = urlencode(
        {
            "search_query": query,
            "sortBy": "submittedDate",
            "sortOrder": "descending",
            "max_results": str(max_results),
        }
    )
    return f"{api_url}{'&' if '?' in api_url else '?'}{parameters}"


class Pacer:
    """Requests to one host at least `interval` seconds apart, across this process's
    threads. A request whose turn is more than `max_wait` away is put off
    (DeferredError with the wait), so a queue of sources never holds threads for long."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, host: str, interval: float, *, max_wait: float = MAX_WAIT) -> None:
        """Wait for this host's next turn, and book the one after it."""
        if interval <= 0:
            return
        with self._lock:
            now = self._clock()
            turn = max(now, self._next.get(host, now))
            if turn - now > max_wait:
                raise DeferredError(
                    f"the arXiv API takes one request every {interval:g}s and "
                    f"{round((turn - now) / interval)} are ahead: put off",
                    turn - now,
                )
            self._next[host] = turn + interval
        if turn > now:
            self._sleep(turn - now)


PACER = Pacer()


def fetch(
    query: str,
    fetcher: Fetcher,
    *,
    api_url: str,
    interval: float,
    last_hash: str | None,
    pacer: Pacer = PACER,
) -> Observation:
    """The newest papers matching `query`; parsed only when the answer changed."""
    url = query_url(api_url, query)
    pacer.wait((urlsplit(url).hostname or "").lower(), interval)
    response = fetcher.get(url, accept=ACCEPT)
    digest = response.body_hash
    if digest == last_hash:
        return Observation(
            True, validators=response.validators, content_hash=digest, requests=response.requests
        )
    return Observation(
        False,
        entries=parse(response.body),
        validators=response.validators,
        content_hash=digest,
        requests=response.requests,
    )


def parse(body: bytes) -> list[FeedEntry]:
    """The papers of an API answer, newest first (pure). FetchError when the API refused
    the query (it answers with a feed whose one entry is the error) or sent no feed."""
    head = body[:200].strip()
    if head.lower().startswith(b"rate exceeded"):
        raise DeferredError(
            "the arXiv API says it is asked too often; retrying later", RATE_LIMITED_WAIT
        )
    check_complexity(body)
    result = feedparser.parse(repair_references(body), sanitize_html=True)
    if not result.get("version"):
        shown = one_line(head.decode("utf-8", "replace"))[:120]
        raise FetchError(f"not an arXiv API answer: {shown or 'the response is empty'}")
    papers: dict[str, FeedEntry] = {}
    for raw in result.entries[:MAX_RESULTS]:
        entry_id = str(raw.get("id") or "").strip()
        if _ERRORS.match(entry_id):
            reason = one_line(str(raw.get("summary") or "")) or "no reason given"
            raise FetchError(f"the arXiv API refused the query: {reason[:200]}")
        paper = _paper(raw, entry_id)
        if paper is not None:
            papers.setdefault(paper.key, paper)
    return list(papers.values())


def arxiv_id(entry_id: str) -> tuple[str, int | None] | None:
    """(id, version) of an entry id such as `http://arxiv.org/abs/2401.12345v2`."""
    match = _ABS_ID.match(entry_id)
    if match is None:
        return None
    version = match.group("v")
    return match.group("id"), int(version) if version else None


def _paper(raw: feedparser.FeedParserDict, entry_id: str) -> FeedEntry | None:
    parsed = arxiv_id(entry_id)
    if parsed is None:
        return None  # not a paper (the API's entries always are; a stranger's may not be)
    paper_id, version = parsed
    base = entry_id.rsplit("/abs/", 1)[0]
    authors = [
        one_line(str(a.get("name") or "")) for a in raw.get("authors") or [] if a.get("name")
    ]
    category = raw.get("arxiv_primary_category") or {}
    pdf = next(
        (link.get("href") for link in raw.get("links") or [] if link.get("title") == "pdf"), None
    )
    title = one_line(str(raw.get("title") or "")) or paper_id
    published = raw.get("published_parsed") or raw.get("updated_parsed")
    extra: dict[str, object] = {
        "arxiv_id": paper_id,
        "version": version,
        "authors": authors[:MAX_AUTHORS],
        "primary_category": str(category.get("term") or "") or None,
        "pdf_url": pdf,
    }
    return FeedEntry(
        key=paper_id,
        title=title,
        link=f"{base}/abs/{paper_id}",
        published_at=_time(published),
        author=_byline(authors),
        # The abstract is plain text (it may say "x < y"): escaped, it reads back as itself.
        summary_html=html.escape(str(raw.get("summary") or "")[:TEXT_CHARS]),
        extra=extra,
    )


def _byline(authors: list[str]) -> str | None:
    if not authors:
        return None
    return authors[0] if len(authors) == 1 else f"{authors[0]} et al."


def _time(parsed: time.struct_time | None) -> datetime | None:
    # feedparser gives every date it reads as a UTC struct_time.
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC) if parsed else None
