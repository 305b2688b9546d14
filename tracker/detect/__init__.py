"""Pure detection: (what was stored, what was observed) -> (new state, events).

Nothing in this package touches the network or the database, so every rule is tested with
plain data. Each source kind has its own module; `health` covers every kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracker.events import EventDraft


@dataclass
class Detection:
    """What a poll changes: item states to write or delete (by key) and the events it yields."""

    upserts: dict[str, dict[str, Any]] = field(default_factory=dict)
    removals: set[str] = field(default_factory=set)
    events: list[EventDraft] = field(default_factory=list)
