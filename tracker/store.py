"""Recording a poll in the caller's transaction: item states, events, source health.

Everything here writes what the pipeline (`tracker.pipeline`) decided; nothing here decides.
Statements are bounded: rows go in chunks, so a source with 400,000 new items is recorded
in many small statements (SQLite allows 32,766 variables per statement).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from tracker.bulk import collector_paused
from tracker.detect import Detection
from tracker.detect.lifecycle import Health
from tracker.events import EventDraft, thaw
from tracker.models import Event, Item, Lineage, ReleaseScorecard, Source, table
from tracker.observations import Observation

MAX_BACKOFF = timedelta(days=1)
CHUNK = 500
T = TypeVar("T")


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """`values` in slices of at most `size`."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def lock_source(session: Session, source_id: int) -> Source | None:
    """Load a source for writing; on PostgreSQL, concurrent writers of one source queue up."""
    statement = select(Source).where(Source.id == source_id)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    return session.exec(statement).first()


def load_item_states(session: Session, source_id: int | None) -> dict[str, Mapping[str, Any]]:
    """The stored item states of a source, by key, oldest first."""
    with collector_paused():
        rows = session.exec(
            select(Item.key, Item.data).where(Item.source_id == source_id).order_by(col(Item.id))
        )
        return {key: data for key, data in rows}


def health_of(source: Source) -> Health:
    """The part of a source's row that the lifecycle rules read."""
    return Health(
        subject=source.target,
        name=source.name or source.target,
        consecutive_failures=source.consecutive_failures,
        failing_since=source.failing_since,
    )


def write_items(
    session: Session,
    source_id: int | None,
    detection: Detection,
    *,
    previous: Mapping[str, Any],
    now: datetime,
) -> None:
    """Apply a detection's item changes with a few bulk statements per chunk."""
    items = table(Item)
    for chunk in chunks(sorted(detection.removals)):
        session.execute(
            sa.delete(items).where(items.c.source_id == source_id, items.c.key.in_(chunk))
        )
    new = [key for key in detection.upserts if key not in previous]
    changed = [key for key in detection.upserts if key in previous]
    for chunk in chunks(new):
        session.execute(
            sa.insert(items),
            [
                {
                    "source_id": source_id,
                    "key": key,
                    "data": storable(dict(detection.upserts[key])),
                    "first_seen_at": now,
                    "changed_at": now,
                }
                for key in chunk
            ],
        )
    for chunk in chunks(changed):
        session.execute(
            sa.update(items)
            .where(items.c.source_id == source_id, items.c.key == sa.bindparam("item_key"))
            .values(data=sa.bindparam("item_data"), changed_at=now),
            [
                {"item_key": key, "item_data": storable(dict(detection.upserts[key]))}
                for key in chunk
            ],
        )


def write_lineage(
    session: Session,
    source_id: int | None,
    edges: Mapping[str, Sequence[tuple[str, str | None, str]]],
    *,
    forget: Sequence[str] = (),
    now: datetime,
) -> None:
    """Make the source's lineage edges of each child in `edges` (base, relation, origin)
    what is given, and drop those of the children in `forget`; unchanged edges are left
    alone, so a poll that learnt nothing new writes nothing."""
    lineage = table(Lineage)
    stored: dict[str, set[tuple[str, str | None, str]]] = {}
    rows = session.execute(
        sa.select(lineage.c.child, lineage.c.base, lineage.c.relation, lineage.c.origin).where(
            lineage.c.source_id == source_id
        )
    )
    for child, base, relation, origin in rows:
        stored.setdefault(child, set()).add((base, relation, origin))
    stale = [c for c in forget if c in stored]
    stale += [c for c, wanted in edges.items() if stored.get(c, set()) != set(wanted)]
    for children in chunks(sorted(set(stale))):
        session.execute(
            sa.delete(lineage).where(
                lineage.c.source_id == source_id, lineage.c.child.in_(children)
            )
        )
    fresh = [
        {
            "source_id": source_id,
            "child": child,
            "base": base,
            "relation": relation,
            "origin": origin,
            "seen_at": now,
        }
        for child in sorted(set(stale))
        if child in edges
        for base, relation, origin in dict.fromkeys(edges[child])
    ]
    for rows_chunk in chunks(fresh):
        session.execute(sa.insert(lineage), list(rows_chunk))


def write_scorecards(session: Session, rows: Sequence[Mapping[str, Any]], *, now: datetime) -> None:
    """Insert scorecard rows (the `scorecard` table's columns), skipping any whose key is
    already stored: a release recorded twice keeps its first card."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    cards = table(ReleaseScorecard)
    statement = insert(cards).on_conflict_do_nothing(index_elements=["key"])
    for chunk in chunks(rows):
        session.execute(statement, [storable(dict(row)) | {"created_at": now} for row in chunk])


def load_scorecards(
    session: Session,
    *,
    kind: str,
    author: str | None = None,
    source_id: int | None = None,
    subject: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The stored scorecards of one kind, newest first: an author's (any case), a source's,
    or one subject's."""
    cards = table(ReleaseScorecard)
    statement = sa.select(cards).where(cards.c.kind == kind)
    if author is not None:
        statement = statement.where(sa.func.lower(cards.c.author) == author.lower())
    if source_id is not None:
        statement = statement.where(cards.c.source_id == source_id)
    if subject is not None:
        statement = statement.where(cards.c.subject == subject)
    when = sa.func.coalesce(cards.c.published_at, cards.c.created_at)
    statement = statement.order_by(when.desc(), cards.c.id.desc()).limit(limit)
    return [dict(row) for row in session.execute(statement).mappings()]


def event_ids(session: Session, keys: Sequence[str]) -> dict[str, int]:
    """The ids of stored events, by idempotency key."""
    events = table(Event)
    found: dict[str, int] = {}
    for chunk in chunks(list(dict.fromkeys(keys))):
        rows = session.execute(sa.select(events.c.key, events.c.id).where(events.c.key.in_(chunk)))
        found.update({key: event_id for key, event_id in rows})
    return found


def insert_events(
    session: Session, source_id: int | None, drafts: Sequence[EventDraft], *, now: datetime
) -> list[int]:
    """Insert events, skipping any whose idempotency key is already stored; the new ids."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # One statement per chunk: SQLAlchemy batches the rows ("insertmanyvalues") and keeps
    # RETURNING, which gives the ids of the rows that were new.
    events = table(Event)
    statement = insert(events).on_conflict_do_nothing(index_elements=["key"]).returning(events.c.id)
    ids: list[int] = []
    for chunk in chunks(drafts):
        rows = [_event_row(draft, source_id, now) for draft in chunk]
        ids.extend(i for i in session.execute(statement, rows).scalars() if i is not None)
    return sorted(ids)


def _event_row(draft: EventDraft, source_id: int | None, now: datetime) -> dict[str, Any]:
    return {
        "key": draft.key(source_id),
        "kind": draft.kind,
        "severity": draft.severity,
        "source_id": source_id,
        "subject": storable(draft.subject)[:2048],
        "title": storable(draft.title)[:1000],
        "url": storable(draft.url)[:2048] if draft.url else None,
        "detected_at": now,
        "published_at": draft.published_at,
        "before": storable(thaw(draft.before)),
        "after": storable(thaw(draft.after)),
        "data": storable(thaw(draft.data)),
    }


def storable(value: Any) -> Any:
    """Text from outside without NUL characters, which PostgreSQL refuses in text and JSON
    (and which mean nothing in a title anyway); nested data too."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


def record_success(
    session: Session,
    source: Source,
    observation: Observation,
    *,
    now: datetime,
    baselined: bool,
) -> None:
    """A fetch that worked: validators, health reset, next poll, lease released."""
    if not observation.unchanged:
        if baselined:
            source.baselined_at = now
            if source.name is None and observation.title:
                source.name = storable(observation.title)[:300]
        if observation.validators is not None:
            source.etag = observation.validators.etag
            source.last_modified = observation.validators.last_modified
    elif observation.validators is not None:
        source.etag = observation.validators.etag or source.etag
        source.last_modified = observation.validators.last_modified or source.last_modified
    source.content_hash = observation.content_hash
    source.last_success_at = now
    source.last_error = None
    source.consecutive_failures = 0
    source.failing_since = None
    source.deferrals = 0
    if observation.answered:
        answered = [dict(entry) for entry in observation.answered]
        left = [entry for entry in source.poll_focus or [] if entry not in answered]
        source.poll_focus = left or None
    due = now + next_interval(source.every_seconds, observation.fresh_for)
    if observation.partial and source.next_poll_at is not None:
        # A poll of a few named repos does not stand in for the source's scheduled poll.
        due = source.next_poll_at
    _polled(session, source, now, due)


def record_unchanged(
    connection: sa.Connection,
    source: Source,
    observation: Observation,
    *,
    now: datetime,
    lease_token: str | None,
    outcome: dict[str, Any],
) -> bool:
    """Record an unchanged fetch of a healthy source with one UPDATE. False when the
    source needs the full path instead (it was failing, deferred, asked to be polled again
    meanwhile, or its lease passed on)."""
    sources = table(Source)
    values: dict[str, Any] = {
        "last_polled_at": now,
        "last_success_at": now,
        "next_poll_at": now + next_interval(source.every_seconds, observation.fresh_for),
        "lease_until": None,
        "lease_token": None,
        "content_hash": observation.content_hash,
        "last_outcome": outcome,
    }
    if observation.validators is not None:
        values["etag"] = sa.func.coalesce(observation.validators.etag, sources.c.etag)
        values["last_modified"] = sa.func.coalesce(
            observation.validators.last_modified, sources.c.last_modified
        )
    statement = (
        sa.update(sources)
        .where(
            sources.c.id == source.id,
            sources.c.consecutive_failures == 0,
            sources.c.deferrals == 0,
            sources.c.last_error.is_(None),
            sources.c.every_seconds == source.every_seconds,
            sources.c.poll_requested_at.is_(None),
        )
        .values(**values)
    )
    if lease_token is not None:
        statement = statement.where(sources.c.lease_token == lease_token)
    return _rowcount(connection.execute(statement)) == 1


def _rowcount(result: sa.Result[Any]) -> int:
    return int(getattr(result, "rowcount", 0))


def record_deferral(
    session: Session, source: Source, reason: str, *, now: datetime, wait: float
) -> None:
    """Put a poll off (the server asked us to wait); not a failure of the source."""
    source.last_error = storable(reason)[:1000]
    source.deferrals += 1
    wait = min(max(wait, 1.0), MAX_BACKOFF.total_seconds())
    _polled(session, source, now, now + timedelta(seconds=wait))


def record_failure(
    session: Session, source: Source, error: str, health: Health, *, now: datetime
) -> None:
    """Count a failed poll (`health` is the streak after it) and back off."""
    source.last_error = storable(error)[:1000]
    source.consecutive_failures = health.consecutive_failures
    source.failing_since = health.failing_since
    _polled(session, source, now, now + backoff(source.every_seconds, health.consecutive_failures))


def record_outcome(source: Source, outcome: dict[str, Any]) -> None:
    """The poll's result as its requester reads it (`tracker poll`, the API, the task)."""
    source.last_outcome = storable(outcome)


def _polled(session: Session, source: Source, now: datetime, next_poll: datetime) -> None:
    source.last_polled_at = now
    source.next_poll_at = next_poll
    source.lease_until = source.lease_token = None
    session.add(source)


def next_interval(every_seconds: int, fresh_for: float | None) -> timedelta:
    """The source's interval, spread by ±5% so sources added together drift apart, and never
    shorter than the server says the content stays fresh (up to a day)."""
    seconds = every_seconds * random.uniform(0.95, 1.05)
    if fresh_for:
        seconds = max(seconds, min(fresh_for, MAX_BACKOFF.total_seconds()))
    return timedelta(seconds=seconds)


def backoff(every_seconds: int, failures: int) -> timedelta:
    """Wait twice as long after each failure in a row, at most a day."""
    delay = timedelta(seconds=every_seconds * 2 ** min(failures - 1, 20))
    return min(delay, max(MAX_BACKOFF, timedelta(seconds=every_seconds)))
