"""Hugging Face Hub authors and repos: listings (and info calls to confirm what vanished);
releases, gating, licenses, withdrawals, renames and withheld details in model cards."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tracker.detect import Detection
from tracker.detect.hub import detect_repos
from tracker.kinds.base import DetectContext, ItemStates, SourceKind
from tracker.observations import Observation
from tracker.sources import hub

if TYPE_CHECKING:
    from tracker.clients import Clients
    from tracker.models import Source


def fetch(source: Source, clients: Clients, items: ItemStates) -> Observation:
    return hub.fetch(hub.parse_target(source.target, source.types), clients.hub, items)


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
    )


KIND = SourceKind("hub", 15 * 60, ("repo", "repos"), fetch, detect, reads_items=True)
