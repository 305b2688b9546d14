"""Which posts are releases, and each release's scorecard against the release before it.

A poll hands over the releases it found (`Release`: the facts of a new model, a release
post or a report's new version) and the scorecards kept of earlier ones; this decides the
new cards and the `disclosure.regressed` events. Pure, like the rest of detection.

What a release is compared with, by kind:

- `model` (a Hub repo): the same author's latest model released before it; regressed when
  it discloses fewer dimensions (the contract's rule). The card's fields speak for
  themselves: a card without `datasets` or `model-index` says less than one with them.
- `post` (a feed entry, a page's link, an arXiv paper): the same source's latest release
  post before it. A post is read from its text alone, and a short announcement that does
  not mention the hardware has not withheld it: a post regresses only when it discloses
  fewer dimensions and says at least one of those it lost is withheld.
- `report` (a PDF watched as a page): the previous version of the same document;
  regressed when the new version discloses fewer dimensions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tracker.detect import with_data
from tracker.detect.scorecard import (
    DISCLOSING,
    UNKNOWN,
    DimensionStatus,
    ReleaseFacts,
    Scorecard,
    regression,
    scorecard,
)
from tracker.disclosure import DIMENSIONS, Rule, find_withheld, sentences
from tracker.events import EventDraft

MODEL, POST, REPORT = "model", "post", "report"

# A release post names what it releases near the top, in a few words: a verb of release
# next to a model ("Introducing Example-2, our open 7B model"; "We release the weights";
# "our new model is available on the Hub"). Farther apart, the two are a product post
# ("introducing a platform to build AI models") or a changelog ("launch ... the model").
_RELEASE_VERB = (
    r"(?:introduc(?:e|es|ed|ing)|announc(?:e|es|ed|ing)|releas(?:e|es|ed|ing)|"
    r"launch(?:es|ed|ing)|unveil(?:s|ed|ing)?|open[- ]sourc(?:es|ed|ing)|available)"
)
_MODEL_NOUN = r"(?:models?|weights|checkpoints?|LLMs?|\d+(?:\.\d+)?\s?[BM](?:-parameter)?)"
_NEAR = r"[^.;:!?]{0,40}?"
_RELEASE = re.compile(
    rf"\b{_RELEASE_VERB}\b{_NEAR}\b{_MODEL_NOUN}\b|\b{_MODEL_NOUN}\b{_NEAR}\b{_RELEASE_VERB}\b|"
    rf"^\W*meet\b{_NEAR}\b{_MODEL_NOUN}\b|"
    # "..., our first model built for ..."
    rf"\bour\s+(?:first|new|newest|latest|next|own|most\s+\w+)\b{_NEAR}\bmodels?\b",
    re.IGNORECASE,
)
# Said of what the post is about, in its title or first sentence: "Sandpiper-H1: a hybrid
# state-space model"; "Introducing Example Small 4" (a launch naming a version).
_HEADLINE = re.compile(
    rf"(?i:^[^:]{{1,60}}:\s+an?\s{_NEAR}\bmodels?\b)|"
    # A name in capitals and a version number, not a year ("Announcing the winners of 2026").
    r"^\W*(?i:introducing|announcing|meet)\s+[A-Z][\w.-]*(?:\s+[A-Z][\w.-]*){0,3}\s+"
    r"v?\d{1,3}(?:\.\d+)*\b"
)
# Text turned from HTML may run on without a full stop: only a sentence's start is read.
SENTENCE_START = 300
# Where a post says what it releases: its title and first lines.
LEDE = 1_500


@dataclass(frozen=True)
class Release:
    """A release a poll found. `version` tells apart two cards of one subject (a report's
    revision); `new` is False for a release read only to compare with, of which no card is
    kept yet (the author's model before the new ones, a report's version stored before
    reports were scored): its card is kept too, and it is never reported."""

    facts: ReleaseFacts
    version: str = ""
    new: bool = True
    title: str | None = None  # a post's title, for the report


@dataclass(frozen=True)
class Scored:
    """A release's scorecard, to keep."""

    card: Scorecard
    version: str = ""
    title: str | None = None


def is_release_post(text: str, rules: tuple[Rule, ...]) -> bool:
    """Whether a post's text (title first) announces a release: in its first lines, a verb
    of release next to a model, a sentence releasing weights, or a sentence withholding a
    disclosure dimension (an announcement that keeps the weights back is about a release).
    "Open-source" as an adjective and "launch" as a noun do not count: changelogs and
    tutorials are full of both."""
    lede = text[:LEDE]
    for n, whole in enumerate(sentences(lede)):
        sentence = whole[:SENTENCE_START]
        if _RELEASE.search(sentence) or (n < 2 and _HEADLINE.search(sentence)):
            return True
        if any(p.search(sentence) for p in DISCLOSING["weights"]):
            return True
    return any(finding.dimensions for finding in find_withheld(lede, rules))


def score_releases(
    releases: Sequence[Release],
    earlier: Sequence[Scorecard],
    *,
    rules: tuple[Rule, ...],
) -> tuple[list[Scored], list[EventDraft]]:
    """The cards to keep and the regressions, for `releases` (scored oldest first, each
    compared with the latest card before it among `earlier` and the ones scored before
    it). `earlier` holds the kept cards the releases may be compared with: the author's
    models, the source's posts, the document's versions."""
    known = list(earlier)
    cards: list[Scored] = []
    events: list[EventDraft] = []
    # The releases read only to compare with go first; then the new ones, oldest first.
    for release in sorted(releases, key=lambda r: (r.new, _when(r.facts))):
        card = scorecard(release.facts, rules)
        previous = previous_of(card, known) if release.new else None
        if previous is not None:
            event = regressed(previous, card, version=release.version)
            if event is not None:
                events.append(event)
        cards.append(Scored(card, release.version, release.title))
        known.append(card)
    return cards, events


def previous_of(card: Scorecard, earlier: Iterable[Scorecard]) -> Scorecard | None:
    """The release `card` is compared with: for a report, the latest earlier version of the
    same document; else the same author's latest other release of the same kind published
    before it (none when dates are missing)."""
    when = card.published_at
    if when is None:
        return None
    author = (card.author or "").casefold()
    candidates = [
        c
        for c in earlier
        if c is not card
        and c.kind == card.kind
        and c.published_at is not None
        and (
            (c.subject == card.subject and c.published_at <= when)
            if card.kind == REPORT
            else (
                c.subject != card.subject
                and (c.author or "").casefold() == author
                and c.published_at < when
            )
        )
    ]
    return max(candidates, key=lambda c: c.published_at or when) if candidates else None


def regressed(previous: Scorecard, current: Scorecard, *, version: str = "") -> EventDraft | None:
    """`disclosure.regressed` for `current` against `previous`, by the rule of its kind."""
    fingerprint = f"{version}:after:{previous.subject}" if version else None
    event = regression(previous, current, fingerprint=fingerprint)
    if event is None:
        return None
    lost = set(event.data["lost"])
    if current.kind == POST and not lost & set(current.withheld):
        return None  # only not mentioned: a shorter post, not a closing up
    extra: dict[str, Any] = {"release_kind": current.kind}
    if version:
        extra["version"] = version
    if current.kind == MODEL:
        extra["repo_type"] = "model"
    return with_data(event, **extra)


def card_from_row(row: Mapping[str, Any]) -> Scorecard:
    """A kept scorecard (a row of the `scorecard` table, as a mapping) as a `Scorecard`."""
    stored = row.get("dimensions") or {}
    dimensions = []
    for dim in DIMENSIONS:
        entry = stored.get(dim) if isinstance(stored, Mapping) else None
        entry = entry if isinstance(entry, Mapping) else {}
        dimensions.append(
            DimensionStatus(
                dim, str(entry.get("status") or UNKNOWN), str(entry.get("evidence") or "")
            )
        )
    published = row.get("published_at")
    return Scorecard(
        subject=str(row["subject"]),
        author=row.get("author"),
        kind=str(row["kind"]),
        dimensions=tuple(dimensions),
        url=row.get("url"),
        published_at=published if isinstance(published, datetime) else None,
    )


def dimensions_of(card: Scorecard) -> dict[str, dict[str, str]]:
    """What is kept of a card's dimensions: {dimension: {"status", "evidence"}}."""
    return {d.dimension: {"status": d.status, "evidence": d.evidence} for d in card.dimensions}


def _when(facts: ReleaseFacts) -> float:
    return facts.published_at.timestamp() if facts.published_at else 0.0
