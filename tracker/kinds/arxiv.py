"""arXiv searches: every paper newly matching the query is a post, its title and abstract
checked for withheld details like a feed entry's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracker.detect import Detection
from tracker.kinds.base import DetectContext, ItemStates, SourceKind, posts, score_posts
from tracker.observations import Observation
from tracker.sources import arxiv

if TYPE_CHECKING:
    from tracker.clients import Clients
    from tracker.models import Source


def fetch(source: Source, clients: Clients, _items: ItemStates) -> Observation:
    settings = clients.settings
    return arxiv.fetch(
        source.target,
        clients.http,
        api_url=settings.arxiv_api_url,
        interval=settings.arxiv_min_interval_seconds,
        last_hash=source.content_hash,
    )


def detect(previous: ItemStates, observation: Observation, context: DetectContext) -> Detection:
    return posts(previous, observation, context, name=context.name or f"arXiv: {context.target}")


KIND = SourceKind("arxiv", 60 * 60, ("paper", "papers"), fetch, detect, scorecards=score_posts)
