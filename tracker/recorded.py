"""The item states this process last recorded for a source, kept for its next poll.

A Hub author's stored states are tens of megabytes of JSON (a gated repo keeps its gate's
sentences), decoded again on every poll to find that almost nothing changed. Item states
are written only where a poll is recorded, and recording a poll moves the source's
`last_polled_at` in the same transaction: while the source still shows the moment this
process's last committed recording wrote, the states it wrote are the stored ones, and the
next poll takes them instead of reading them. Another process's poll, a failed poll, or
anything else that moves the stamp sends the next poll back to the database.

Kept are the states as the database gives them back (what was written goes through
JSON once), for the sources polled last, up to `MAX_STATES` states in all.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tracker.detect import Detection
from tracker.store import storable

MAX_STATES = 100_000
# A poll that changed more than this share of a source's states (a baseline) keeps
# nothing: reading them back costs the next poll no more than passing them through JSON.
MAX_CHANGED_SHARE = 0.1

_kept: OrderedDict[int, tuple[datetime, Mapping[str, Mapping[str, Any]]]] = OrderedDict()
_lock = threading.Lock()


def recalled(source_id: int | None, polled_at: datetime | None) -> Mapping[str, Any] | None:
    """The source's item states as this process last recorded them, if `polled_at` (the
    source's `last_polled_at` as just read) is the moment that recording wrote."""
    if source_id is None or polled_at is None:
        return None
    with _lock:
        found = _kept.get(source_id)
        if found is None or found[0] != polled_at:
            return None
        _kept.move_to_end(source_id)
        return found[1]


def remember(
    source_id: int | None,
    polled_at: datetime,
    previous: Mapping[str, Mapping[str, Any]],
    detection: Detection,
) -> None:
    """Keep the states a committed recording left: `previous` (the states it read) with
    the detection's removals and upserts applied as `tracker.store.write_items` does."""
    if source_id is None:
        return
    if len(detection.upserts) > max(1, len(previous)) * MAX_CHANGED_SHARE:
        forget(source_id)
        return
    states = dict(previous)
    for key in detection.removals:
        states.pop(key, None)
    for key, state in detection.upserts.items():
        if key in previous and key not in states:
            continue  # removed above: the update found no row
        states[key] = json.loads(json.dumps(storable(dict(state))))
    with _lock:
        _kept.pop(source_id, None)
        _kept[source_id] = (polled_at, states)
        total = sum(len(kept) for _, kept in _kept.values())
        while total > MAX_STATES and _kept:
            _, (_, dropped) = _kept.popitem(last=False)
            total -= len(dropped)


def forget(source_id: int | None) -> None:
    """Keep nothing of the source (the next poll reads its states)."""
    with _lock:
        _kept.pop(source_id or 0, None)
