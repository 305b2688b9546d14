"""Feed detection: every entry not seen before is a `post.published` (after the baseline)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracker.detect import Detection, withheld_event
from tracker.disclosure import Rule
from tracker.events import EventDraft
from tracker.observations import FeedEntry


def detect_posts(
    previous: Mapping[str, Mapping[str, Any]],
    entries: list[FeedEntry],
    *,
    baselined: bool,
    rules: tuple[Rule, ...] = (),
) -> Detection:
    """New entries become posts; known entries only refresh their stored state.

    Entries are matched by identity, so a reordered feed or an edited title yields nothing,
    and an entry that dropped off the feed and came back is not announced twice.
    """
    detection = Detection()
    for entry in entries:
        state = entry.state()
        known = previous.get(entry.key)
        if known == state or entry.key in detection.upserts:
            continue
        detection.upserts[entry.key] = state
        if known is None and baselined:
            post = _post(entry)
            detection.events.append(post)
            withheld = withheld_event(post, entry.text(), rules) if rules else None
            if withheld:
                detection.events.append(withheld)
    return detection


def _post(entry: FeedEntry) -> EventDraft:
    data: dict[str, Any] = {"entry_id": entry.key}
    summary = entry.summary()
    if summary:
        data["summary"] = summary
    if entry.author:
        data["author"] = entry.author
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
