"""Pure detection: (what was stored, what was observed) -> (new state, events).

Nothing in this package touches the network or the database, so every rule is tested with
plain data. Each source kind has its own module; `lifecycle` covers every kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tracker.disclosure import Rule, find_withheld, withheld_dimensions
from tracker.events import EventDraft


@dataclass
class Detection:
    """What a poll changes: item states to write or delete (by key) and the events it yields."""

    upserts: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    removals: set[str] = field(default_factory=set)
    events: list[EventDraft] = field(default_factory=list)


def withheld_event(
    cause: EventDraft, text: str, rules: tuple[Rule, ...], **data: Any
) -> EventDraft | None:
    """`disclosure.withheld` beside `cause` when its text says details are withheld."""
    findings = find_withheld(text, rules) if rules else []
    if not findings:
        return None
    first = findings[0]
    return EventDraft(
        kind="disclosure.withheld",
        subject=cause.subject,
        title=f"Details withheld: {cause.title}",
        fingerprint=cause.fingerprint,
        url=cause.url,
        published_at=cause.published_at,
        after={"sentence": first.sentence},
        data={
            "sentence": first.sentence,
            "rule": first.rule,
            "cause": cause.kind,
            "matches": [
                {"sentence": f.sentence, "rule": f.rule, "dimensions": list(f.dimensions)}
                for f in findings[:10]
            ],
            "dimensions": withheld_dimensions(findings),
            **data,
        },
    )


def with_data(event: EventDraft, **data: Any) -> EventDraft:
    """The event with more keys in its `data` (drafts are immutable)."""
    return replace(event, data={**event.data, **data})
