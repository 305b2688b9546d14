"""Thin Celery tasks: they carry ids, load by id, and call the service functions.

Each process makes its own database connection pool on first use (engines do not survive
a fork). A task that finds its work moot (the source was removed, the lease passed on, the
delivery already sent) returns early; running a task twice is harmless.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import UTC, datetime, timedelta

from celery import Celery
from celery.signals import task_postrun, task_prerun
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from tracker import logs
from tracker.alerts import outbox
from tracker.alerts.deliver import deliver_due
from tracker.config import Settings
from tracker.db import Database
from tracker.dispatch import claim_due
from tracker.errors import NotFoundError
from tracker.models import Delivery
from tracker.poller import poll_source
from tracker.sources import Clients

log = logging.getLogger(__name__)
DISPATCH_BATCH = 500
RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "max_retries": 10,
}

_settings: Settings | None = None
_process: tuple[int, Database, Clients] | None = None
_lock = threading.Lock()


def _resources() -> tuple[Database, Clients]:
    """This process's database and network clients, made after any fork."""
    global _process
    with _lock:
        if _process is None or _process[0] != os.getpid():
            assert _settings is not None, "tasks used before register()"
            _process = (os.getpid(), Database(_settings), Clients(_settings))
        return _process[1], _process[2]


def register(app: Celery, settings: Settings) -> None:
    """Define the tasks on `app`; log lines of a task carry its id."""
    global _settings
    _settings = settings

    @task_prerun.connect(weak=False)
    def _name_task(task_id: str | None = None, **_: object) -> None:
        logs.TASK_ID.set(task_id)

    @task_postrun.connect(weak=False)
    def _forget_task(**_: object) -> None:
        logs.TASK_ID.set(None)

    lease_seconds = settings.lease_seconds

    @app.task(name="tracker.dispatch_due", shared=False, **RETRY)
    def dispatch_due() -> int:
        """Lease the due sources and queue one poll for each."""
        db, _clients = _resources()
        claims = claim_due(
            db, now=datetime.now(UTC), limit=DISPATCH_BATCH, lease=timedelta(seconds=lease_seconds)
        )
        for claim in claims:
            poll.apply_async((claim.source_id, claim.token), expires=lease_seconds)
        return len(claims)

    @app.task(name="tracker.poll_source", shared=False, **RETRY)
    def poll(source_id: int, lease_token: str) -> dict:
        """Poll one leased source; then queue the deliveries it produced."""
        db, clients = _resources()
        try:
            result = poll_source(db, clients, source_id, lease_token=lease_token)
        except NotFoundError:
            return {"source_id": source_id, "moot": True}  # removed since it was dispatched
        if result.event_ids:
            _queue_deliveries(db, result.event_ids)
        return {
            "source_id": source_id,
            "ok": result.ok,
            "moot": result.moot,
            "events": len(result.event_ids),
        }

    @app.task(name="tracker.deliver", shared=False, **RETRY)
    def deliver(delivery_id: int) -> int:
        """Send the due deliveries of this delivery's subscription (grouped as one run)."""
        db, _clients = _resources()
        with db.session() as session:
            delivery = session.get(Delivery, delivery_id)
            if delivery is None or delivery.status != "pending":
                return 0  # removed or settled meanwhile
            subscription_id = delivery.subscription_id
        return deliver_due(db, subscription_id=subscription_id).delivered

    @app.task(name="tracker.sweep", shared=False, **RETRY)
    def sweep() -> int:
        """Re-queue due deliveries whatever happened to their messages (Redis is only a
        transport: the database knows what is pending)."""
        db, _clients = _resources()
        with db.session() as session:
            ids = outbox.due_by_subscription(session, now=datetime.now(UTC))
        for delivery_id in ids:
            deliver.delay(delivery_id)
        return len(ids)

    @app.task(name="tracker.send_digests", shared=False, **RETRY)
    def send_digests() -> int:
        """Queue the digests whose period ended."""
        db, _clients = _resources()
        with db.session() as session:
            ids = outbox.due_by_subscription(session, now=datetime.now(UTC), digests_only=True)
        for delivery_id in ids:
            deliver.delay(delivery_id)
        return len(ids)

    def _queue_deliveries(db: Database, event_ids: list[int]) -> None:
        with db.session() as session:
            rows = session.exec(
                select(Delivery.subscription_id, Delivery.id)
                .where(col(Delivery.event_id).in_(event_ids), Delivery.status == "pending")
                .order_by(col(Delivery.id))
            )
            first = {}
            for subscription_id, delivery_id in rows:
                first.setdefault(subscription_id, delivery_id)
        for delivery_id in first.values():
            deliver.delay(delivery_id)
