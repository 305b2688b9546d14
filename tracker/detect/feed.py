"""Feed detection: every entry not seen before is a `post.published` (after the baseline).

Two things a real feed can do that must not flood the log: regenerate its ids on every
fetch (every entry looks new), and carry more entries than anyone reads. When most entries
of a feed seen before are new at once, that is one `source.churned` event, not thousands
of posts; and a source keeps at most `MAX_ENTRIES` entries, forgetting the oldest of those
no longer in the document.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from tracker.detect import Detection, withheld_event
from tracker.disclosure import Rule
from tracker.events import EventDraft
from tracker.observations import MAX_ENTRIES, FeedEntry

# Churn: at least this many new entries at once, making up at least this share of the feed.
CHURN_MIN_NEW = 100
CHURN_SHARE = 0.8


def detect_posts(
    previous: Mapping[str, Mapping[str, Any]],
    entries: Sequence[FeedEntry],
    *,
    baselined: bool,
    rules: tuple[Rule, ...] = (),
    subject: str = "",
    name: str = "",
) -> Detection:
    """New entries become posts; known entries only refresh their stored state.

    Entries are matched by identity, so a reordered feed or an edited title yields nothing,
    and an entry that dropped off the feed and came back is not announced twice.
    `previous` is in the order the entries were first seen (oldest first).
    """
    detection = Detection()
    current = _unique(entries[:MAX_ENTRIES])
    fresh = [entry for entry in current if entry.key not in previous]
    churned = baselined and bool(previous) and _is_churn(len(fresh), len(current))
    for entry in current:
        state = entry.state()
        if previous.get(entry.key) != state:
            detection.upserts[entry.key] = state
    if churned:
        detection.events.append(_churn(fresh, len(current), subject=subject, name=name))
    elif baselined:
        for entry in fresh:
            post = _post(entry)
            detection.events.append(post)
            withheld = withheld_event(post, entry.text(), rules) if rules else None
            if withheld:
                detection.events.append(withheld)
    detection.removals = _forgotten(previous, current, len(fresh))
    return detection


def _unique(entries: Sequence[FeedEntry]) -> list[FeedEntry]:
    seen: dict[str, FeedEntry] = {}
    for entry in entries:
        seen.setdefault(entry.key, entry)
    return list(seen.values())


def _is_churn(new: int, total: int) -> bool:
    return new >= CHURN_MIN_NEW and new >= CHURN_SHARE * total


def _forgotten(
    previous: Mapping[str, Mapping[str, Any]], current: Sequence[FeedEntry], fresh: int
) -> set[str]:
    """The oldest stored entries that are no longer in the document, as many as it takes to
    keep the source at `MAX_ENTRIES`."""
    excess = len(previous) + fresh - MAX_ENTRIES
    if excess <= 0:
        return set()
    present = {entry.key for entry in current}
    gone = [key for key in previous if key not in present]
    return set(gone[:excess])


def _churn(fresh: Sequence[FeedEntry], total: int, *, subject: str, name: str) -> EventDraft:
    digest = hashlib.sha256("\n".join(sorted(e.key for e in fresh)).encode()).hexdigest()
    return EventDraft(
        kind="source.churned",
        subject=subject,
        title=f"{len(fresh):,} of {total:,} entries new at once: {name or subject}",
        fingerprint=digest[:32],
        after={"new_entries": len(fresh), "entries": total},
        data={
            "new_entries": len(fresh),
            "entries": total,
            "examples": [{"title": e.title, "url": e.link} for e in fresh[:5]],
            "note": "most entry ids changed at once (a feed that regenerates its ids, or a "
            "page whose links all moved); the entries are recorded, not announced one by one",
        },
    )


def _post(entry: FeedEntry) -> EventDraft:
    data: dict[str, Any] = {"entry_id": entry.key}
    summary = entry.summary()
    if summary:
        data["summary"] = summary
    if entry.author:
        data["author"] = entry.author
    data.update({k: v for k, v in entry.extra.items() if k not in data})
    return EventDraft(
        kind="post.published",
        subject=entry.link or entry.key,
        title=entry.title,
        fingerprint=entry.key,
        url=entry.link,
        published_at=entry.published_at,
        after={"title": entry.title, "url": entry.link},
        data=data,
    )
