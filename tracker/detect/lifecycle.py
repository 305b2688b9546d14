"""Source lifecycle events: baselined, failing (several failed polls in a row), recovered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tracker.events import EventDraft


@dataclass(frozen=True)
class Health:
    """The part of a source's stored state that health rules read."""

    subject: str
    name: str
    consecutive_failures: int
    failing_since: datetime | None


def on_failure(
    health: Health, error: str, *, now: datetime, threshold: int
) -> tuple[Health, EventDraft | None]:
    """The health after one more failure, and `source.failing` if this one reaches the threshold.

    The event fires once per streak of failures: on the failure that reaches the threshold.
    """
    since = health.failing_since or now
    after = Health(health.subject, health.name, health.consecutive_failures + 1, since)
    if after.consecutive_failures != threshold:
        return after, None
    return after, EventDraft(
        kind="source.failing",
        subject=health.subject,
        title=f"Source failing: {health.name}",
        fingerprint=since.isoformat(),
        after={"error": error, "consecutive_failures": after.consecutive_failures},
        data={"error": error, "failing_since": since.isoformat()},
    )


def on_success(health: Health, *, threshold: int) -> EventDraft | None:
    """`source.recovered` when a source that was reported failing succeeds again."""
    if health.consecutive_failures < threshold or health.failing_since is None:
        return None
    return EventDraft(
        kind="source.recovered",
        subject=health.subject,
        title=f"Source recovered: {health.name}",
        fingerprint=health.failing_since.isoformat(),
        before={"consecutive_failures": health.consecutive_failures},
        data={"failing_since": health.failing_since.isoformat()},
    )


def baselined(health: Health, *, items: int, noun: tuple[str, str]) -> EventDraft:
    """`source.baselined`: the first successful poll recorded what exists."""
    return EventDraft(
        kind="source.baselined",
        subject=health.subject,
        title=f"Baselined {health.name}: {items} {noun[0] if items == 1 else noun[1]}",
        fingerprint="baseline",
        after={"items": items},
        data={"items": items},
    )
