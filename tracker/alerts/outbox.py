"""The delivery outbox: rows written with their events, claimed and settled by senders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, or_, select

from tracker.alerts.filters import matches
from tracker.models import Delivery, DeliveryAttempt, Event, Subscription, table

T = TypeVar("T")

# A sender holds the deliveries of the message it is sending, and the subscription it is
# sending to, this long at a time, renewing while the send lasts: a sender that dies
# releases them this long after its last renewal.
CLAIM_LEASE = timedelta(seconds=30)
CHUNK = 500
# A grouped message (a digest, a storm) covers at most this many deliveries; the rest go
# in the next one.
MAX_GROUP = 5000


def enqueue(session: Session, event_ids: Sequence[int], *, now: datetime) -> int:
    """One pending delivery per (event, matching subscription); in the caller's transaction."""
    if not event_ids:
        return 0
    subscriptions = list(session.exec(select(Subscription).where(col(Subscription.enabled))))
    if not subscriptions:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(Delivery).on_conflict_do_nothing(
        index_elements=["event_id", "subscription_id"]
    )
    written = 0
    for start in range(0, len(event_ids), CHUNK):
        chunk = list(event_ids[start : start + CHUNK])
        events = list(session.exec(select(Event).where(col(Event.id).in_(chunk))))
        rows = [
            {
                "event_id": event.id,
                "subscription_id": subscription.id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": digest_due(subscription.digest, now),
                "created_at": now,
            }
            for event in events
            for subscription in subscriptions
            if matches(subscription, event)
        ]
        if rows:
            session.execute(statement, rows)
            written += len(rows)
    return written


def digest_due(digest: str | None, now: datetime) -> datetime:
    """When a delivery is due: now, or the end of the digest's current period (UTC)."""
    if digest == "hourly":
        return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if digest == "daily":
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight + timedelta(days=1)
    return now


@dataclass
class Batch:
    """Claimed deliveries of one subscription, with their events, oldest first."""

    subscription: Subscription
    deliveries: list[Delivery]
    events: list[Event]


def _due(now: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    return (
        col(Delivery.status) == "pending",
        col(Delivery.next_attempt_at) <= now,
        or_(col(Delivery.claimed_until).is_(None), col(Delivery.claimed_until) < now),
    )


def claim_due(
    session: Session,
    *,
    now: datetime,
    limit: int = MAX_GROUP,
    subscription_id: int | None = None,
    lease: timedelta = CLAIM_LEASE,
) -> list[Batch]:
    """Take due, unclaimed pending deliveries for sending; grouped by subscription."""
    statement = select(Delivery).where(*_due(now)).order_by(col(Delivery.id)).limit(limit)
    if subscription_id is not None:
        statement = statement.where(Delivery.subscription_id == subscription_id)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    deliveries = list(session.exec(statement))
    return _claimed(session, deliveries, now=now, lease=lease)


def claim_next_message(
    session: Session,
    subscription: Subscription,
    *,
    now: datetime,
    storm_threshold: int,
    lease: timedelta = CLAIM_LEASE,
) -> Batch | None:
    """The deliveries of the next message to one subscription, claimed: all that are due
    (up to `MAX_GROUP`) for a digest or a storm (more than `storm_threshold` due at once),
    else the oldest one alone. None when nothing is due."""
    statement = (
        select(Delivery)
        .where(*_due(now), col(Delivery.subscription_id) == subscription.id)
        .order_by(col(Delivery.id))
    )
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    grouped = subscription.digest is not None
    if not grouped:
        probe = list(session.exec(statement.limit(storm_threshold + 1)))
        grouped = len(probe) > storm_threshold
        deliveries = probe[:1]
    if grouped:
        deliveries = list(session.exec(statement.limit(MAX_GROUP)))
    if not deliveries:
        return None
    (batch,) = _claimed(session, deliveries, now=now, lease=lease, grouped=grouped)
    return batch


def _claimed(
    session: Session,
    deliveries: list[Delivery],
    *,
    now: datetime,
    lease: timedelta,
    grouped: bool = False,
) -> list[Batch]:
    if not deliveries:
        return []
    ids = [d.id for d in deliveries]
    for chunk in _chunks(ids):
        session.execute(
            sa.update(Delivery).where(col(Delivery.id).in_(chunk)).values(claimed_until=now + lease)
        )
    for delivery in deliveries:
        delivery.claimed_until = now + lease
    events: dict[int | None, Event] = {}
    for chunk in _chunks(sorted({d.event_id for d in deliveries})):
        events |= {e.id: e for e in session.exec(select(Event).where(col(Event.id).in_(chunk)))}
    wanted = {d.subscription_id for d in deliveries}
    subscriptions = {
        s.id: s for s in session.exec(select(Subscription).where(col(Subscription.id).in_(wanted)))
    }
    batches: dict[int, Batch] = {}
    for delivery in deliveries:
        batch = batches.setdefault(
            delivery.subscription_id, Batch(subscriptions[delivery.subscription_id], [], [])
        )
        batch.deliveries.append(delivery)
        batch.events.append(events[delivery.event_id])
    return list(batches.values())


def renew(session: Session, delivery_ids: Sequence[int | None], *, until: datetime) -> None:
    """Keep holding deliveries whose message is still being sent."""
    pending = [i for i in delivery_ids if i is not None]
    for chunk in _chunks(pending):
        session.execute(
            sa.update(Delivery)
            .where(col(Delivery.id).in_(chunk), col(Delivery.status) == "pending")
            .values(claimed_until=until)
        )


def acquire_sender(
    session: Session, subscription_id: int, token: str, *, now: datetime, until: datetime
) -> bool:
    """Become the one sender of a subscription (or stay it) until `until`; False when
    another live sender holds it."""
    subscriptions = table(Subscription)
    statement = (
        sa.update(subscriptions)
        .where(
            subscriptions.c.id == subscription_id,
            or_(
                subscriptions.c.sending_until.is_(None),
                subscriptions.c.sending_until < now,
                subscriptions.c.sender_token == token,
            ),
        )
        .values(sending_until=until, sender_token=token)
    )
    return bool(getattr(session.execute(statement), "rowcount", 0))


def release_sender(session: Session, subscription_id: int, token: str) -> None:
    subscriptions = table(Subscription)
    session.execute(
        sa.update(subscriptions)
        .where(subscriptions.c.id == subscription_id, subscriptions.c.sender_token == token)
        .values(sending_until=None, sender_token=None)
    )


def settle(
    session: Session,
    delivery_ids: Sequence[int | None],
    *,
    ok: bool,
    error: str | None,
    now: datetime,
    max_attempts: int,
    retry_seconds: float,
) -> None:
    """Record one attempt for each delivery: sent, or retry later with backoff, or failed."""
    ids = [i for i in delivery_ids if i is not None]
    for chunk in _chunks(ids):
        for delivery in session.exec(select(Delivery).where(col(Delivery.id).in_(chunk))):
            if delivery.status != "pending" or delivery.id is None:
                continue  # settled by someone else meanwhile (a dead sender's claim ran out)
            delivery.attempts += 1
            delivery.claimed_until = None
            session.add(
                DeliveryAttempt(delivery_id=delivery.id, attempted_at=now, ok=ok, error=error)
            )
            if ok:
                delivery.status, delivery.sent_at, delivery.last_error = "sent", now, None
            else:
                delivery.last_error = (error or "failed")[:1000]
                if delivery.attempts >= max_attempts:
                    delivery.status = "failed"
                else:
                    delay = retry_seconds * 2 ** (delivery.attempts - 1)
                    delivery.next_attempt_at = now + timedelta(seconds=min(delay, 3600))
            session.add(delivery)


def _chunks(values: Sequence[T]) -> list[Sequence[T]]:
    return [values[start : start + CHUNK] for start in range(0, len(values), CHUNK)]


def due_subscriptions(
    session: Session, *, now: datetime, subscription_id: int | None = None
) -> list[int]:
    """Subscriptions with due, unclaimed pending deliveries."""
    statement = (
        select(Delivery.subscription_id)
        .where(*_due(now))
        .group_by(col(Delivery.subscription_id))
        .order_by(col(Delivery.subscription_id))
    )
    if subscription_id is not None:
        statement = statement.where(Delivery.subscription_id == subscription_id)
    return [i for i in session.exec(statement) if i is not None]


def due_by_subscription(
    session: Session,
    *,
    now: datetime,
    digests_only: bool = False,
    subscription_id: int | None = None,
) -> list[int]:
    """One due, unclaimed pending delivery id per subscription (or of the one given): what
    a sweeper re-enqueues."""
    statement = (
        select(Delivery.subscription_id, sa.func.min(Delivery.id))
        .where(
            Delivery.status == "pending",
            col(Delivery.next_attempt_at) <= now,
            or_(col(Delivery.claimed_until).is_(None), col(Delivery.claimed_until) < now),
        )
        .group_by(col(Delivery.subscription_id))
    )
    if subscription_id is not None:
        statement = statement.where(Delivery.subscription_id == subscription_id)
    if digests_only:
        statement = statement.join(
            Subscription, col(Subscription.id) == col(Delivery.subscription_id)
        ).where(col(Subscription.digest).is_not(None))
    return [i for _subscription, i in session.exec(statement) if i is not None]
