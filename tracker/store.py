"""Recording a poll: item states, events and source health, in the caller's transaction."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, select

from tracker.alerts import outbox
from tracker.config import Settings
from tracker.detect import Detection
from tracker.detect.lifecycle import Health, baselined, on_failure, on_success
from tracker.events import EventDraft
from tracker.models import Event, Item, Source
from tracker.observations import Observation
from tracker.sources import kind_of

MAX_BACKOFF = timedelta(days=1)


def display_name(source: Source) -> str:
    return source.name or source.target


def health_of(source: Source) -> Health:
    return Health(
        subject=source.target,
        name=display_name(source),
        consecutive_failures=source.consecutive_failures,
        failing_since=source.failing_since,
    )


def record_success(
    session: Session, source: Source, observation: Observation, *, now: datetime, settings: Settings
) -> list[int]:
    """Store what a successful fetch observed; returns the ids of the new events."""
    drafts: list[EventDraft] = []
    recovered = on_success(health_of(source), threshold=settings.failing_after)
    if recovered:
        drafts.append(recovered)
    if not observation.unchanged:
        kind = kind_of(source.kind)
        previous = load_item_states(session, source.id)
        baselined_before = source.baselined_at is not None
        detection = kind.detect(previous, observation, baselined_before, source, settings)
        write_items(session, source.id, detection, previous=previous, now=now)
        drafts.extend(detection.events)
        if source.baselined_at is None:
            source.baselined_at = now
            if source.name is None and observation.title:
                source.name = observation.title[:300]
            drafts.append(
                baselined(health_of(source), items=len(detection.upserts), noun=kind.item_noun)
            )
        if observation.validators is not None:
            source.etag = observation.validators.etag
            source.last_modified = observation.validators.last_modified
        source.content_hash = observation.content_hash
    elif observation.validators is not None:
        source.etag = observation.validators.etag or source.etag
        source.last_modified = observation.validators.last_modified or source.last_modified
        source.content_hash = observation.content_hash
    source.last_polled_at = now
    source.last_success_at = now
    source.last_error = None
    source.consecutive_failures = 0
    source.failing_since = None
    source.next_poll_at = now + next_interval(source.every_seconds, observation.fresh_for)
    source.lease_until = source.lease_token = None
    session.add(source)
    return insert_events(session, source.id, drafts, now=now)


def record_unchanged(
    connection: sa.Connection,
    source: Source,
    observation: Observation,
    *,
    now: datetime,
    lease_token: str | None,
) -> bool:
    """Record an unchanged fetch of a healthy source with one UPDATE. False when the
    source needs the full path instead (it was failing, or its lease passed on)."""
    table = Source.__table__
    values: dict[str, Any] = {
        "last_polled_at": now,
        "last_success_at": now,
        "next_poll_at": now + next_interval(source.every_seconds, observation.fresh_for),
        "lease_until": None,
        "lease_token": None,
        "content_hash": observation.content_hash,
    }
    if observation.validators is not None:
        values["etag"] = sa.func.coalesce(observation.validators.etag, table.c.etag)
        values["last_modified"] = sa.func.coalesce(
            observation.validators.last_modified, table.c.last_modified
        )
    statement = (
        sa.update(table)
        .where(
            table.c.id == source.id,
            table.c.consecutive_failures == 0,
            table.c.last_error.is_(None),
            table.c.every_seconds == source.every_seconds,
        )
        .values(**values)
    )
    if lease_token is not None:
        statement = statement.where(table.c.lease_token == lease_token)
    return connection.execute(statement).rowcount == 1


def next_interval(every_seconds: int, fresh_for: float | None) -> timedelta:
    """The source's interval, spread by ±5% so sources added together drift apart, and never
    shorter than the server says the content stays fresh (up to a day)."""
    seconds = every_seconds * random.uniform(0.95, 1.05)
    if fresh_for:
        seconds = max(seconds, min(fresh_for, MAX_BACKOFF.total_seconds()))
    return timedelta(seconds=seconds)


def record_deferral(
    session: Session, source: Source, reason: str, *, now: datetime, wait: float
) -> None:
    """Put a poll off (the server asked us to wait); not a failure of the source."""
    source.last_polled_at = now
    source.last_error = reason[:1000]
    source.next_poll_at = now + timedelta(seconds=min(max(wait, 1.0), MAX_BACKOFF.total_seconds()))
    source.lease_until = source.lease_token = None
    session.add(source)


def record_failure(
    session: Session, source: Source, error: str, *, now: datetime, settings: Settings
) -> list[int]:
    """Count a failed poll; `source.failing` when the streak reaches the threshold."""
    health, failing = on_failure(
        health_of(source), error, now=now, threshold=settings.failing_after
    )
    source.last_polled_at = now
    source.last_error = error[:1000]
    source.consecutive_failures = health.consecutive_failures
    source.failing_since = health.failing_since
    source.next_poll_at = now + backoff(source.every_seconds, health.consecutive_failures)
    source.lease_until = source.lease_token = None
    session.add(source)
    return insert_events(session, source.id, [failing] if failing else [], now=now)


def backoff(every_seconds: int, failures: int) -> timedelta:
    """Wait twice as long after each failure in a row, at most a day."""
    delay = timedelta(seconds=every_seconds * 2 ** min(failures - 1, 20))
    return min(delay, max(MAX_BACKOFF, timedelta(seconds=every_seconds)))


def load_item_states(session: Session, source_id: int | None) -> dict[str, dict]:
    rows = session.exec(select(Item.key, Item.data).where(Item.source_id == source_id))
    return {key: data for key, data in rows}


def write_items(
    session: Session,
    source_id: int | None,
    detection: Detection,
    *,
    previous: Mapping[str, Any],
    now: datetime,
) -> None:
    """Apply a detection's item changes with a few bulk statements (Hub authors have 10,000s)."""
    table = Item.__table__
    if detection.removals:
        for chunk in _chunks(sorted(detection.removals)):
            session.execute(
                sa.delete(table).where(table.c.source_id == source_id, table.c.key.in_(chunk))
            )
    new = [key for key in detection.upserts if key not in previous]
    changed = [key for key in detection.upserts if key in previous]
    if new:
        session.execute(
            sa.insert(table),
            [
                {
                    "source_id": source_id,
                    "key": key,
                    "data": detection.upserts[key],
                    "first_seen_at": now,
                    "changed_at": now,
                }
                for key in new
            ],
        )
    if changed:
        session.execute(
            sa.update(table)
            .where(table.c.source_id == source_id, table.c.key == sa.bindparam("item_key"))
            .values(data=sa.bindparam("item_data"), changed_at=now),
            [{"item_key": key, "item_data": detection.upserts[key]} for key in changed],
        )


def _chunks(values: Sequence[str], size: int = 500) -> list[Sequence[str]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


def insert_events(
    session: Session, source_id: int | None, drafts: Sequence[EventDraft], *, now: datetime
) -> list[int]:
    """Insert events, skipping any whose idempotency key is already stored."""
    if not drafts:
        return []
    rows = [
        {
            "key": draft.key(source_id),
            "kind": draft.kind,
            "severity": draft.severity,
            "source_id": source_id,
            "subject": draft.subject[:2048],
            "title": draft.title[:1000],
            "url": draft.url[:2048] if draft.url else None,
            "detected_at": now,
            "published_at": draft.published_at,
            "before": draft.before,
            "after": draft.after,
            "data": draft.data,
        }
        for draft in drafts
    ]
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # One statement for all rows: SQLAlchemy batches them ("insertmanyvalues") and keeps
    # RETURNING, which gives the ids of the rows that were new.
    statement = insert(Event).on_conflict_do_nothing(index_elements=["key"]).returning(Event.id)
    ids = [row for row in session.execute(statement, rows).scalars() if row is not None]
    # The transactional outbox: deliveries are written with their events or not at all.
    outbox.enqueue(session, ids, now=now)
    return sorted(ids)


def lock_source(session: Session, source_id: int) -> Source | None:
    """Load a source for writing; on PostgreSQL, concurrent writers of one source queue up."""
    statement = select(Source).where(Source.id == source_id)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update()
    return session.exec(statement).first()
