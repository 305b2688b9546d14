"""Disclosure scorecards kept between polls: what each release disclosed.

Each release a poll finds is scored in the poll's transaction, compared with the release
before it, and kept in the `scorecard` table; a `disclosure.regressed` joins the poll's
events when it discloses less. What a release is:

- Hub: a `model.published` whose facts the fetch read (`HubSnapshot.releases`, at most
  `sources.hub.MAX_RELEASES` a poll; a model built on one of its owner's own models, such
  as a lab's quantized variant, is none). The author's model before the new ones is read
  too and kept when no card of it is, so that the first release after a source is added
  has something to be compared with.
- Feeds, arXiv searches, pages watched for links: every `post.published` that reads as a
  release post (`tracker.detect.releases.is_release_post`).
- Pages whose text is a PDF (technical reports): the first reading and each
  `page.changed`, each version compared with the one before.

The decisions are pure (`tracker.detect.releases`); this module reads and writes the kept
cards and hands plain data over.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from tracker import store
from tracker.detect import Detection, with_data
from tracker.detect.hub import repo_url
from tracker.detect.page import TEXT_KEY
from tracker.detect.releases import (
    MODEL,
    POST,
    REPORT,
    Release,
    Scored,
    card_from_row,
    dimensions_of,
    is_release_post,
    score_releases,
)
from tracker.detect.scorecard import ReleaseFacts, Scorecard
from tracker.kinds.base import DetectContext
from tracker.models import Item, Source
from tracker.observations import Observation, repo_key


def for_hub(
    session: Session,
    source: Source,
    observation: Observation,
    detection: Detection,
    context: DetectContext,
) -> None:
    """Score the models this poll published (and the author's model before them)."""
    snapshot = observation.hub
    if snapshot is None or not snapshot.releases:
        return
    published = {
        repo_key("model", e.subject): e for e in detection.events if e.kind == "model.published"
    }
    releases = []
    for key, found in snapshot.releases.items():
        event = published.get(key)
        if event is None and not found.earlier:
            continue  # not published by this poll after all (a rename, say)
        repo_id = key.partition(":")[2]
        url = event.url if event is not None else repo_url(context.hf_endpoint, "model", repo_id)
        facts = ReleaseFacts.from_model_info(found.info, found.readme, url=url)
        if found.earlier and store.load_scorecards(
            session, kind=MODEL, subject=facts.subject, limit=1
        ):
            continue  # kept already: compared with as it was kept
        releases.append(Release(facts, new=not found.earlier))
    authors = sorted({r.facts.author for r in releases if r.facts.author})
    earlier = [
        card_from_row(row)
        for author in authors
        for row in store.load_scorecards(session, kind=MODEL, author=author)
    ]
    events = _keep(session, source, releases, earlier, context)
    # A regression is a Hub event like the publication beside it: the same openness.
    detection.events += [
        with_data(e, openness=published[repo_key("model", e.subject)].data.get("openness"))
        if repo_key("model", e.subject) in published
        else e
        for e in events
    ]


def for_posts(
    session: Session,
    source: Source,
    observation: Observation,
    detection: Detection,
    context: DetectContext,
) -> None:
    """Score the release posts among this poll's new posts."""
    entries = {entry.key: entry for entry in observation.entries}
    author = _label(source, observation)
    now = datetime.now(UTC)
    releases = []
    for event in detection.events:
        entry = entries.get(event.fingerprint) if event.kind == "post.published" else None
        if entry is None:
            continue
        text = entry.text()
        if not is_release_post(text, context.rules):
            continue
        facts = ReleaseFacts.from_text(
            event.subject,
            text,
            author=author,
            url=event.url,
            published_at=entry.published_at or now,
        )
        releases.append(Release(facts, title=entry.title))
    if not releases:
        return
    earlier = _source_cards(session, source, POST, author)
    detection.events += _keep(session, source, releases, earlier, context)


def for_page(
    session: Session,
    source: Source,
    observation: Observation,
    detection: Detection,
    context: DetectContext,
) -> None:
    """Links: release posts. A PDF's text: a report, scored at its first reading and at
    each new version."""
    if source.links:
        for_posts(session, source, observation, detection, context)
        return
    page, state = observation.page, detection.upserts.get(TEXT_KEY)
    if page is None or page.form != "pdf" or state is None:
        return
    rev = int(state.get("rev", 0))
    changed = any(e.kind == "page.changed" for e in detection.events)
    if rev != 0 and not changed:
        return  # read again without a change of its paragraphs (moved, or terms recorded)
    author = _label(source, observation)
    title = observation.title or source.name
    now = datetime.now(UTC)
    releases = [Release(_report(source, page.lines, author, now), f"text@{rev}", title=title)]
    earlier = _source_cards(session, source, REPORT, author)
    if changed and not earlier:
        # A report watched since before reports were scored: its last version is scored
        # from the stored text, to compare the new one with.
        stored = _stored_text(session, source)
        if stored is not None:
            lines, seen_at = stored
            old = _report(source, lines, author, seen_at)
            releases.append(Release(old, f"text@{rev - 1}", new=False, title=title))
    detection.events += _keep(session, source, releases, earlier, context)


def _keep(
    session: Session,
    source: Source,
    releases: Sequence[Release],
    earlier: Sequence[Scorecard],
    context: DetectContext,
) -> list[Any]:
    """Score and keep; the regressions found."""
    if not releases:
        return []
    cards, events = score_releases(releases, earlier, rules=context.rules)
    store.write_scorecards(session, [_row(source, s) for s in cards], now=datetime.now(UTC))
    return events


def _row(source: Source, scored: Scored) -> dict[str, Any]:
    card = scored.card
    # A model's card is kept once, whichever source saw it; a report's versions are the
    # source's own revisions.
    owner = str(source.id) if card.kind == REPORT else ""
    identity = "\x00".join([card.kind, card.subject, scored.version, owner])
    return {
        "key": hashlib.sha256(identity.encode()).hexdigest(),
        "source_id": source.id,
        "author": (card.author or source.target)[:200],
        "kind": card.kind,
        "subject": card.subject[:2048],
        "version": scored.version[:64],
        "title": scored.title[:1000] if scored.title else None,
        "url": card.url[:2048] if card.url else None,
        "score": card.score,
        "dimensions": dimensions_of(card),
        "published_at": card.published_at,
    }


def _source_cards(session: Session, source: Source, kind: str, author: str) -> list[Scorecard]:
    """The source's kept cards of one kind, under its name now (a source renamed keeps its
    history)."""
    rows = store.load_scorecards(session, kind=kind, source_id=source.id)
    return [replace(card_from_row(row), author=author) for row in rows]


def _report(source: Source, lines: Sequence[str], author: str, when: datetime) -> ReleaseFacts:
    facts = ReleaseFacts.from_text(
        source.target, "\n".join(lines), author=author, url=source.target, published_at=when
    )
    return replace(facts, kind=REPORT)


def _stored_text(session: Session, source: Source) -> tuple[list[str], datetime] | None:
    """The page text as stored before this poll, and since when."""
    row = session.exec(
        select(Item.data, Item.changed_at).where(Item.source_id == source.id, Item.key == TEXT_KEY)
    ).first()
    if row is None:
        return None
    data, changed_at = row
    lines = data.get("lines") if isinstance(data, Mapping) else None
    return ([str(line) for line in lines], changed_at) if isinstance(lines, list) else None


def _label(source: Source, observation: Observation) -> str:
    """Who a source's posts and reports are by, in the report: its name, else the feed's
    or page's title, else its target."""
    return (source.name or observation.title or source.target)[:200]
