"""Many sources at once: `tracker.pipeline.poll_source` over a bounded thread pool.

Sources are started as threads come free, at most `TRACKER_PER_HOST_LIMIT` at a time for
one host (`HostQueue`): the fetcher would hold any more at that host's limit, each on a
thread that sources of other hosts could have used.

An interrupt (Ctrl-C, SIGTERM) stops the run within seconds: fetches in flight are
aborted, and a source whose outcome was not recorded yet stays as it was (reported as
interrupted), so an interrupted poll never counts a source as failed.
"""

from __future__ import annotations

import heapq
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from urllib.parse import urlsplit

from sqlmodel import col, select

from tracker.clients import Clients
from tracker.db import Database
from tracker.errors import NotFoundError
from tracker.models import Source
from tracker.pipeline import poll_source
from tracker.results import FAILED, INTERRUPTED, PollReport, SourceResult

__all__ = ["HostQueue", "PollReport", "SourceResult", "host_of", "poll_sources", "select_sources"]

# Worker processes for parsing pay off only when there are many feeds to parse.
PARALLEL_PARSING_FROM = 50
# After an interrupt, how long the run waits for sources that are recording their outcome.
INTERRUPT_GRACE_SECONDS = 5.0
# The main thread waits for results in steps this long. A Ctrl-C that lands between the
# interpreter's last check for signals and the start of a blocking lock wait interrupts
# nothing: it is handled when that wait ends. Bounded waits handle it within a step
# instead of when the slowest poll in flight ends (20 s and more).
WAKE_SECONDS = 0.5


def select_sources(db: Database, source_ids: Sequence[int] | None) -> list[Source]:
    """The sources a poll covers: the given ids (all must exist), else every enabled one."""
    with db.read() as session:
        if source_ids:
            statement = select(Source).where(col(Source.id).in_(list(source_ids)))
            found = {s.id: s for s in session.exec(statement)}
            missing = [str(i) for i in source_ids if i not in found]
            if missing:
                raise NotFoundError(f"no source with id {', '.join(missing)}")
            return [found[i] for i in dict.fromkeys(source_ids)]
        return list(session.exec(select(Source).where(Source.enabled).order_by(col(Source.id))))


def poll_sources(
    db: Database,
    sources: Sequence[Source],
    *,
    on_result: Callable[[SourceResult], None] | None = None,
    clients: Clients | None = None,
    interrupt: threading.Event | None = None,
) -> PollReport:
    """Poll sources concurrently: a bounded pool, each host's sources taking turns at its
    limit (`HostQueue`)."""
    started = time.monotonic()
    interrupt = interrupt or threading.Event()
    owned = clients is None
    if clients is None:
        clients = Clients(db.settings, parallel_parsing=len(sources) >= PARALLEL_PARSING_FROM)
    report = PollReport()
    workers = max(1, min(db.settings.poll_concurrency, len(sources)))
    pool = ThreadPoolExecutor(workers, "poll")
    launcher = _Launcher(
        HostQueue(sources, db.settings.per_host_limit),
        workers,
        lambda s: pool.submit(poll_source, db, clients, s.id or 0, loaded=s, interrupt=interrupt),
    )
    try:
        launcher.start_more()
        for _ in range(len(sources)):
            future = _next_finished(launcher.finished)
            report.results.append(_result_of(future, launcher.started[future]))
            if on_result:
                on_result(report.results[-1])
    except KeyboardInterrupt:
        interrupt.set()
        clients.abort()
        unstarted = launcher.stop()
        pool.shutdown(wait=False, cancel_futures=True)
        _collect_unfinished(report, launcher.started, unstarted)
    finally:
        pool.shutdown(wait=not interrupt.is_set())
        report.requests = clients.http_requests + clients.hub_requests
        report.hub_requests = clients.hub_requests
        report.body_bytes = clients.body_bytes
        if owned:
            clients.close()
    report.results.sort(key=lambda r: r.source_id)
    report.duration_seconds = time.monotonic() - started
    return report


def _next_finished(finished: queue.SimpleQueue[Future[SourceResult]]) -> Future[SourceResult]:
    """The next poll to end, waited for in short steps (see WAKE_SECONDS)."""
    while True:
        try:
            return finished.get(timeout=WAKE_SECONDS)
        except queue.Empty:
            continue


def _result_of(future: Future[SourceResult], source: Source) -> SourceResult:
    """The source's result; a poll that raised (the database failed under it) is reported
    as failed without stopping the others."""
    try:
        return future.result()
    except Exception as exc:
        name = source.name or source.target
        error = (
            f"internal error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        )
        return SourceResult(source.id or 0, source.kind, name, FAILED, error=error[:500])


def _collect_unfinished(
    report: PollReport, futures: dict[Future[SourceResult], Source], unstarted: list[Source]
) -> None:
    """After an interrupt: the results that still arrive, the others as interrupted."""
    report.interrupted = True
    wait(futures, timeout=INTERRUPT_GRACE_SECONDS)
    reported = {r.source_id for r in report.results}
    for source in unstarted:
        name = source.name or source.target
        report.results.append(SourceResult(source.id or 0, source.kind, name, INTERRUPTED))
    for future, source in futures.items():
        if source.id in reported:
            continue
        if future.done() and not future.cancelled() and future.exception() is None:
            report.results.append(future.result())
        else:
            name = source.name or source.target
            report.results.append(SourceResult(source.id or 0, source.kind, name, INTERRUPTED))


def host_of(source: Source) -> str | None:
    """The host a source's fetch goes to, where its target is a URL (feeds, pages); the
    fetcher's per-host limit is keyed the same way. None for the others (the Hub's client
    keeps its own limits)."""
    if not source.target.startswith(("http://", "https://")):
        return None
    try:
        return (urlsplit(source.target).hostname or "").lower() or None
    except ValueError:
        return None


class _Launcher:
    """Starts polls as threads come free, in `HostQueue` order. A poll that ends starts the
    next from its own thread (the main thread, busy with results, would leave threads idle
    meanwhile), then puts its future in `finished`, where the main thread takes it: waiting
    on the set of polls still running would cost the whole set at every result (a million
    steps for 1,000 sources)."""

    def __init__(
        self, turns: HostQueue, workers: int, submit: Callable[[Source], Future[SourceResult]]
    ) -> None:
        self.finished: queue.SimpleQueue[Future[SourceResult]] = queue.SimpleQueue()
        self.started: dict[Future[SourceResult], Source] = {}
        self._turns, self._workers, self._submit = turns, workers, submit
        self._lock = threading.Lock()
        self._running = 0
        self._starting = 0  # taken, not yet in `started`
        self._stopped = False

    def start_more(self) -> None:
        while True:
            with self._lock:
                if self._stopped or self._running >= self._workers:
                    return
                source = self._turns.take()
                if source is None:
                    return
                self._running += 1
                self._starting += 1
            try:
                future = self._submit(source)
            except RuntimeError:  # the pool was shut down: the poll is ending anyway
                return
            else:
                self.started[future] = source
            finally:
                with self._lock:
                    self._starting -= 1
            future.add_done_callback(self._ended)

    def stop(self) -> list[Source]:
        """Start nothing more; the sources never taken. On return, `started` holds every
        poll that was started (a start under way takes microseconds)."""
        with self._lock:
            self._stopped = True
            left = self._turns.left()
        while True:
            with self._lock:
                if self._starting == 0:
                    return left
            time.sleep(0.001)

    def _ended(self, future: Future[SourceResult]) -> None:
        try:
            with self._lock:
                self._running -= 1
                self._turns.done(self.started[future])
            self.start_more()
        finally:
            self.finished.put(future)


class HostQueue:
    """The sources of a poll in the order to start them: given order, except that a host
    with `limit` polls running waits until one of them is done. Sources without a host are
    never held."""

    def __init__(self, sources: Sequence[Source], limit: int) -> None:
        self._limit = max(1, limit)
        self._waiting: dict[str | None, deque[tuple[int, Source]]] = {}
        self._hosts: dict[int, str | None] = {}  # by id() of each source given
        for position, source in enumerate(sources):
            host = self._hosts[id(source)] = host_of(source)
            self._waiting.setdefault(host, deque()).append((position, source))
        self._running: Counter[str | None] = Counter()
        # The first waiting source of each host that may start now, by position (positions
        # differ, so hosts are never compared).
        self._ready: list[tuple[int, str | None]] = []
        self._readied: set[str | None] = set()
        for host in self._waiting:
            self._ready_up(host)

    def take(self) -> Source | None:
        """The next source to start (counted as running), or None when none may start."""
        if not self._ready:
            return None
        _, host = heapq.heappop(self._ready)
        self._readied.discard(host)
        _, source = self._waiting[host].popleft()
        self._running[host] += 1
        self._ready_up(host)
        return source

    def done(self, source: Source) -> None:
        """A source taken before has finished: its host may start another."""
        host = self._hosts[id(source)]
        self._running[host] -= 1
        self._ready_up(host)

    def left(self) -> list[Source]:
        """The sources not taken yet, in their given order."""
        waiting = [entry for queue_ in self._waiting.values() for entry in queue_]
        return [source for _, source in sorted(waiting, key=lambda entry: entry[0])]

    def _ready_up(self, host: str | None) -> None:
        waiting = self._waiting.get(host)
        if not waiting or host in self._readied:
            return
        if host is not None and self._running[host] >= self._limit:
            return
        self._readied.add(host)
        heapq.heappush(self._ready, (waiting[0][0], host))
