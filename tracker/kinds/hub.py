"""Hugging Face Hub authors and repos: listings (and info calls to confirm what vanished);
releases, gating, licenses, withdrawals, renames, hollowed-out repos and withheld details in
model cards; the terms of gates and of the pages cards name as their license; the
lineage graph, which says who is exposed when a base model closes up; and the disclosure
scorecards of new models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tracker import lineage, scorecards
from tracker.bulk import collector_paused
from tracker.detect import Detection
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
        hf_endpoint=clients.settings.hf_endpoint,
        # The recording's own rules (stricter terms close up), so that it can take this
        # detection as it is.
        home=clients.settings.home,
    )

    def closed_up(snapshot: HubSnapshot) -> Sequence[str]:
        # Detection is pure: run on what was just fetched, it names the bases that closed
        # up, so their derivatives are counted before the poll is recorded. The recording
        # takes this detection when the states its transaction reads are these (else it
        # detects again, on those).
        if not baselined:
            return []
        observation = Observation(unchanged=False, hub=snapshot)
        detection = detect(items, observation, context)
        snapshot.detected = (items, context, detection)
        return closing_bases(detection.events)

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
    if observation.hub.detected is not None:
        states, used, detection = observation.hub.detected
        observation.hub.detected = None  # handed out once: the recording adds to it
        if used == context and (states is previous or states == previous):
            return detection
    target = hub.parse_target(context.target, context.types)
    with collector_paused():
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
