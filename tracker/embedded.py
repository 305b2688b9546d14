"""The embedded mode: one process runs the scheduler, the task functions on a small thread
pool, and (in `tracker run`) the web UI. SQLite is enough; nothing else to install.

The scheduler is the same dispatch the Celery beat runs: claim due sources with a lease,
poll each with the lease's token, send due alerts. Stopping it waits for the polls in flight;
a restart finds everything it needs in the database.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime

from tracker.alerts.deliver import deliver_due
from tracker.db import Database
from tracker.dispatch import claim_due
from tracker.poller import poll_source
from tracker.sources import Clients

log = logging.getLogger(__name__)


class Scheduler:
    """Polls due sources and sends due alerts until stopped."""

    def __init__(self, db: Database, *, workers: int = 16, tick_seconds: float = 5.0) -> None:
        self.db = db
        self.tick_seconds = tick_seconds
        self.workers = workers
        self._stop = threading.Event()
        # Set when a poll ends: its worker is free, so claim the next due source at once.
        self._wake = threading.Event()
        self._pool = ThreadPoolExecutor(workers, "scheduled")
        # Alert delivery runs beside the polls, never in one of their workers.
        self._sender = ThreadPoolExecutor(1, "deliver")
        self._clients = Clients(db.settings, parallel_parsing=True)
        self._in_flight: set[Future] = set()
        self._delivering: Future | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming work, let the polls in flight finish, release resources."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._sender.shutdown(wait=True, cancel_futures=True)
        self._clients.close()

    def tick(self) -> int:
        """One round: claim as many due sources as there are free workers, poll them, and
        start a delivery run unless one is still going. Returns the sources claimed."""
        self._in_flight = {f for f in self._in_flight if not f.done()}
        free = self.workers - len(self._in_flight)
        claims = claim_due(self.db, now=datetime.now(UTC), limit=free)
        for claim in claims:
            future = self._pool.submit(self._poll, claim.source_id, claim.token)
            self._in_flight.add(future)
        self._start_delivery()
        return len(claims)

    def _start_delivery(self) -> None:
        if self._delivering is None or self._delivering.done():
            self._delivering = self._sender.submit(self._deliver)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a database hiccup must not end the scheduler
                log.exception("scheduler tick failed; retrying")
            self._wake.wait(self.tick_seconds)
            self._wake.clear()

    def _poll(self, source_id: int, token: str) -> None:
        try:
            result = poll_source(self.db, self._clients, source_id, lease_token=token)
            if result.event_ids:
                self._start_delivery()
        except Exception:
            log.exception("scheduled poll of source %s failed", source_id)
        finally:
            self._wake.set()

    def _deliver(self) -> None:
        try:
            deliver_due(self.db)
        except Exception:
            log.exception("alert delivery run failed")
