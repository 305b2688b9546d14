"""Thin Celery tasks: they carry ids, load by id, and call the poll-and-alert service.

Each process makes its own database connection pool on first use (engines do not survive
a fork). A task that finds its work moot (the source was removed, the lease passed on, the
delivery already sent) returns early; running a task twice is harmless.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from tracker import logs
from tracker.alerts import outbox
from tracker.alerts.deliver import deliver_due
from tracker.config import Settings
from tracker.db import Database
from tracker.dispatch import Claim, claim_due
from tracker.errors import NotFoundError
from tracker.models import Delivery
from tracker.service import PollService
from workers.names import (
    ALERT_QUEUE,
    DELIVER,
    DISPATCH_DUE,
    POLL_QUEUE,
    POLL_SOURCE,
    SEND_DIGESTS,
    SWEEP,
)

log = logging.getLogger(__name__)
# The most polls the dispatcher keeps queued or running (sources under lease). More due
# sources than the workers can take wait in the database, not in Redis: a poll asked for
# by a webhook or a user then queues behind at most this many, and no queued poll
# outlives its lease.
DISPATCH_BATCH = 500
RETRY: dict[str, Any] = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 10,
}


class CeleryRunner:
    """Runs requested polls as Celery tasks (the web process only queues them)."""

    def __init__(self, app: Celery, settings: Settings) -> None:
        self.app = app
        self.expires = settings.lease_seconds

    def submit(self, claims: Sequence[Claim], *, delay: float = 0.0) -> None:
        for claim in claims:
            self.app.send_task(
                POLL_SOURCE,
                (claim.source_id, claim.token),
                countdown=delay or None,
                expires=self.expires,
                queue=POLL_QUEUE,
            )


class CelerySender:
    """Queues one delivery task per subscription that has new deliveries."""

    def __init__(self, app: Celery, db: Database) -> None:
        self.app = app
        self.db = db

    def events_recorded(self, event_ids: Sequence[int]) -> None:
        if not event_ids:
            return
        with self.db.read() as session:
            first: dict[int, int] = {}
            for start in range(0, len(event_ids), outbox.CHUNK):
                chunk = list(event_ids[start : start + outbox.CHUNK])
                rows = session.exec(
                    select(Delivery.subscription_id, Delivery.id)
                    .where(col(Delivery.event_id).in_(chunk), Delivery.status == "pending")
                    .order_by(col(Delivery.id))
                )
                for subscription_id, delivery_id in rows:
                    if delivery_id is not None:
                        first.setdefault(subscription_id, delivery_id)
        for delivery_id in first.values():
            self.app.send_task(DELIVER, (delivery_id,), queue=ALERT_QUEUE)


class _Process:
    """This process's database and service, made after any fork."""

    def __init__(self) -> None:
        self.app: Celery | None = None
        self.settings: Settings | None = None
        self._pid: int | None = None
        self._service: PollService | None = None
        self._lock = threading.Lock()

    def service(self) -> PollService:
        with self._lock:
            if self._service is None or self._pid != os.getpid():
                assert self.app is not None and self.settings is not None, "not registered"
                db = Database(self.settings)
                self._service = PollService(
                    db,
                    sender=CelerySender(self.app, db),
                    runner=CeleryRunner(self.app, self.settings),
                )
                self._pid = os.getpid()
            return self._service

    def db(self) -> Database:
        return self.service().db


_process = _Process()


def register(app: Celery, settings: Settings) -> None:
    """Define the tasks on `app`; log lines of a task carry its id."""
    _process.app, _process.settings = app, settings

    @task_prerun.connect(weak=False)
    def _name_task(task_id: str | None = None, **_: object) -> None:
        logs.TASK_ID.set(task_id)

    @task_postrun.connect(weak=False)
    def _forget_task(**_: object) -> None:
        logs.TASK_ID.set(None)

    lease = timedelta(seconds=settings.lease_seconds)

    @app.task(name=DISPATCH_DUE, shared=False, **RETRY)
    def dispatch_due() -> int:
        """Lease due sources and queue one poll for each, keeping at most
        `DISPATCH_BATCH` polls queued or running."""
        service = _process.service()
        now = datetime.now(UTC)
        claims = claim_due(
            service.db, now=now, limit=DISPATCH_BATCH, lease=lease, most_leased=DISPATCH_BATCH
        )
        CeleryRunner(app, settings).submit(claims)
        return len(claims)

    @app.task(name=POLL_SOURCE, shared=False, **RETRY)
    def poll(source_id: int, lease_token: str) -> dict[str, Any]:
        """Poll one leased source; its deliveries are queued by the service's sender."""
        try:
            result = _process.service().poll_claimed(Claim(source_id, lease_token))
        except NotFoundError:
            return {"source_id": source_id, "status": "moot"}  # removed since dispatched
        return result.as_dict()

    # A sender stops taking new messages halfway to the soft time limit, so that the task
    # ends before Celery interrupts (or kills) it in the middle of a send.
    delivery_budget = settings.task_soft_time_limit / 2

    @app.task(name=DELIVER, shared=False, **RETRY)
    def deliver(delivery_id: int) -> int:
        """Send the due deliveries of this delivery's subscription, as its one sender."""
        db = _process.db()
        with db.read() as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                return 0  # removed or settled meanwhile
            subscription_id = delivery.subscription_id
        report = deliver_due(db, subscription_id=subscription_id, budget_seconds=delivery_budget)
        if report.unfinished:  # out of time with messages still due: a new task goes on
            with db.read() as session:
                ids = outbox.due_by_subscription(
                    session, now=datetime.now(UTC), subscription_id=subscription_id
                )
            for next_id in ids:
                deliver.delay(next_id)
        return report.delivered

    @app.task(name=SWEEP, shared=False, **RETRY)
    def sweep() -> int:
        """Re-queue due deliveries whatever happened to their messages (Redis is only a
        transport: the database knows what is pending)."""
        with _process.db().read() as session:
            ids = outbox.due_by_subscription(session, now=datetime.now(UTC))
        for delivery_id in ids:
            deliver.delay(delivery_id)
        return len(ids)

    @app.task(name=SEND_DIGESTS, shared=False, **RETRY)
    def send_digests() -> int:
        """Queue the digests whose period ended."""
        with _process.db().read() as session:
            ids = outbox.due_by_subscription(session, now=datetime.now(UTC), digests_only=True)
        for delivery_id in ids:
            deliver.delay(delivery_id)
        return len(ids)
