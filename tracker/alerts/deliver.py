"""Sending due deliveries.

Each subscription has at most one sender at a time across the whole deployment (a lease
on the subscription row, renewed with every message and while one is being sent), which
sends its messages one by one: a target that never answers holds one sender, while every
other subscription's alerts keep flowing. A message claims only its own deliveries, for a
short lease renewed while it is being sent, so a sender that dies holds up its
subscription for at most `CLAIM_LEASE` (the sweeper then re-queues the rest) and sends
again only the message it was sending.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from tracker import metrics
from tracker.alerts import messages, outbox
from tracker.alerts.outbox import CLAIM_LEASE, Batch
from tracker.db import Database
from tracker.errors import UserError
from tracker.models import Event, Source, Subscription

if TYPE_CHECKING:
    from tracker.alerts.targets import Outcome, Target

log = logging.getLogger(__name__)
MAX_PARALLEL_SUBSCRIPTIONS = 16


@dataclass
class DeliveryReport:
    """What one delivery run did: messages sent and failed, deliveries settled."""

    messages_sent: int = 0
    messages_failed: int = 0
    delivered: int = 0
    failed: list[str] = field(default_factory=list)  # one line per failed message
    # Subscriptions whose sender stopped at the end of its time budget with messages due.
    unfinished: list[int] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.messages_sent += other.messages_sent
        self.messages_failed += other.messages_failed
        self.delivered += other.delivered
        self.failed.extend(other.failed)
        self.unfinished.extend(other.unfinished)

    def as_dict(self) -> dict[str, object]:
        return {
            "messages_sent": self.messages_sent,
            "messages_failed": self.messages_failed,
            "delivered": self.delivered,
            "errors": self.failed,
        }


def deliver_due(
    db: Database,
    *,
    now: datetime | None = None,
    subscription_id: int | None = None,
    on_message: Callable[[bool], None] | None = None,
    budget_seconds: float | None = None,
) -> DeliveryReport:
    """Send every due pending delivery (of one subscription, if given); record each attempt.

    `on_message` hears of each message as it is settled (True when it was sent). With
    `budget_seconds`, a sender starts no new message after that long and gives its
    subscription back; those left with messages due are in `unfinished` (a Celery task,
    which must end within its time limit, queues itself again for them)."""
    clock = _Clock(now, budget_seconds)
    with db.read() as session:
        due = outbox.due_subscriptions(session, now=clock.now(), subscription_id=subscription_id)
    report = DeliveryReport()
    if not due:
        return report
    if len(due) == 1:
        # In the caller's thread: a task's soft time limit then stops the sender itself,
        # not only the thread waiting for it.
        return _drain(db, due[0], clock, on_message)
    workers = min(len(due), MAX_PARALLEL_SUBSCRIPTIONS)
    with ThreadPoolExecutor(workers, "deliver") as pool:
        for part in pool.map(lambda sid: _drain(db, sid, clock, on_message), due):
            report.add(part)
    return report


def _drain(
    db: Database, subscription_id: int, clock: _Clock, on_message: Callable[[bool], None] | None
) -> DeliveryReport:
    """Send one subscription's due messages, as its only sender."""
    report = DeliveryReport()
    token = str(uuid.uuid4())
    while _acquire(db, subscription_id, token, clock):
        sent = 0
        try:
            while not clock.out_of_time() and _send_next(
                db, subscription_id, token, clock, report, on_message
            ):
                sent += 1
        finally:
            with db.session() as session:
                outbox.release_sender(session, subscription_id, token)
        if not sent:
            break  # nothing could be sent (a disabled subscription): the sweeper looks later
        # A delivery written while this sender held the subscription was left to it: look
        # once more before going (the sweeper would find it too, later).
        with db.read() as session:
            if not outbox.due_subscriptions(
                session, now=clock.now(), subscription_id=subscription_id
            ):
                break
        if clock.out_of_time():
            report.unfinished.append(subscription_id)
            break
    return report


def _acquire(db: Database, subscription_id: int, token: str, clock: _Clock) -> bool:
    with db.session() as session:
        return outbox.acquire_sender(
            session, subscription_id, token, now=clock.now(), until=clock.now() + CLAIM_LEASE
        )


def _send_next(
    db: Database,
    subscription_id: int,
    token: str,
    clock: _Clock,
    report: DeliveryReport,
    on_message: Callable[[bool], None] | None,
) -> bool:
    """Claim, send and settle the subscription's next message; False when none is due."""
    with db.session() as session:
        subscription = session.get(Subscription, subscription_id)
        if subscription is None or not subscription.enabled:
            return False
        # Each message renews the sender's hold on the subscription: a drain of many short
        # sends would otherwise outlive the lease it took at the start, and a second sender
        # would start beside it.
        now = clock.now()
        if not outbox.acquire_sender(
            session, subscription_id, token, now=now, until=now + CLAIM_LEASE
        ):
            return False  # held too long without renewing (a stall): another sender took over
        batch = outbox.claim_next_message(
            session,
            subscription,
            now=clock.now(),
            storm_threshold=db.settings.storm_threshold,
        )
        if batch is None:
            return False
        names = _source_names(session, {e.source_id for e in batch.events})
    with _renewing(db, subscription_id, token, batch, clock):
        outcome = _send(db, batch, names)
    _settle(db, batch, outcome, clock.now(), report)
    if on_message:
        on_message(outcome.ok)
    return True


def _send(db: Database, batch: Batch, names: dict[int, str]) -> Outcome:
    from tracker.alerts import targets  # apprise: imported only when there is something to send

    settings = db.settings
    subscription = batch.subscription
    try:
        target: Target = targets.parse(subscription.url)
    except UserError as exc:  # stored before a library upgrade stopped accepting it
        return targets.Outcome(False, str(exc))
    fmt, public_url = target.body_format.value, settings.public_url
    if len(batch.deliveries) > 1 or subscription.digest:
        heading = _batch_heading(subscription, batch.events)
        message = messages.render_batch(
            batch.events, fmt, heading=heading, sources=names, public_url=public_url
        )
    else:
        message = messages.render_event(batch.events[0], fmt, sources=names, public_url=public_url)
    return targets.send(
        target,
        title=message.title,
        body=message.body,
        body_format=target.body_format,
        allow_private=settings.allow_private_networks,
    )


def _settle(
    db: Database, batch: Batch, outcome: Outcome, now: datetime, report: DeliveryReport
) -> None:
    """Record the attempt at once: a crash later re-sends only what was not recorded."""
    label = batch.subscription.name or f"subscription {batch.subscription.id}"
    with db.session() as session:
        outbox.settle(
            session,
            [d.id for d in batch.deliveries],
            ok=outcome.ok,
            error=outcome.error,
            now=now,
            max_attempts=db.settings.delivery_max_attempts,
            retry_seconds=db.settings.delivery_retry_seconds,
        )
    metrics.MESSAGES.labels("sent" if outcome.ok else "failed").inc()
    if outcome.ok:
        report.messages_sent += 1
        report.delivered += len(batch.deliveries)
    else:
        report.messages_failed += 1
        report.failed.append(f"{label}: {outcome.error}")
        log.info("delivery to %s failed: %s", label, outcome.error)


class _Clock:
    """The run's notion of now: real time, or a fixed moment when the caller gave one (a
    test simulating time, the sweeper of a given instant); and its time budget, if any."""

    def __init__(self, fixed: datetime | None, budget_seconds: float | None = None) -> None:
        self._fixed = fixed
        self._deadline = None if budget_seconds is None else time.monotonic() + budget_seconds

    def now(self) -> datetime:
        return self._fixed or datetime.now(UTC)

    def out_of_time(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline


@contextmanager
def _renewing(
    db: Database, subscription_id: int, token: str, batch: Batch, clock: _Clock
) -> Iterator[None]:
    """While a message is being sent, keep its deliveries and its subscription held."""
    stop = threading.Event()
    ids = [d.id for d in batch.deliveries]

    def renew() -> None:
        while not stop.wait(CLAIM_LEASE.total_seconds() / 3):
            until = clock.now() + CLAIM_LEASE
            try:
                with db.session() as session:
                    outbox.renew(session, ids, until=until)
                    outbox.acquire_sender(
                        session, subscription_id, token, now=clock.now(), until=until
                    )
            except Exception:  # a database hiccup: the next renewal tries again
                log.warning("could not renew the claim of a message being sent", exc_info=True)

    renewer = threading.Thread(target=renew, name="deliver-renew", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()


def _batch_heading(subscription: Subscription, events: Sequence[Event]) -> str:
    count = f"{len(events)} change{'s' * (len(events) != 1)}"
    if subscription.digest:
        return f"release-tracker {subscription.digest} digest: {count}"
    return f"release-tracker: {count} at once"


def _source_names(session: Session, source_ids: set[int | None]) -> dict[int, str]:
    ids = [i for i in source_ids if i is not None]
    if not ids:
        return {}
    rows = session.exec(select(Source).where(col(Source.id).in_(ids)))
    return {s.id: s.name or s.target for s in rows if s.id is not None}


def send_test(db: Database, subscription_id: int) -> Outcome:
    """Send one test message to a subscription, outside the outbox."""
    from tracker.alerts import subscriptions, targets

    with db.read() as session:
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
