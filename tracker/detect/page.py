"""Page detection: new matching links are posts (see `feed`); a changed main text is a
`page.changed` with the added and removed lines and a short unified diff."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from tracker.detect import Detection, withheld_event
from tracker.disclosure import Rule
from tracker.events import EventDraft
from tracker.observations import PageText

TEXT_KEY = "text"
DIFF_LINES = 60
LISTED_LINES = 50


def detect_text_change(
    previous: Mapping[str, Mapping[str, Any]],
    page: PageText,
    *,
    url: str,
    name: str,
    rules: tuple[Rule, ...] = (),
) -> Detection:
    """Compare the stored main text with the new one."""
    detection = Detection()
    before = previous.get(TEXT_KEY)
    state = {"lines": list(page.lines), "sha256": page.digest}
    if before is None:
        detection.upserts[TEXT_KEY] = state | {"rev": 0}
        return detection
    if before.get("sha256") == page.digest:
        return detection
    rev = int(before.get("rev", 0))
    detection.upserts[TEXT_KEY] = state | {"rev": rev + 1}
    old_lines = list(before.get("lines", []))
    added, removed = line_changes(old_lines, list(page.lines))
    if not added and not removed:
        return detection  # paragraphs only moved: record the new order, report nothing
    diff = list(
        difflib.unified_diff(old_lines, list(page.lines), "before", "after", n=1, lineterm="")
    )
    changed = EventDraft(
        kind="page.changed",
        subject=url,
        title=f"Page changed: {name}",
        fingerprint=f"text@{rev}",
        url=url,
        before={"sha256": before.get("sha256")},
        after={"sha256": page.digest},
        data={
            "added": added[:LISTED_LINES],
            "removed": removed[:LISTED_LINES],
            "added_count": len(added),
            "removed_count": len(removed),
            "diff": "\n".join(diff[:DIFF_LINES]) + ("\n…" if len(diff) > DIFF_LINES else ""),
        },
    )
    detection.events.append(changed)
    withheld = withheld_event(changed, "\n".join(added), rules)
    if withheld:
        detection.events.append(withheld)
    return detection


def line_changes(old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    """Lines only in `new` and lines only in `old`, in document order (moves are not changes)."""
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    added: list[str] = []
    removed: list[str] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("replace", "delete"):
            removed.extend(old[i1:i2])
        if tag in ("replace", "insert"):
            added.extend(new[j1:j2])
    # A paragraph that only moved shows up as removed and added: not a change of content.
    moved = set(added) & set(removed)
    return [line for line in added if line not in moved], [
        line for line in removed if line not in moved
    ]
