"""Sending due deliveries: one thread per subscription, so a slow target delays no other."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import col, select

from tracker import metrics
from tracker.alerts import messages, outbox
from tracker.alerts.outbox import Batch
from tracker.db import Database
from tracker.errors import UserError
from tracker.models import Event, Source, Subscription

if TYPE_CHECKING:
    from tracker.alerts.targets import Outcome

log = logging.getLogger(__name__)


@dataclass
class DeliveryReport:
    """What one delivery run did: messages sent and failed, deliveries settled."""

    messages_sent: int = 0
    messages_failed: int = 0
    delivered: int = 0
    failed: list[str] = field(default_factory=list)  # one line per failed message


def deliver_due(
    db: Database, *, now: datetime | None = None, subscription_id: int | None = None
) -> DeliveryReport:
    """Send every due pending delivery (of one subscription, if given); record each attempt."""
    now = now or datetime.now(UTC)
    lease = timedelta(seconds=db.settings.task_time_limit)
    with db.session() as session:
        batches = outbox.claim_due(session, now=now, subscription_id=subscription_id, lease=lease)
        names = _source_names(session, {e.source_id for b in batches for e in b.events})
    report = DeliveryReport()
    if not batches:
        return report
    with ThreadPoolExecutor(min(len(batches), 16), "deliver") as pool:
        for outcome in pool.map(lambda b: _send_batch(db, b, names, now), batches):
            report.messages_sent += outcome[0]
            report.messages_failed += outcome[1]
            report.delivered += outcome[2]
            report.failed.extend(outcome[3])
    return report


def _send_batch(
    db: Database, batch: Batch, names: dict[int, str], now: datetime
) -> tuple[int, int, int, list[str]]:
    from tracker.alerts import targets  # apprise: imported only when there is something to send

    settings = db.settings
    subscription = batch.subscription
    label = subscription.name or f"subscription {subscription.id}"
    try:
        target = targets.parse(subscription.url)
    except UserError as exc:  # stored before a library upgrade stopped accepting it
        groups = [(None, batch.deliveries)]
        return _settle(db, groups, [targets.Outcome(False, str(exc))], now, label)
    fmt = target.body_format.value
    render = {"sources": names, "public_url": settings.public_url}
    if subscription.digest or len(batch.events) > settings.storm_threshold:
        heading = _batch_heading(subscription, batch.events)
        groups = [
            (messages.render_batch(batch.events, fmt, heading=heading, **render), batch.deliveries)
        ]
    else:
        groups = [
            (messages.render_event(event, fmt, **render), [delivery])
            for event, delivery in zip(batch.events, batch.deliveries, strict=True)
        ]
    totals = (0, 0, 0, [])
    for message, deliveries in groups:
        outcome = targets.send(
            target,
            title=message.title,
            body=message.body,
            body_format=target.body_format,
            allow_private=settings.allow_private_networks,
        )
        # Recorded at once: a crash later in the batch re-sends only what was not recorded.
        sent, failed, delivered, errors = _settle(
            db, [(message, deliveries)], [outcome], now, label
        )
        totals = (totals[0] + sent, totals[1] + failed, totals[2] + delivered, totals[3] + errors)
    return totals


def _settle(
    db: Database,
    groups: Sequence[tuple[messages.Message | None, Sequence]],
    outcomes: Sequence[Outcome],
    now: datetime,
    label: str,
) -> tuple[int, int, int, list[str]]:
    sent = failed = delivered = 0
    errors: list[str] = []
    with db.session() as session:
        for (_message, deliveries), outcome in zip(groups, outcomes, strict=True):
            outbox.settle(
                session,
                [d.id for d in deliveries],
                ok=outcome.ok,
                error=outcome.error,
                now=now,
                max_attempts=db.settings.delivery_max_attempts,
                retry_seconds=db.settings.delivery_retry_seconds,
            )
            metrics.MESSAGES.labels("sent" if outcome.ok else "failed").inc()
            if outcome.ok:
                sent += 1
                delivered += len(deliveries)
            else:
                failed += 1
                errors.append(f"{label}: {outcome.error}")
                log.info("delivery to %s failed: %s", label, outcome.error)
    return sent, failed, delivered, errors


def _batch_heading(subscription: Subscription, events: Sequence[Event]) -> str:
    count = f"{len(events)} change{'s' * (len(events) != 1)}"
    if subscription.digest:
        return f"release-tracker {subscription.digest} digest: {count}"
    return f"release-tracker: {count} at once"


def _source_names(session, source_ids: set[int | None]) -> dict[int, str]:
    ids = [i for i in source_ids if i is not None]
    if not ids:
        return {}
    rows = session.exec(select(Source).where(col(Source.id).in_(ids)))
    return {s.id: s.name or s.target for s in rows}


def send_test(db: Database, subscription_id: int) -> Outcome:
    """Send one test message to a subscription, outside the outbox."""
    from tracker.alerts import subscriptions, targets

    with db.session() as session:
        url = subscriptions.get(session, subscription_id).url
    target = targets.parse(url)
    message = messages.render_test(target.body_format.value, public_url=db.settings.public_url)
    return targets.send(
        target,
        title=message.title,
        body=message.body,
        body_format=target.body_format,
        allow_private=db.settings.allow_private_networks,
    )
