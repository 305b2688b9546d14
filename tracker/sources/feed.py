"""RSS, Atom, RDF and JSON Feed: fetch with a conditional GET; parse (see
`tracker.feedparse`) only what is new."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tracker.errors import NotAFeedError
from tracker.http import Fetcher, Validators
from tracker.observations import Observation

if TYPE_CHECKING:
    from tracker.feedparse import ParsedFeed

__all__ = ["NotAFeedError", "fetch", "parse"]

ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/xml;q=0.8, text/xml;q=0.8, "
    "application/json;q=0.8, */*;q=0.1"
)


def parse(
    body: bytes,
    *,
    url: str,
    content_type: str | None = None,
    fast: bool = True,
    baseline: bool = False,
) -> ParsedFeed:
    """`tracker.feedparse.parse`, imported by the first body to read: a poll of unchanged
    feeds never loads the parsers."""
    from tracker import feedparse

    return feedparse.parse(body, url=url, content_type=content_type, fast=fast, baseline=baseline)


def fetch(
    url: str,
    fetcher: Fetcher,
    *,
    validators: Validators | None,
    last_hash: str | None,
    parser: Callable[..., ParsedFeed] | None = None,
    baseline: bool = False,
) -> Observation:
    """Fetch a feed; parse it (with `parser`, else in this thread) only if it is new.
    `baseline`: the source's first poll, which reads only what it stores of each entry
    (`tracker.feedparse.parse`)."""
    response = fetcher.get(url, validators=validators, accept=ACCEPT)
    if response.not_modified:
        return Observation(
            unchanged=True,
            validators=validators,
            content_hash=last_hash,
            requests=response.requests,
        )
    digest = response.body_hash
    if digest == last_hash:
        # Many servers ignore conditional requests but send identical bytes; parsing them
        # again would be the most expensive part of polling an unchanged feed.
        return Observation(
            unchanged=True,
            validators=response.validators,
            content_hash=digest,
            requests=response.requests,
            fresh_for=response.fresh_for,
        )
    parsed = (parser or parse)(
        response.body,
        url=response.url,
        content_type=response.headers.get("content-type"),
        baseline=baseline,
    )
    return Observation(
        unchanged=False,
        entries=parsed.entries,
        title=parsed.title,
        validators=response.validators,
        content_hash=digest,
        requests=response.requests,
        fresh_for=max(response.fresh_for or 0, (parsed.ttl_minutes or 0) * 60) or None,
    )
