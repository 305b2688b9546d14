"""Source kinds: what a target looks like, how it is fetched and how changes are detected.

Each kind lives in its own module with the same shape: a `fetch` returning an
`Observation`, and a pure detection function in `tracker.detect`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tracker.config import Settings
from tracker.detect import Detection
from tracker.detect.feed import detect_posts
from tracker.errors import UserError
from tracker.http import Fetcher, Validators
from tracker.models import Source
from tracker.netguard import BlockedAddressError, check_url
from tracker.observations import Observation
from tracker.sources import feed

Detect = Callable[[Mapping[str, Mapping[str, Any]], list[Any], bool], Detection]


@dataclass(frozen=True)
class SourceKind:
    """How one kind of source is polled."""

    name: str
    default_every: int
    item_noun: str
    fetch: Callable[[Source, Fetcher, Settings], Observation]
    detect: Detect


def _fetch_feed(source: Source, fetcher: Fetcher, settings: Settings) -> Observation:
    validators = Validators(etag=source.etag, last_modified=source.last_modified)
    return feed.fetch(source.target, fetcher, validators=validators, last_hash=source.content_hash)


def _detect_feed(
    previous: Mapping[str, Mapping[str, Any]], items: list[Any], baselined: bool
) -> Detection:
    return detect_posts(previous, items, baselined=baselined)


KINDS: dict[str, SourceKind] = {
    "feed": SourceKind("feed", 15 * 60, "entries", _fetch_feed, _detect_feed),
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
