"""Page detection: new matching links are posts (see `feed`); a changed main text is a
`page.changed` with the added and removed lines and a short unified diff, and, when the
clauses its terms carry changed, a `license.terms_changed` (`tracker.detect.terms`).

The stored text state keeps the page's terms (`Terms.as_state()`), so the next reading is
compared clause by clause without the old text being read again. The first reading of a
page, or of its terms (a state stored before terms were read), records them and says
nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from tracker.detect import Detection, withheld_event
from tracker.detect.clauses import MAX_TEXT
from tracker.detect.clauses import Rule as ClauseRule
from tracker.detect.terms import Terms, license_terms_change, terms_of
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
    clause_rules: tuple[ClauseRule, ...] | None = None,
) -> Detection:
    """Compare the stored main text (and its terms) with the new one."""
    detection = Detection()
    before = previous.get(TEXT_KEY)
    old_terms = _stored_terms(before)
    if before is not None and old_terms is not None and _same_text(before, page):
        return detection
    # The recogniser reads at most MAX_TEXT characters; a long report is cut before it
    # is split into sentences, not after.
    terms = terms_of("\n\n".join(page.lines)[:MAX_TEXT], clause_rules)
    state = {
        "lines": list(page.lines),
        "sha256": page.digest,
        "form": page.form,
        "terms": terms.as_state(),
    }
    if before is None:
        detection.upserts[TEXT_KEY] = state | {"rev": 0}
        return detection
    rev = int(before.get("rev", 0))
    detection.upserts[TEXT_KEY] = state | {"rev": rev + 1}
    fingerprint = f"text@{rev}"
    # Lines read another way (a policy page now served as a PDF, a plain-text document
    # once read as HTML) do not compare line by line: the new reading is recorded, and
    # only its terms are compared.
    if not _same_text(before, page) and _form(before) == page.form:
        detection.events += _text_events(before, page, url=url, name=name, rules=rules, rev=rev)
    terms_changed = license_terms_change(
        old_terms, terms, subject=url, url=url, name=name, fingerprint=fingerprint
    )
    if terms_changed is not None:
        detection.events.append(terms_changed)
    return detection


def _text_events(
    before: Mapping[str, Any],
    page: PageText,
    *,
    url: str,
    name: str,
    rules: tuple[Rule, ...],
    rev: int,
) -> list[EventDraft]:
    """`page.changed` (and `disclosure.withheld` over the added lines) for a new text."""
    old_lines = list(before.get("lines", []))
    added, removed = line_changes(old_lines, list(page.lines))
    if not added and not removed:
        return []  # paragraphs only moved: the new order is recorded, nothing reported
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
    withheld = withheld_event(changed, "\n".join(added), rules)
    return [changed, withheld] if withheld else [changed]


def _same_text(before: Mapping[str, Any], page: PageText) -> bool:
    return before.get("sha256") == page.digest and _form(before) == page.form


def _form(state: Mapping[str, Any]) -> str:
    # States stored before pages could be plain text or PDF were all read as HTML.
    return str(state.get("form") or "html")


def _stored_terms(state: Mapping[str, Any] | None) -> Terms | None:
    terms = state.get("terms") if state is not None else None
    return Terms.from_state(terms) if isinstance(terms, Mapping) else None


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
