"""Web pages: new links matching a selector are posts; without a selector, the page's main
text (an HTML page's, a plain-text document's or a PDF's) is watched: a change is a
`page.changed` with its diff, and a change of the clauses its terms carry is a
`license.terms_changed`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracker import scorecards
from tracker.detect import Detection
from tracker.detect.page import detect_text_change
from tracker.kinds.base import DetectContext, ItemStates, SourceKind, posts
from tracker.observations import Observation, Validators
from tracker.sources import page

if TYPE_CHECKING:
    from tracker.clients import Clients
    from tracker.models import Source


def fetch(source: Source, clients: Clients, _items: ItemStates) -> Observation:
    return page.fetch(
        source.target,
        clients.http,
        links=source.links,
        validators=Validators(etag=source.etag, last_modified=source.last_modified),
        last_hash=source.content_hash,
        pdf_reader=clients.read_pdf,
    )


def detect(previous: ItemStates, observation: Observation, context: DetectContext) -> Detection:
    name = context.name or observation.title or context.target
    if context.links:
        return posts(previous, observation, context, name=name)
    return detect_text_change(
        previous,
        observation.text,
        url=context.target,
        name=name,
        rules=context.rules,
        clause_rules=context.clause_rules,
    )


KIND = SourceKind("page", 60 * 60, ("item", "items"), fetch, detect, scorecards=scorecards.for_page)
