"""The poll of one source, top to bottom.

    load the source → fetch (I/O) → one transaction: lock the source, load the previous
    item states, detect (pure), relate (the kind's graph: recorded and looked up), score the
    releases found (disclosure scorecards), record states, events and source health,
    enqueue the alert deliveries → the caller hands the new events to its sender

Every entry point (`tracker poll`, the scheduler of `tracker run`, the Celery task, and
the polls the web UI, the API and Hub webhooks ask for) comes through `poll_source`.
It never raises for a failing source: the failure is recorded and reported.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session

from tracker import logs, metrics, recorded, store
from tracker.alerts import outbox
from tracker.clients import Clients
from tracker.config import Settings
from tracker.db import Database
from tracker.detect import Detection, clauses
from tracker.detect.lifecycle import baselined, on_failure, on_success
from tracker.detect.lineage import Exposure
from tracker.disclosure import rules_for
from tracker.dispatch import holds_lease
from tracker.errors import DeferredError, FetchError, NotFoundError
from tracker.events import EventDraft
from tracker.kinds import DetectContext, SourceKind, kind_of
from tracker.models import Source
from tracker.observations import Observation
from tracker.results import DEFERRED, FAILED, INTERRUPTED, MOOT, OK, SourceResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fetched:
    """What a fetch brought back: an observation, or why there is none."""

    observation: Observation | None = None
    error: str | None = None
    retry_after: float | None = None  # set when the server asked us to wait

    @property
    def deferred(self) -> bool:
        return self.retry_after is not None


def poll_source(
    db: Database,
    clients: Clients,
    source_id: int,
    *,
    lease_token: str | None = None,
    loaded: Source | None = None,
    interrupt: threading.Event | None = None,
) -> SourceResult:
    """Poll one source and record the outcome.

    With a `lease_token` (scheduled polls), the outcome is recorded only if the lease is
    still this poll's: a poll that lost its lease to another worker changes nothing.
    `loaded` is the source as the caller just read it, saving a read. When `interrupt` is
    set before the outcome is recorded, nothing is recorded.
    """
    with logs.about(source_id=source_id):
        started, started_at = time.monotonic(), datetime.now(UTC)
        source, items = _load(db, source_id, loaded)
        kind = kind_of(source.kind)
        result = SourceResult(source.id or source_id, source.kind, source.name or source.target)
        if not holds_lease(source, lease_token):
            result.status = MOOT
            return result

        fetched = _fetch(kind, source, clients, items)

        if interrupt is not None and interrupt.is_set():
            result.status = INTERRUPTED
            return result
        now = datetime.now(UTC)
        if fetched.observation is not None and fetched.observation.unchanged:
            result.duration_seconds = time.monotonic() - started
            if _record_unchanged(
                db, source, fetched.observation, lease_token, result, now=now, started_at=started_at
            ):
                return _done(result, started)
        try:
            if fetched.observation is not None and source.baselined_at is not None:
                _compile_rules(db.settings)  # a first poll of posts reads none
            with _write_turn(db), db.session() as session:
                current = store.lock_source(session, source_id)
                if current is None or not holds_lease(current, lease_token):
                    result.status = MOOT  # removed meanwhile, or polled by someone else
                    return result
                # Item states are written only where a poll is recorded, which moves
                # `last_polled_at`: unmoved, the states read before the fetch still hold.
                held = kind.reads_items and current.last_polled_at == source.last_polled_at
                written = _record(
                    session,
                    kind,
                    current,
                    fetched,
                    result,
                    now=now,
                    settings=db.settings,
                    items=items if held else None,
                )
                result.rerun = _asked_again(current, started_at)
                outcome = _done(result, started).as_dict()
                store.record_outcome(current, outcome | {"started_at": started_at.isoformat()})
            if kind.reads_items and written is not None and current.last_polled_at is not None:
                recorded.remember(current.id, current.last_polled_at, *written)  # committed
        except sa.exc.OperationalError:
            raise  # the database itself: the caller retries (a task) or reports it
        except Exception as exc:  # a bug in detecting or recording one source's changes
            log.exception("unexpected error recording source %s", source_id)
            error = f"internal error: {type(exc).__name__}: {exc}"[:500]
            _record_as_failed(db, source_id, lease_token, Fetched(error=error), result, now=now)
        return result


def _record_as_failed(
    db: Database,
    source_id: int,
    lease_token: str | None,
    fetched: Fetched,
    result: SourceResult,
    *,
    now: datetime,
) -> None:
    """Count the poll as failed, in a transaction of its own: what the failed one would
    have written is gone, and the source's next poll tries again."""
    result.event_ids, result.unchanged, result.deliveries = [], False, 0
    with _write_turn(db), db.session() as session:
        current = store.lock_source(session, source_id)
        if current is None or not holds_lease(current, lease_token):
            result.status = MOOT
            return
        error = fetched.error or "failed"
        result.status, result.error = FAILED, error
        health, failing = on_failure(
            store.health_of(current), error, now=now, threshold=db.settings.failing_after
        )
        store.record_failure(session, current, error, health, now=now)
        result.event_ids = store.insert_events(
            session, current.id, [failing] if failing else [], now=now
        )
        result.deliveries = outbox.enqueue(session, result.event_ids, now=now)


# SQLite has one writer at a time. Threads that meet its write lock wait in its busy
# handler, which sleeps and polls (1 ms, 2 ms, 5 ms ... 100 ms): with 100 polling threads
# the lock sat free while its waiters slept. The polling threads of a process take their
# turn here instead, woken as soon as the previous writer commits; other processes are
# still kept apart by SQLite's own lock.
_WRITE_TURNS: weakref.WeakKeyDictionary[sa.Engine, threading.Lock] = weakref.WeakKeyDictionary()
_WRITE_TURNS_LOCK = threading.Lock()


@contextmanager
def _write_turn(db: Database) -> Iterator[None]:
    """On SQLite, one polling thread of this process writes at a time; elsewhere nothing."""
    engine = db.engine
    if engine.dialect.name != "sqlite":
        yield
        return
    with _WRITE_TURNS_LOCK:
        turn = _WRITE_TURNS.get(engine)
        if turn is None:
            turn = _WRITE_TURNS[engine] = threading.Lock()
    with turn:
        yield


def _load(db: Database, source_id: int, loaded: Source | None) -> tuple[Source, Mapping]:
    """The source (as given, or read), and its item states if its kind's fetch needs them."""
    if loaded is not None and not kind_of(loaded.kind).reads_items:
        return loaded, {}
    with db.read() as session:
        source = session.get(Source, source_id)
        if source is None:
            raise NotFoundError(f"no source with id {source_id}")
        if not kind_of(source.kind).reads_items:
            return source, {}
        items = recorded.recalled(source.id, source.last_polled_at)
        if items is None:
            items = store.load_item_states(session, source_id)
        return source, items


def _fetch(kind: SourceKind, source: Source, clients: Clients, items: Mapping) -> Fetched:
    """The fetch side of the kind; a failure becomes its one-line description."""
    try:
        return Fetched(observation=kind.fetch(source, clients, items))
    except DeferredError as exc:
        return Fetched(error=str(exc), retry_after=exc.retry_after)
    except FetchError as exc:
        return Fetched(error=str(exc))
    except Exception as exc:  # a bug in one source's handling must not stop the others
        log.exception("unexpected error polling source %s", source.id)
        return Fetched(error=f"internal error: {type(exc).__name__}: {exc}"[:500])


def _record_unchanged(
    db: Database,
    source: Source,
    observation: Observation,
    lease_token: str | None,
    result: SourceResult,
    *,
    now: datetime,
    started_at: datetime,
) -> bool:
    """The common case, nothing new at a healthy source: one UPDATE, no ORM session."""
    result.unchanged, result.requests = True, observation.requests
    with _write_turn(db), db.engine.begin() as connection:
        return store.record_unchanged(
            connection,
            source,
            observation,
            now=now,
            lease_token=lease_token,
            outcome=store.storable(result.as_dict() | {"started_at": started_at.isoformat()}),
        )


def _record(
    session: Session,
    kind: SourceKind,
    source: Source,
    fetched: Fetched,
    result: SourceResult,
    *,
    now: datetime,
    settings: Settings,
    items: Mapping | None = None,
) -> tuple[Mapping, Detection] | None:
    """Detect and record, in the caller's transaction; the new events' deliveries too.
    `items`: the source's item states as this transaction would read them, when known.
    Returns the item states read and the detection written over them, if one was."""
    written: tuple[Mapping, Detection] | None = None
    drafts: list[EventDraft] = []
    exposures: list[Exposure] = []
    observation = fetched.observation
    if observation is not None:
        result.unchanged, result.requests = observation.unchanged, observation.requests
        recovered = on_success(store.health_of(source), threshold=settings.failing_after)
        drafts += [recovered] if recovered else []
        first = source.baselined_at is None and not observation.unchanged
        if not observation.unchanged:
            if items is None:
                items = store.load_item_states(session, source.id)
            previous = items
            context = _context(source, settings)
            detection = kind.detect(previous, observation, context)
            if kind.relate is not None:
                exposures = kind.relate(session, source, observation, detection)
            if kind.scorecards is not None:
                kind.scorecards(session, source, observation, detection, context)
            store.write_items(session, source.id, detection, previous=previous, now=now)
            written = previous, detection
            drafts += detection.events
            if first:
                count, noun = len(detection.upserts), kind.item_noun
                drafts.append(baselined(store.health_of(source), items=count, noun=noun))
        store.record_success(session, source, observation, now=now, baselined=first)
    elif fetched.deferred and source.deferrals + 1 < _deferrals_allowed(settings):
        result.status, result.error = DEFERRED, fetched.error
        store.record_deferral(
            session, source, fetched.error or "", now=now, wait=fetched.retry_after or 0
        )
    else:
        error = fetched.error or "failed"
        if fetched.deferred:
            # Put off poll after poll: a source that never answers is failing too.
            source.deferrals += 1
            error = f"still put off after {source.deferrals} polls: {error}"
        result.status, result.error = FAILED, error
        health, failing = on_failure(
            store.health_of(source), error, now=now, threshold=settings.failing_after
        )
        store.record_failure(session, source, error, health, now=now)
        drafts += [failing] if failing else []
    result.event_ids = store.insert_events(session, source.id, drafts, now=now)
    if exposures:
        # `lineage.exposed` names its cause by id: known now that the causes are stored.
        causes = store.event_ids(session, [x.cause.key(source.id) for x in exposures])
        linked = [x.event(causes.get(x.cause.key(source.id))) for x in exposures]
        found = [draft for draft in linked if draft is not None]
        result.event_ids = sorted(
            result.event_ids + store.insert_events(session, source.id, found, now=now)
        )
    # The transactional outbox: deliveries are written with their events or not at all.
    result.deliveries = outbox.enqueue(session, result.event_ids, now=now)
    return written


def _compile_rules(settings: Settings) -> None:
    """The withheld-detail and clause rules, compiled once a process: before the write
    turn rather than in it (other first polls compile them where they read them)."""
    rules_for(settings.home)
    clauses.rules_for(settings.home)


def _context(source: Source, settings: Settings) -> DetectContext:
    return DetectContext(
        target=source.target,
        name=source.name,
        types=source.types,
        links=source.links,
        baselined=source.baselined_at is not None,
        hf_endpoint=settings.hf_endpoint,
        home=settings.home,
    )


def _deferrals_allowed(settings: Settings) -> int:
    """Polls in a row a source may be put off before each further one counts as failed."""
    return settings.failing_after * 2


def _asked_again(source: Source, started_at: datetime) -> bool:
    """Whether a poll was asked for after this one started (it may have missed a change)."""
    requested = source.poll_requested_at
    source.poll_requested_at = None
    return requested is not None and requested > started_at


def _done(result: SourceResult, started: float) -> SourceResult:
    result.duration_seconds = time.monotonic() - started
    outcome = OK if result.ok else DEFERRED if result.deferred else FAILED
    metrics.POLLS.labels(result.kind, outcome).inc()
    metrics.POLL_SECONDS.labels(result.kind).observe(result.duration_seconds)
    return result
