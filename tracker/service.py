"""Poll and alert: the one service behind every entry point.

`tracker poll`, the scheduler of `tracker run` and the Celery task poll in their own
process (`poll`, `poll_claimed`); the web UI, the API and Hub webhooks ask for a poll
(`request`), which a runner carries out: threads of this process in the embedded mode,
Celery in the distributed mode, never the web process itself. Either way the new events'
alerts go to the service's sender.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlmodel import col, select

from tracker.alerts.sender import Sender
from tracker.clients import Clients
from tracker.db import Database
from tracker.dispatch import Claim, PollRequest, release, request_polls
from tracker.models import Source
from tracker.pipeline import poll_source
from tracker.poller import poll_sources, select_sources
from tracker.results import PollReport, SourceResult

log = logging.getLogger(__name__)


class Runner(Protocol):
    def submit(self, claims: Sequence[Claim], *, delay: float = 0.0) -> None:
        """Poll these claimed sources, `delay` seconds from now (each through
        `PollService.poll_claimed`)."""


class PollService:
    """Polls sources and hands the new events to the sender."""

    def __init__(
        self,
        db: Database,
        *,
        sender: Sender,
        runner: Runner | None = None,
        clients: Clients | None = None,
    ) -> None:
        self.db = db
        self.sender = sender
        self.runner = runner
        self._clients = clients
        self._lock = threading.Lock()

    @property
    def clients(self) -> Clients:
        with self._lock:
            if self._clients is None:
                self._clients = Clients(self.db.settings, parallel_parsing=True)
            return self._clients

    def poll(
        self,
        source_ids: Sequence[int] | None = None,
        *,
        sources: Sequence[Source] | None = None,
        on_result: Callable[[SourceResult], None] | None = None,
        interrupt: threading.Event | None = None,
    ) -> PollReport:
        """Poll these sources (every enabled one by default) now, in this process; `sources`
        when the caller has already selected them (`select_sources`)."""
        if sources is None:
            sources = select_sources(self.db, source_ids)

        def recorded(result: SourceResult) -> None:
            self._hand_over(result)
            if on_result:
                on_result(result)

        return poll_sources(self.db, sources, on_result=recorded, interrupt=interrupt)

    def _hand_over(self, result: SourceResult) -> None:
        """Tell the sender of a poll's new events when they have deliveries to send."""
        if result.deliveries:
            self.sender.events_recorded(result.event_ids)

    def poll_claimed(self, claim: Claim) -> SourceResult:
        """Poll one leased source (scheduled, or asked for); ask again when a request came
        in after this poll had started."""
        result = poll_source(self.db, self.clients, claim.source_id, lease_token=claim.token)
        self._hand_over(result)
        if result.rerun and self.runner is not None:
            self.request([claim.source_id])
        return result

    def request(self, source_ids: Sequence[int]) -> PollRequest:
        """Ask for a poll of these sources soon; a source already being polled is not
        polled twice (its poll runs again if it started before this request)."""
        select_sources(self.db, source_ids)  # NotFoundError for an unknown id
        assert self.runner is not None, "this service has no runner for requested polls"
        lease = timedelta(seconds=self.db.settings.lease_seconds)
        request = request_polls(self.db, source_ids, now=datetime.now(UTC), lease=lease)
        # A short wait before the poll starts makes a burst of requests (one push fires
        # several Hub webhooks) one poll: the later ones find the source claimed.
        self.runner.submit(request.claims, delay=self.db.settings.poll_request_delay_seconds)
        return request

    def wait(self, request: PollRequest, *, timeout: float) -> dict[int, dict[str, Any]]:
        """The outcomes of polls that started after the request, as they land (waiting at
        most `timeout` seconds); a source still being polled is missing."""
        deadline = time.monotonic() + timeout
        outcomes: dict[int, dict[str, Any]] = {}
        wanted = set(request.source_ids)
        while True:
            with self.db.read() as session:
                for source in session.exec(select(Source).where(col(Source.id).in_(wanted))):
                    outcome = source.last_outcome or {}
                    started = outcome.get("started_at")
                    if started and datetime.fromisoformat(started) >= request.requested_at:
                        outcomes[source.id or 0] = outcome
            if set(outcomes) >= wanted or time.monotonic() >= deadline:
                return outcomes
            time.sleep(0.05)

    def close(self) -> None:
        """Finish the polls asked for, then release the network clients."""
        closing = getattr(self.runner, "close", None)
        if closing is not None and self.runner is not self:
            closing()
        if self._clients is not None:
            self._clients.close()


class LocalRunner:
    """Requested polls on a few threads of this process (`tracker serve` without a broker;
    `tracker run` uses its scheduler instead)."""

    def __init__(self, service: PollService, *, workers: int = 4) -> None:
        self.service = service
        self._pool = ThreadPoolExecutor(workers, "requested-poll")
        self._closed = False

    def submit(self, claims: Sequence[Claim], *, delay: float = 0.0) -> None:
        for claim in claims:
            self._pool.submit(self._run, claim, delay)

    def _run(self, claim: Claim, delay: float) -> None:
        time.sleep(delay)
        if self._closed:
            release(self.service.db, [claim])
            return
        try:
            self.service.poll_claimed(claim)
        except Exception:  # the request was answered; a failure here is logged, not raised
            log.exception("requested poll of source %s failed", claim.source_id)

    def close(self) -> None:
        self._closed = True
        self._pool.shutdown(wait=True)
