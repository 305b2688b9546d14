"""The delivery outbox: rows written with their events, claimed and settled by senders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, or_, select

from tracker.alerts.filters import matches
from tracker.models import Delivery, DeliveryAttempt, Event, Subscription

# A sender that took rows and died releases them after this long, unless told otherwise:
# the Celery tasks pass their hard time limit, after which no sender can still be alive.
CLAIM_LEASE = timedelta(minutes=5)


def enqueue(session: Session, event_ids: Sequence[int], *, now: datetime) -> int:
    """One pending delivery per (event, matching subscription); in the caller's transaction."""
    if not event_ids:
        return 0
    subscriptions = list(session.exec(select(Subscription).where(col(Subscription.enabled))))
    if not subscriptions:
        return 0
    events = list(session.exec(select(Event).where(col(Event.id).in_(event_ids))))
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
    if not rows:
        return 0
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(Delivery).on_conflict_do_nothing(
        index_elements=["event_id", "subscription_id"]
    )
    session.execute(statement, rows)
    return len(rows)


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


def claim_due(
    session: Session,
    *,
    now: datetime,
    limit: int = 5000,
    subscription_id: int | None = None,
    lease: timedelta = CLAIM_LEASE,
) -> list[Batch]:
    """Take due, unclaimed pending deliveries for sending; grouped by subscription."""
    statement = (
        select(Delivery)
        .where(
            Delivery.status == "pending",
            col(Delivery.next_attempt_at) <= now,
            or_(col(Delivery.claimed_until).is_(None), col(Delivery.claimed_until) < now),
        )
        .order_by(col(Delivery.id))
        .limit(limit)
    )
    if subscription_id is not None:
        statement = statement.where(Delivery.subscription_id == subscription_id)
    if session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    deliveries = list(session.exec(statement))
    if not deliveries:
        return []
    for delivery in deliveries:
        delivery.claimed_until = now + lease
        session.add(delivery)
    events = {
        e.id: e
        for e in session.exec(
            select(Event).where(col(Event.id).in_({d.event_id for d in deliveries}))
        )
    }
    subscriptions = {
        s.id: s
        for s in session.exec(
            select(Subscription).where(
                col(Subscription.id).in_({d.subscription_id for d in deliveries})
            )
        )
    }
    batches: dict[int, Batch] = {}
    for delivery in deliveries:
        batch = batches.setdefault(
            delivery.subscription_id, Batch(subscriptions[delivery.subscription_id], [], [])
        )
        batch.deliveries.append(delivery)
        batch.events.append(events[delivery.event_id])
    return list(batches.values())


def settle(
    session: Session,
    delivery_ids: Sequence[int],
    *,
    ok: bool,
    error: str | None,
    now: datetime,
    max_attempts: int,
    retry_seconds: float,
) -> None:
    """Record one attempt for each delivery: sent, or retry later with backoff, or failed."""
    for delivery in session.exec(select(Delivery).where(col(Delivery.id).in_(delivery_ids))):
        if delivery.status != "pending":
            continue  # settled by someone else meanwhile (a crashed sender's lease ran out)
        delivery.attempts += 1
        delivery.claimed_until = None
        session.add(DeliveryAttempt(delivery_id=delivery.id, attempted_at=now, ok=ok, error=error))
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


def due_by_subscription(
    session: Session, *, now: datetime, digests_only: bool = False
) -> list[int]:
    """One due, unclaimed pending delivery id per subscription: what a sweeper re-enqueues."""
    statement = (
        select(Delivery.subscription_id, sa.func.min(Delivery.id))
        .where(
            Delivery.status == "pending",
            col(Delivery.next_attempt_at) <= now,
            or_(col(Delivery.claimed_until).is_(None), col(Delivery.claimed_until) < now),
        )
        .group_by(col(Delivery.subscription_id))
    )
    if digests_only:
        statement = statement.join(
            Subscription, col(Subscription.id) == col(Delivery.subscription_id)
        ).where(col(Subscription.digest).is_not(None))
    return [delivery_id for _subscription, delivery_id in session.exec(statement)]
