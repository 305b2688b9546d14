"""Which events reach which subscription: kinds, sources, severity, text."""

from __future__ import annotations

from tracker.events import severity_rank
from tracker.models import Event, Subscription


def matches(subscription: Subscription, event: Event) -> bool:
    """Whether the event passes every filter of the subscription."""
    if not subscription.enabled:
        return False
    if is_lifecycle_info(event) and not any(
        _kind_matches(k, event.kind) for k in subscription.kinds
    ):
        # A first poll baselines every source at once: eight sources would be eight
        # messages to a catch-all subscription. Only those that name these kinds get them.
        return False
    if subscription.kinds and not any(_kind_matches(k, event.kind) for k in subscription.kinds):
        return False
    if subscription.source_ids and event.source_id not in subscription.source_ids:
        return False
    if severity_rank(event.severity) < severity_rank(subscription.min_severity):
        return False
    if subscription.match:
        haystack = f"{event.title}\n{event.subject}\n{event.url or ''}".casefold()
        return subscription.match.casefold() in haystack
    return True


def is_lifecycle_info(event: Event) -> bool:
    """`source.baselined`, `source.recovered`: news about the tracker, not about a lab."""
    return event.kind.startswith("source.") and event.severity == "info"


def _kind_matches(pattern: str, kind: str) -> bool:
    return kind.startswith(pattern[:-1]) if pattern.endswith(".*") else kind == pattern
