"""Source kinds: what a target looks like, how it is fetched and how changes are detected.

Each kind lives in its own module with the same shape: a fetch returning an `Observation`,
and a pure detection function in `tracker.detect`. This module wires them together.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from tracker import feedparse
from tracker.config import Settings
from tracker.detect import Detection
from tracker.detect.feed import detect_posts
from tracker.detect.hub import detect_repos
from tracker.detect.page import detect_text_change
from tracker.disclosure import rules_for
from tracker.errors import UserError
from tracker.feedparse import ParsedFeed
from tracker.http import Fetcher, Validators
from tracker.models import Source
from tracker.netguard import BlockedAddressError, check_url
from tracker.observations import Observation
from tracker.sources import feed, hub, page

if TYPE_CHECKING:
    from tracker.sources.hubclient import HubClient

ItemStates = Mapping[str, Mapping[str, Any]]


class Clients:
    """The network clients one poll run shares across its threads, created on first use.

    With `parallel_parsing`, feeds are parsed in worker processes (one per core): fetching
    is I/O and threads suffice, but feedparser is pure Python and would keep a baseline of
    many feeds on one core.
    """

    def __init__(self, settings: Settings, *, parallel_parsing: bool = False) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._http: Fetcher | None = None
        self._hub: HubClient | None = None
        self._parallel = parallel_parsing and (os.cpu_count() or 1) > 1
        self._parsers: ProcessPoolExecutor | None = None

    def parse_feed(self, body: bytes, *, url: str, content_type: str | None) -> ParsedFeed:
        """feedparser on the bytes, in a worker process when parsing in parallel."""
        if not self._parallel:
            return feedparse.parse(body, url=url, content_type=content_type)
        with self._lock:
            if self._parsers is None:
                self._parsers = ProcessPoolExecutor(os.cpu_count(), mp_context=_parser_context())
            parsers = self._parsers
        return parsers.submit(feedparse.parse, body, url=url, content_type=content_type).result()

    @property
    def http(self) -> Fetcher:
        with self._lock:
            if self._http is None:
                self._http = Fetcher(self.settings)
            return self._http

    @property
    def hub(self) -> HubClient:
        from tracker.sources.hubclient import HubClient

        with self._lock:
            if self._hub is None:
                self._hub = HubClient(self.settings)
            return self._hub

    @property
    def http_requests(self) -> int:
        return self._http.requests if self._http else 0

    @property
    def hub_requests(self) -> int:
        return self._hub.requests if self._hub else 0

    @property
    def body_bytes(self) -> int:
        return self._http.body_bytes if self._http else 0

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        if self._parsers is not None:
            self._parsers.shutdown(cancel_futures=True)

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _parser_context() -> multiprocessing.context.BaseContext:
    """Processes for feedparser: forked from a small, single-threaded server process that
    imported only the parser (forking this threaded process could copy a held lock, and
    spawning would import the whole application in every worker)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tracker.feedparse"])
    return context


@dataclass(frozen=True)
class SourceKind:
    """How one kind of source is polled. `reads_items`: its fetch needs the stored items."""

    name: str
    default_every: int
    item_noun: tuple[str, str]  # singular, plural
    fetch: Callable[[Source, Clients, ItemStates], Observation]
    detect: Callable[[ItemStates, Observation, bool, Source, Settings], Detection]
    reads_items: bool = False


def _fetch_feed(source: Source, clients: Clients, _items: ItemStates) -> Observation:
    validators = Validators(etag=source.etag, last_modified=source.last_modified)
    return feed.fetch(
        source.target,
        clients.http,
        validators=validators,
        last_hash=source.content_hash,
        parser=clients.parse_feed,
    )


def _detect_feed(
    previous: ItemStates, observation: Observation, baselined: bool, _s: Source, settings: Settings
) -> Detection:
    rules = rules_for(settings.home)
    return detect_posts(previous, observation.items, baselined=baselined, rules=rules)


def _fetch_page(source: Source, clients: Clients, _items: ItemStates) -> Observation:
    validators = Validators(etag=source.etag, last_modified=source.last_modified)
    return page.fetch(
        source.target,
        clients.http,
        links=source.links,
        validators=validators,
        last_hash=source.content_hash,
    )


def _detect_page(
    previous: ItemStates,
    observation: Observation,
    baselined: bool,
    source: Source,
    settings: Settings,
) -> Detection:
    rules = rules_for(settings.home)
    if source.links:
        return detect_posts(previous, observation.items, baselined=baselined, rules=rules)
    (text,) = observation.items
    name = source.name or observation.title or source.target
    return detect_text_change(previous, text, url=source.target, name=name, rules=rules)


def _fetch_hub(source: Source, clients: Clients, items: ItemStates) -> Observation:
    return hub.fetch(hub.parse_target(source.target, source.types), clients.hub, items)


def _detect_hub(
    previous: ItemStates,
    observation: Observation,
    baselined: bool,
    source: Source,
    settings: Settings,
) -> Detection:
    assert observation.hub is not None
    target = hub.parse_target(source.target, source.types)
    return detect_repos(
        previous,
        observation.hub,
        baselined=baselined,
        endpoint=settings.hf_endpoint,
        author=None if target.name else target.owner,
        disclosure_rules=rules_for(settings.home),
    )


KINDS: dict[str, SourceKind] = {
    "hub": SourceKind("hub", 15 * 60, ("repo", "repos"), _fetch_hub, _detect_hub, reads_items=True),
    "feed": SourceKind("feed", 15 * 60, ("entry", "entries"), _fetch_feed, _detect_feed),
    "page": SourceKind("page", 60 * 60, ("item", "items"), _fetch_page, _detect_page),
}


def kind_of(name: str) -> SourceKind:
    try:
        return KINDS[name]
    except KeyError:
        raise UserError(f"unknown source kind {name!r}: use one of {', '.join(KINDS)}") from None


def normalize_http_url(text: str, settings: Settings) -> str:
    """A user-typed feed or page URL, checked and tidied, or UserError."""
    url = text.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UserError(f"invalid URL {text!r}: expected an http:// or https:// URL")
    if any(ch.isspace() for ch in url):
        raise UserError(f"invalid URL {text!r}: contains spaces")
    try:
        port = parts.port
    except ValueError:
        raise UserError(f"invalid URL {text!r}: bad port") from None
    netloc = parts.hostname.lower() if parts.hostname else ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.username or parts.password:
        raise UserError(f"invalid URL {text!r}: credentials in URLs are not supported")
    if port is not None:
        netloc += f":{port}"
    url = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))
    if not settings.allow_private_networks:
        try:
            check_url(url)
        except BlockedAddressError as exc:
            raise UserError(f"refused {url}: {exc}") from None
    return url
