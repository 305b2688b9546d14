"""Polling: fetch each source, detect what changed, record it; many sources at once.

`poll_source` is the unit of work (the Celery task and the embedded scheduler call it too);
`poll_sources` runs it over a bounded thread pool for `tracker poll`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlmodel import select

from tracker import logs, metrics, store
from tracker.db import Database
from tracker.dispatch import holds_lease
from tracker.errors import NotFoundError
from tracker.http import DeferredError, FetchError
from tracker.models import Source
from tracker.sources import Clients, kind_of

log = logging.getLogger(__name__)
PARALLEL_PARSING_FROM = 50


@dataclass
class SourceResult:
    """How polling one source went."""

    source_id: int
    kind: str
    name: str
    ok: bool
    error: str | None = None
    deferred: bool = False  # the server asked us to wait (HTTP 429): not a failure
    moot: bool = False  # the lease passed to another poller: nothing was recorded
    unchanged: bool = False
    event_ids: list[int] = field(default_factory=list)
    requests: int = 0


@dataclass
class PollReport:
    """How a whole poll run went."""

    results: list[SourceResult] = field(default_factory=list)
    requests: int = 0
    hub_requests: int = 0
    body_bytes: int = 0

    @property
    def event_ids(self) -> list[int]:
        return sorted(i for result in self.results for i in result.event_ids)

    @property
    def failed(self) -> list[SourceResult]:
        return [result for result in self.results if not result.ok and not result.deferred]

    @property
    def deferred(self) -> list[SourceResult]:
        return [result for result in self.results if result.deferred]


def poll_source(
    db: Database,
    clients: Clients,
    source_id: int,
    *,
    lease_token: str | None = None,
    loaded: Source | None = None,
) -> SourceResult:
    """Poll one source and record the outcome (see `_poll_source`), logging as that source."""
    with logs.about(source_id=source_id):
        return _poll_source(db, clients, source_id, lease_token=lease_token, loaded=loaded)


def _poll_source(
    db: Database,
    clients: Clients,
    source_id: int,
    *,
    lease_token: str | None = None,
    loaded: Source | None = None,
) -> SourceResult:
    """Poll one source and record the outcome; never raises for a failing source.

    With a `lease_token` (scheduled polls), the outcome is recorded only if the lease is
    still this poll's: a poll that lost its lease to another worker changes nothing.
    `loaded` is the source as the caller just read it, saving a read.
    """
    source = loaded
    items: dict = {}
    if source is None or kind_of(source.kind).reads_items:
        with db.read() as session:
            source = session.get(Source, source_id)
            if source is None:
                raise NotFoundError(f"no source with id {source_id}")
            if kind_of(source.kind).reads_items:
                items = store.load_item_states(session, source_id)
    kind = kind_of(source.kind)
    result = SourceResult(source.id, source.kind, store.display_name(source), ok=True)
    if not holds_lease(source, lease_token):
        result.moot = True
        return result
    started = time.monotonic()
    observation = None
    wait = 0.0
    try:
        observation = kind.fetch(source, clients, items)
    except DeferredError as exc:
        result.ok, result.deferred, result.error, wait = False, True, str(exc), exc.retry_after
    except FetchError as exc:
        result.ok, result.error = False, str(exc)
    except Exception as exc:  # a bug in one source's handling must not stop the others
        log.exception("unexpected error polling source %s", source_id)
        result.ok, result.error = False, f"internal error: {type(exc).__name__}: {exc}"[:500]
    now = datetime.now(UTC)
    if observation is not None and observation.unchanged:
        # The common case, nothing new at a healthy source, is one UPDATE statement.
        with db.engine.begin() as connection:  # no ORM session needed for one statement
            recorded = store.record_unchanged(
                connection, source, observation, now=now, lease_token=lease_token
            )
        if recorded:
            result.unchanged, result.requests = True, observation.requests
            _count(source.kind, result, started)
            return result
    with db.session() as session:
        current = store.lock_source(session, source_id)
        if current is None:  # removed while it was being fetched
            return result
        if not holds_lease(current, lease_token):
            result.moot = True
            return result
        if observation is not None:
            result.unchanged = observation.unchanged
            result.requests = observation.requests
            result.event_ids = store.record_success(
                session, current, observation, now=now, settings=db.settings
            )
        elif result.deferred:
            store.record_deferral(session, current, result.error or "", now=now, wait=wait)
        else:
            result.event_ids = store.record_failure(
                session, current, result.error or "", now=now, settings=db.settings
            )
    _count(source.kind, result, started)
    return result


def _count(kind: str, result: SourceResult, started: float) -> None:
    outcome = "ok" if result.ok else "deferred" if result.deferred else "failed"
    metrics.POLLS.labels(kind, outcome).inc()
    metrics.POLL_SECONDS.labels(kind).observe(time.monotonic() - started)


def select_sources(db: Database, source_ids: Sequence[int] | None) -> list[Source]:
    """The sources a poll covers: the given ids (all must exist), else every enabled one."""
    with db.read() as session:
        if source_ids:
            found = {s.id: s for s in session.exec(select(Source).where(Source.id.in_(source_ids)))}
            missing = [str(i) for i in source_ids if i not in found]
            if missing:
                raise NotFoundError(f"no source with id {', '.join(missing)}")
            return [found[i] for i in dict.fromkeys(source_ids)]
        return list(session.exec(select(Source).where(Source.enabled).order_by(Source.id)))


def poll_sources(
    db: Database,
    sources: Sequence[Source],
    *,
    on_result: Callable[[SourceResult], None] | None = None,
) -> PollReport:
    """Poll sources concurrently (bounded pool, per-host limit in the fetcher)."""
    report = PollReport()
    lock = threading.Lock()
    workers = max(1, min(db.settings.poll_concurrency, len(sources)))
    # Worker processes for parsing pay off only when there are many feeds to parse.
    parallel = len(sources) >= PARALLEL_PARSING_FROM
    with (
        Clients(db.settings, parallel_parsing=parallel) as clients,
        ThreadPoolExecutor(workers, "poll") as pool,
    ):
        futures = [
            pool.submit(poll_source, db, clients, source.id, loaded=source) for source in sources
        ]
        for future in as_completed(futures):
            result = future.result()
            with lock:
                report.results.append(result)
            if on_result:
                on_result(result)
        report.requests = clients.http_requests + clients.hub_requests
        report.hub_requests = clients.hub_requests
        report.body_bytes = clients.body_bytes
    report.results.sort(key=lambda r: r.source_id)
    return report
