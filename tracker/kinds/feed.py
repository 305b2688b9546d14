"""Feeds (RSS, Atom, RDF): a conditional GET, parsed only when the bytes changed; every
entry not seen before is a post."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracker.detect import Detection
from tracker.kinds.base import DetectContext, ItemStates, SourceKind, posts, score_posts
from tracker.observations import Observation, Validators
from tracker.sources import feed

if TYPE_CHECKING:
    from tracker.clients import Clients
    from tracker.models import Source


def fetch(source: Source, clients: Clients, _items: ItemStates) -> Observation:
    return feed.fetch(
        source.target,
        clients.http,
        validators=Validators(etag=source.etag, last_modified=source.last_modified),
        last_hash=source.content_hash,
        parser=clients.parse_feed,
        baseline=source.baselined_at is None,
    )


def detect(previous: ItemStates, observation: Observation, context: DetectContext) -> Detection:
    return posts(
        previous, observation, context, name=context.name or observation.title or context.target
    )


KIND = SourceKind("feed", 15 * 60, ("entry", "entries"), fetch, detect, scorecards=score_posts)
