"""Hugging Face Hub authors and repos: listings (and info calls to confirm what vanished);
releases, gating, licenses, withdrawals, renames, hollowed-out repos and withheld details in
model cards; the terms of gates and of the pages cards name as their license; the
lineage graph, which says who is exposed when a base model closes up; and the disclosure
scorecards of new models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tracker import lineage, scorecards
from tracker.detect import Detection, clauses
from tracker.detect.hub import detect_repos
from tracker.detect.lineage import closing_bases
from tracker.kinds.base import DetectContext, ItemStates, SourceKind
from tracker.observations import HubSnapshot, Observation
from tracker.sources import hub, licensepages

if TYPE_CHECKING:
    from tracker.clients import Clients
    from tracker.models import Source


def fetch(source: Source, clients: Clients, items: ItemStates) -> Observation:
    target = hub.parse_target(source.target, source.types)
    baselined = source.baselined_at is not None
    context = DetectContext(
        target=source.target,
        name=source.name,
        types=source.types,
        links=source.links,
        baselined=baselined,
        rules=(),  # the withheld-details rules play no part in closing up
        hf_endpoint=clients.settings.hf_endpoint,
        clause_rules=clauses.rules_for(clients.settings.home),  # stricter terms close up
    )

    def closed_up(snapshot: HubSnapshot) -> Sequence[str]:
        # Detection is pure: run on what was just fetched, it names the bases that closed
        # up, so their derivatives are counted before the poll is recorded (where detection
        # runs again, on the states the transaction reads).
        if not baselined:
            return []
        observation = Observation(unchanged=False, hub=snapshot)
        return closing_bases(detect(items, observation, context).events)

    def license_pages(snapshot: HubSnapshot) -> int:
        return licensepages.read(
            snapshot,
            items,
            hub=clients.hub,
            fetcher=lambda: clients.http,
            pdf_reader=clients.read_pdf,
            endpoint=clients.settings.hf_endpoint,
        )

    return hub.fetch(
        target,
        clients.hub,
        items,
        focus=(source.poll_focus or []) if baselined else [],
        closed_up=closed_up,
        license_pages=license_pages,
        releases=baselined,
    )


def detect(previous: ItemStates, observation: Observation, context: DetectContext) -> Detection:
    assert observation.hub is not None, "a Hub fetch always carries a snapshot"
    target = hub.parse_target(context.target, context.types)
    return detect_repos(
        previous,
        observation.hub,
        baselined=context.baselined,
        endpoint=context.hf_endpoint,
        author=None if target.name else target.owner,
        disclosure_rules=context.rules,
        clause_rules=context.clause_rules,
    )


KIND = SourceKind(
    "hub",
    15 * 60,
    ("repo", "repos"),
    fetch,
    detect,
    reads_items=True,
    relate=lineage.relate,
    scorecards=scorecards.for_hub,
)
