"""The embedded mode: one process runs the scheduler, the polls on a thread pool, the alert
sender and (in `tracker run`) the web UI. SQLite is enough; nothing else to install.

The scheduler is the same dispatch the Celery beat runs: claim due sources with a lease and
poll each under its lease through the poll-and-alert service. It also runs the polls the
web UI, the API and webhooks ask for. Stopping it stops claiming, lets the polls in flight
finish and gives back the leases of polls that will not run, so a restart polls those at
once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from tracker.alerts.sender import BackgroundSender
from tracker.clients import Clients
from tracker.db import Database
from tracker.dispatch import Claim, claim_due, release
from tracker.results import SourceResult
from tracker.service import PollService

log = logging.getLogger(__name__)


class Scheduler:
    """Polls due sources and sends their alerts until stopped."""

    def __init__(
        self,
        db: Database,
        *,
        workers: int = 16,
        tick_seconds: float = 5.0,
        on_round: Callable[[list[SourceResult]], None] | None = None,
    ) -> None:
        self.db = db
        # Told the results of each batch of polls handed to `submit` once all have ended.
        self.on_round = on_round
        self.tick_seconds = tick_seconds
        self.workers = workers
        self.lease = timedelta(seconds=db.settings.lease_seconds)
        self._stop = threading.Event()
        # Set when a poll ends: its worker is free, so claim the next due source at once.
        self._wake = threading.Event()
        self._pool = ThreadPoolExecutor(workers, "scheduled")
        self.sender = BackgroundSender(db)
        self.service = PollService(
            db,
            sender=self.sender,
            runner=self,
            clients=Clients(db.settings, parallel_parsing=True),
        )
        self._lock = threading.Lock()
        self._in_flight: dict[Future[None], Claim] = {}
        self._thread: threading.Thread | None = None

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop claiming work, let the polls in flight finish (at most `timeout` seconds),
        give back the leases of those that did not, release resources."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._lock:
            pending = dict(self._in_flight)
        not_started = [claim for future, claim in pending.items() if future.cancel()]
        deadline = time.monotonic() + timeout
        for future in pending:
            if not future.cancelled():
                # Timed out or failed: its lease is given back below.
                with contextlib.suppress(Exception):
                    future.result(max(0.0, deadline - time.monotonic()))
        unfinished = [claim for future, claim in pending.items() if not future.done()]
        released = release(self.db, not_started + unfinished)
        if released:
            log.info("gave back %d leases of polls that did not run", released)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.sender.wait()
        self.service.close()

    def tick(self) -> int:
        """One round: claim as many due sources as there are free workers and poll them.
        Returns the sources claimed."""
        with self._lock:
            self._in_flight = {f: c for f, c in self._in_flight.items() if not f.done()}
            free = self.workers - len(self._in_flight)
        claims = claim_due(self.db, now=datetime.now(UTC), limit=free, lease=self.lease)
        self.submit(claims)
        self.sender.kick()  # retries and digests that fell due
        return len(claims)

    def submit(self, claims: Sequence[Claim], *, delay: float = 0.0) -> None:
        """Poll claimed sources on the pool (scheduled ones, and those asked for)."""
        if self._stop.is_set():
            release(self.db, claims)
            return
        batch = _Round(len(claims), self.on_round) if claims and self.on_round else None
        with self._lock:
            for claim in claims:
                future = self._pool.submit(self._poll, claim, delay, batch)
                self._in_flight[future] = claim

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # a database hiccup must not end the scheduler
                log.exception("scheduler tick failed; retrying")
            self._wake.wait(self.tick_seconds)
            self._wake.clear()

    def _poll(self, claim: Claim, delay: float, batch: _Round | None = None) -> None:
        result: SourceResult | None = None
        try:
            if delay and self._stop.wait(delay):
                release(self.db, [claim])  # stopping before it started: poll it at restart
                return
            result = self.service.poll_claimed(claim)
        except Exception:
            log.exception("scheduled poll of source %s failed", claim.source_id)
        finally:
            self._wake.set()
            if batch is not None:
                batch.done(result)


class _Round:
    """The polls of one `submit`: reported together when the last of them ends."""

    def __init__(self, expected: int, report: Callable[[list[SourceResult]], None]) -> None:
        self._left = expected
        self._results: list[SourceResult] = []
        self._report = report
        self._lock = threading.Lock()

    def done(self, result: SourceResult | None) -> None:
        with self._lock:
            if result is not None:
                self._results.append(result)
            self._left -= 1
            finished = self._left == 0
        if finished:
            try:
                self._report(self._results)
            except Exception:  # a broken report must not break polling
                log.exception("reporting a poll round failed")
