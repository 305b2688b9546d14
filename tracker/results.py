"""How a poll went: one shape for `tracker poll --json`, the API and the Celery task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# What became of one source in a poll.
OK = "ok"  # fetched and recorded (changed or not)
FAILED = "failed"  # the fetch failed; counted on the source
DEFERRED = "deferred"  # the server asked us to wait (429, 503 with Retry-After): not a failure
MOOT = "moot"  # the source was removed, or its lease passed to another poller: nothing recorded
INTERRUPTED = "interrupted"  # the poll was stopped (Ctrl-C, SIGTERM) first: nothing recorded
STATUSES = (OK, FAILED, DEFERRED, MOOT, INTERRUPTED)

# How many event ids a source's result lists (the count is always complete).
LISTED_EVENT_IDS = 1000


@dataclass
class SourceResult:
    """How polling one source went."""

    source_id: int
    kind: str
    name: str
    status: str = OK
    error: str | None = None
    unchanged: bool = False
    event_ids: list[int] = field(default_factory=list)
    # Pending deliveries written with the events (not in the JSON): none, and no sender
    # needs to look.
    deliveries: int = 0
    requests: int = 0
    duration_seconds: float = 0.0
    # A poll was asked for after this one had started fetching: poll again.
    rerun: bool = False

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def deferred(self) -> bool:
        return self.status == DEFERRED

    @property
    def moot(self) -> bool:
        return self.status == MOOT

    @property
    def recorded(self) -> bool:
        """Whether this poll's outcome is in the database."""
        return self.status in (OK, FAILED, DEFERRED)

    def as_dict(self) -> dict[str, Any]:
        return {
            "source_id": self.source_id,
            "kind": self.kind,
            "name": self.name,
            "status": self.status,
            "ok": self.ok,
            "error": self.error,
            "deferred": self.deferred,
            "unchanged": self.unchanged,
            "events": len(self.event_ids),
            "event_ids": self.event_ids[:LISTED_EVENT_IDS],
            "requests": self.requests,
            "duration_seconds": round(self.duration_seconds, 3),
        }


@dataclass
class PollReport:
    """How a whole poll run went."""

    results: list[SourceResult] = field(default_factory=list)
    requests: int = 0
    hub_requests: int = 0
    body_bytes: int = 0
    duration_seconds: float = 0.0
    interrupted: bool = False

    @property
    def event_ids(self) -> list[int]:
        return sorted(i for result in self.results for i in result.event_ids)

    @property
    def failed(self) -> list[SourceResult]:
        return [result for result in self.results if result.status == FAILED]

    @property
    def deferred(self) -> list[SourceResult]:
        return [result for result in self.results if result.status == DEFERRED]

    @property
    def unfinished(self) -> list[SourceResult]:
        return [result for result in self.results if result.status == INTERRUPTED]

    def as_dict(self) -> dict[str, Any]:
        return {
            "sources": len(self.results),
            "ok": sum(r.ok for r in self.results),
            "failed": len(self.failed),
            "deferred": len(self.deferred),
            "unchanged": sum(r.unchanged for r in self.results),
            "interrupted": self.interrupted,
            "unfinished": len(self.unfinished),
            "events": len(self.event_ids),
            "event_ids": self.event_ids,
            "requests": self.requests,
            "hub_requests": self.hub_requests,
            "body_bytes": self.body_bytes,
            "duration_seconds": round(self.duration_seconds, 3),
            "results": [r.as_dict() for r in self.results],
        }
