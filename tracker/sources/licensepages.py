"""The pages Hub cards name as their license (`license_link`), read a bounded few per poll.

A card's `license_link` is either a URL on any host (a lab's terms page, a PDF) or a path
into the repo (`LICENSE`, `./LICENSE.md`), which the Hub renders as a link to that file.
A path, and a URL of a file on the Hub in use (`.../blob/main/LICENSE`), is read from the
Hub itself as a README is (the resolvers bucket; the repo's head commit for a path), but
without the token: what a card names is read as the public sees it, since what is read
may reach the event log. Any other URL goes through the tracker's HTTP fetcher, like a
watched page: the private-network guard, one deadline, the body cap, conditional requests.

Requests are spent only on what may have changed: a link never read (or changed), a repo
whose head commit moved, and, once a day, each URL off the Hub (conditionally, so an
unchanged page costs a 304). Repos naming the same URL share one read. At most
`MAX_PAGES` reads a poll; the rest wait for the next one. A page that cannot be read is
recorded with its reason and asked again later (an hour for a passing failure; a day, or
the next commit of a repo for a path, for a refusal: a missing file). A gated repo's own
files are refused to the public, so they are not asked for at all.
"""

from __future__ import annotations

import posixpath
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from tracker.errors import FetchError, RateLimitedError
from tracker.observations import (
    HubSnapshot,
    LicensePage,
    PageText,
    Renamed,
    RepoState,
    Validators,
)
from tracker.sources import page as pages
from tracker.sources.page import extract_plain_text, extract_text

if TYPE_CHECKING:
    from tracker.http import Fetcher
    from tracker.pdftext import PdfText
    from tracker.sources.hubclient import HubClient

MAX_PAGES = 10
RECHECK = timedelta(days=1)
RETRY = timedelta(hours=1)
# No read starts once the poll has spent this long on license pages (each read has its own
# deadline too): a slow host must not hold the source's lease.
BUDGET_SECONDS = 90.0
GATED_FILES = "the repo is gated: its files are not public"
# Where a repo's stored state keeps what was read (`tracker.detect.hubterms.PAGE_KEY`; the
# fetch side reads its own bookkeeping there: link, url, sha, validators, checked_at).
STORED = "license_page"
_REPO_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
_HUB_FILE = re.compile(
    r"^/(?P<repo>(?:datasets/|spaces/)?[^/]+/[^/]+)/(?:blob|resolve)/(?P<rest>.+)$"
)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_REFUSED = re.compile(r"HTTP 4(?!08|29)\d\d|refused:|not a web page|not a readable PDF|the PDF ")


@dataclass(frozen=True)
class Link:
    """Where a `license_link` leads: the URL to read, whether the Hub serves it (read
    through the Hub client) and whether it is pinned to the repo's head commit (a path
    into the repo: it changes only with a commit)."""

    url: str
    on_hub: bool
    pinned: bool


def resolve(link: str, repo: RepoState, endpoint: str) -> Link | None:
    """The URL a card's `license_link` leads to, or None when it leads nowhere the tracker
    can read (another scheme, a path out of the repo, an empty one)."""
    text = link.strip()
    if not text or len(text) > 2048 or any(ch in text for ch in "\r\n\t\x00"):
        return None
    base = endpoint.rstrip("/")
    if _SCHEME.match(text):
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            return None
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        if parts.username or parts.password:
            return None  # credentials in a card: nothing the tracker sends anywhere
        if ".." in unquote(parts.path).split("/"):
            return None  # a path that climbs out of where it points: nothing a link means
        host = parts.hostname.lower()
        netloc = (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
        url = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))
        if _same_origin(url, base):
            return _hub_file(urlsplit(url).path, base) or Link(url, on_hub=False, pinned=False)
        return Link(url, on_hub=False, pinned=False)
    if text.startswith("//"):
        return None  # a scheme-relative URL: which scheme is anyone's guess
    path = unquote(text.split("#", 1)[0].split("?", 1)[0])
    if path.startswith("/"):
        return _hub_file(path, base)
    clean = posixpath.normpath(path)
    if clean in (".", "") or clean.startswith("../") or clean == "..":
        return None
    if not repo.sha:
        return None
    prefix = _REPO_PREFIX.get(repo.type, "")
    url = f"{base}/{prefix}{repo.id}/resolve/{repo.sha}/{quote(clean)}"
    return Link(url, on_hub=True, pinned=True)


def _hub_file(path: str, base: str) -> Link | None:
    """A file on the Hub in use (its page, `/blob/`, or its raw form, `/resolve/`)."""
    found = _HUB_FILE.match(unquote(path))
    if not found:
        return None
    rest = posixpath.normpath(found["rest"])
    if rest.startswith("..") or "/" not in rest:
        return None  # a revision and a file, inside the repo
    url = f"{base}/{quote(found['repo'])}/resolve/{quote(rest)}"
    return Link(url, on_hub=True, pinned=False)


@dataclass
class _Wanted:
    """One URL to read and the repos that name it."""

    link: Link
    repos: list[tuple[str, RepoState, str]] = field(default_factory=list)  # key, repo, link
    rank: tuple[int, str] = (9, "")
    validators: Validators | None = None


def read(
    snapshot: HubSnapshot,
    known: Mapping[str, Mapping[str, Any]],
    *,
    hub: HubClient,
    fetcher: Callable[[], Fetcher],
    pdf_reader: Callable[[bytes], PdfText] | None = None,
    endpoint: str,
    now: datetime | None = None,
    limit: int = MAX_PAGES,
) -> int:
    """Read the license pages due (at most `limit` URLs) into `snapshot.license_pages`;
    the requests made through `fetcher` (the Hub client counts its own)."""
    now = now or datetime.now(UTC)
    wanted = _wanted(_repos(snapshot), known, endpoint, now)
    requests = 0
    hub_open = True
    started = time.monotonic()
    for item in sorted(wanted.values(), key=lambda w: w.rank):
        if _refused_unasked(item):
            # A gated repo's own files are refused to the public (license pages are read
            # without the token): asking is a request spent on a certain 401.
            page = _Read(item.link.url, error=GATED_FILES, permanent=True)
        elif limit <= 0 or time.monotonic() - started > BUDGET_SECONDS:
            continue  # read at a later poll
        elif item.link.on_hub and not hub_open:
            continue
        else:
            limit -= 1
            try:
                page, made = _read_one(
                    item, hub=hub, fetcher=fetcher, pdf_reader=pdf_reader, now=now
                )
            except RateLimitedError:
                hub_open = False  # the resolvers bucket is spent: the Hub's files wait
                continue
            requests += made
        for key, repo, link in item.repos:
            snapshot.license_pages[key] = LicensePage(
                link=link,
                url=page.url,
                checked_at=now,
                text=page.text,
                not_modified=page.not_modified,
                validators=page.validators,
                sha=repo.sha,
                error=page.error,
                permanent=page.permanent,
            )
    for key, repo, link in _unreadable(_repos(snapshot), known, endpoint):
        snapshot.license_pages[key] = LicensePage(
            link=link,
            url=None,
            checked_at=now,
            sha=repo.sha,
            error="not a link the tracker can follow (an http(s) URL or a path in the repo)",
            permanent=True,
        )
    return requests


def _refused_unasked(item: _Wanted) -> bool:
    return item.link.pinned and all(repo.gated for _, repo, _ in item.repos)


def _repos(snapshot: HubSnapshot) -> list[RepoState]:
    """The visible repos the poll saw (a renamed one under its new id)."""
    seen: list[RepoState] = list(snapshot.listed.values())
    for outcome in snapshot.checked.values():
        if isinstance(outcome, RepoState):
            seen.append(outcome)
        elif isinstance(outcome, Renamed):
            seen.append(outcome.new)
    return [repo for repo in seen if repo.visible and isinstance(repo.license_link, str)]


def _stored(known: Mapping[str, Mapping[str, Any]], repo: RepoState) -> Mapping[str, Any]:
    stored = (known.get(repo.key) or {}).get(STORED)
    return stored if isinstance(stored, Mapping) else {}


def _wanted(
    repos: Iterable[RepoState],
    known: Mapping[str, Mapping[str, Any]],
    endpoint: str,
    now: datetime,
) -> dict[str, _Wanted]:
    """The URLs due for a read, each with the repos naming it and how urgent it is."""
    wanted: dict[str, _Wanted] = {}
    every: dict[str, list[tuple[str, RepoState, str]]] = {}
    for repo in repos:
        link_text = str(repo.license_link)
        link = resolve(link_text, repo, endpoint)
        if link is None:
            continue
        every.setdefault(link.url, []).append((repo.key, repo, link_text))
        stored = _stored(known, repo)
        rank = due(stored, link_text, link, repo.sha, now)
        if rank is None:
            continue
        entry = wanted.setdefault(link.url, _Wanted(link))
        entry.rank = min(entry.rank, rank)
    for url, entry in wanted.items():
        # Every repo naming the URL takes the answer (one read for all of them); a 304
        # serves only repos that hold the page already, so the request is conditional
        # only when they all do.
        entry.repos = every[url]
        held = [_stored(known, repo) for _, repo, _ in entry.repos]
        if all(s.get("url") == url and isinstance(s.get("terms"), Mapping) for s in held):
            first = held[0]
            if first.get("etag") or first.get("last_modified"):
                entry.validators = Validators(first.get("etag"), first.get("last_modified"))
    return wanted


def due(
    stored: Mapping[str, Any], link: str, target: Link, sha: str | None, now: datetime
) -> tuple[int, str] | None:
    """How urgent a read is (lower first; among equals the oldest read first), or None when
    it is not due: a link never read or changed (0), the repo's head moved (1), a page off
    the Hub last checked a day ago or more, or a failure to retry (2)."""
    if not stored or stored.get("link") != link or "checked_at" not in stored:
        return (0, "")
    checked = str(stored.get("checked_at") or "")
    if stored.get("sha") != sha and sha is not None:
        return (1, checked)
    try:
        age = now - datetime.fromisoformat(checked)
    except (TypeError, ValueError):
        return (0, "")
    if stored.get("error"):
        if stored.get("permanent"):
            # A refusal stays until the repo changes (pinned) or, off the repo, for a day.
            return None if target.pinned else ((2, checked) if age >= RECHECK else None)
        return (2, checked) if age >= RETRY else None
    if target.pinned:
        return None  # a file at a commit never changes
    return (2, checked) if age >= RECHECK else None


def _unreadable(
    repos: Iterable[RepoState], known: Mapping[str, Mapping[str, Any]], endpoint: str
) -> list[tuple[str, RepoState, str]]:
    """Repos whose link leads nowhere readable, not yet recorded as such."""
    found = []
    for repo in repos:
        link = str(repo.license_link)
        if not link.strip() or resolve(link, repo, endpoint) is not None:
            continue
        if _stored(known, repo).get("link") != link:
            found.append((repo.key, repo, link))
    return found


@dataclass(frozen=True)
class _Read:
    url: str
    text: PageText | None = None
    not_modified: bool = False
    validators: Validators = field(default_factory=Validators)
    error: str | None = None
    permanent: bool = False


def _read_one(
    item: _Wanted,
    *,
    hub: HubClient,
    fetcher: Callable[[], Fetcher],
    pdf_reader: Callable[[bytes], PdfText] | None,
    now: datetime,
) -> tuple[_Read, int]:
    """One read: the page and the requests it cost the fetcher. RateLimitedError (the
    Hub's) propagates; every other failure is the page's, recorded with it."""
    url = item.link.url
    if item.link.on_hub:
        from tracker.sources.hubclient import HubFileError

        try:
            found = hub.file(url, validators=item.validators)
        except RateLimitedError:
            raise
        except HubFileError as exc:
            return _Read(url, error=str(exc), permanent=exc.permanent), 0
        except FetchError as exc:
            return _Read(url, error=str(exc)), 0
        if found.not_modified:
            return _Read(url, not_modified=True, validators=item.validators or Validators()), 0
        try:
            text = text_of(found.body, found.content_type, url, pdf_reader)
        except FetchError as exc:
            return _Read(url, error=str(exc), permanent=True), 0
        return _Read(url, text=text, validators=found.validators), 0
    http = fetcher()
    before = http.requests
    try:
        observation = pages.fetch(
            url, http, links=None, validators=item.validators, last_hash=None, pdf_reader=pdf_reader
        )
    except FetchError as exc:
        # A refusal (a 404, a page that is not text, an address the guard refuses) is
        # asked again in a day; a passing failure (a timeout, a 5xx, a 429) in an hour.
        permanent = bool(_REFUSED.match(str(exc)))
        return _Read(url, error=str(exc), permanent=permanent), http.requests - before
    made = http.requests - before
    if observation.unchanged:
        return _Read(url, not_modified=True, validators=item.validators or Validators()), made
    return _Read(
        url, text=observation.page, validators=observation.validators or Validators()
    ), made


def text_of(
    body: bytes,
    content_type: str | None,
    url: str,
    pdf_reader: Callable[[bytes], PdfText] | None = None,
) -> PageText:
    """The main text of a file read from a repo: a PDF's paragraphs, an HTML page's main
    text, else plain text or Markdown joined into paragraphs."""
    from tracker.pdftext import is_pdf, read_pdf

    media = (content_type or "").split(";", 1)[0].strip().lower()
    if is_pdf(body, content_type):
        document = (pdf_reader or read_pdf)(body)
        # Its paragraphs, masked as a plain text's are, kept as read from a PDF.
        plain = extract_plain_text("\n\n".join(document.lines))
        return PageText(plain.lines, form="pdf")
    decoded = body.decode("utf-8", errors="replace")
    path = urlsplit(url).path.lower()
    if "html" in media or path.endswith((".html", ".htm")):
        return extract_text(decoded)
    return extract_plain_text(decoded)


def _same_origin(url: str, endpoint: str) -> bool:
    a, b = urlsplit(url), urlsplit(endpoint)
    ports = {"http": 80, "https": 443}
    return (a.scheme, (a.hostname or "").lower(), a.port or ports.get(a.scheme)) == (
        b.scheme,
        (b.hostname or "").lower(),
        b.port or ports.get(b.scheme),
    )
