"""An interrupted `tracker poll` records nothing for the sources it did not finish, and a
poll's report comes on its own clock, before its alerts have all gone out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from tracker import catalog
from tracker.alerts import subscriptions
from tracker.alerts.subscriptions import SubscriptionSpec
from tracker.catalog import SourceSpec
from tracker.config import Settings
from tracker.db import Database
from tracker.models import Event, Source
from tracker.poller import poll_sources, select_sources
from tracker.results import INTERRUPTED, OK, SourceResult

from .feeds import rss
from .sinks import Sink
from .sites import Site

TRACKER = [sys.executable, "-m", "tracker"]


def add_feed(db: Database, url: str) -> int:
    with db.session() as session:
        source = catalog.add(session, catalog.checked(SourceSpec("feed", url), db.settings))
        assert source.id is not None
        return source.id


def source_row(db: Database, source_id: int) -> Source:
    with db.read() as session:
        source = session.get(Source, source_id)
        assert source is not None
        return source


@pytest.fixture
def ctrl_c_interrupts() -> Iterator[None]:
    """Ctrl-C as a KeyboardInterrupt in the main thread. A process that a shell script
    starts in the background (as CI starts one run of the suite) begins with SIGINT
    ignored, and Python then installs no handler of its own."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupt_once_recorded(
    source_id: int, site: Site, waited: list[str]
) -> Callable[[SourceResult], None]:
    """An `on_result` for a poll: once `source_id` is recorded and the site has a request in
    flight, Ctrl-C lands in the main thread (what went wrong instead is put in `waited`)."""
    done = threading.Event()

    def interrupt() -> None:
        if not done.wait(15):
            waited.append("the fast source was not done within 15 s")
            return
        deadline = time.monotonic() + 15
        while site.in_flight == 0:  # the slow one is being fetched
            if time.monotonic() > deadline:
                waited.append("the slow source was never in flight")
                return
            time.sleep(0.02)
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGINT)

    def note(result: SourceResult) -> None:
        if result.source_id == source_id:
            done.set()

    threading.Thread(target=interrupt, daemon=True).start()
    return note


def test_an_interrupted_poll_records_nothing_for_the_sources_in_flight(
    db: Database, site: Site, ctrl_c_interrupts: None
) -> None:
    fast = add_feed(db, site.put("/fast.xml", rss(("a", "Alpha"))))
    slow = add_feed(db, site.put("/slow.xml", rss(("b", "Beta")), delay=20))
    # On a busy machine the fast one may take seconds: the slow one must still be in flight.
    db.settings.http_timeout_seconds = 30
    waited: list[str] = []

    note = interrupt_once_recorded(fast, site, waited)
    report = poll_sources(db, select_sources(db, None), on_result=note)

    assert waited == []
    assert report.interrupted
    assert {r.source_id: r.status for r in report.results} == {fast: OK, slow: INTERRUPTED}
    left = source_row(db, slow)
    assert (left.last_polled_at, left.last_error, left.consecutive_failures) == (None, None, 0)
    assert source_row(db, fast).baselined_at is not None
    with db.read() as session:
        kinds = [e.kind for e in session.exec(select(Event))]
    assert kinds == ["source.baselined"]


def test_a_source_waiting_for_its_hosts_turn_is_reported_as_interrupted(
    db: Database, site: Site, ctrl_c_interrupts: None
) -> None:
    db.settings.per_host_limit = 1
    db.settings.http_timeout_seconds = 30
    slow = add_feed(db, site.put("/slow.xml", rss(("b", "Beta")), delay=20))
    held = add_feed(db, site.put("/held.xml", rss(("c", "Gamma"))))  # the slow one's host
    fast_url = site.put("/fast.xml", rss(("a", "Alpha"))).replace("127.0.0.1", "localhost")
    fast = add_feed(db, fast_url)
    waited: list[str] = []

    note = interrupt_once_recorded(fast, site, waited)
    report = poll_sources(db, select_sources(db, None), on_result=note)

    assert waited == []
    statuses = {r.source_id: r.status for r in report.results}
    assert statuses == {fast: OK, slow: INTERRUPTED, held: INTERRUPTED}
    assert site.hits_for("/held.xml") == []
    assert source_row(db, held).last_polled_at is None


def test_tracker_poll_reports_before_its_alerts_have_gone_out(
    settings: Settings, db: Database, site: Site, new_sink: Any, tmp_path: Path
) -> None:
    sink: Sink = new_sink(hold=True)
    add_feed(db, site.put("/feed.xml", rss(("a", "Alpha"))))
    poll_sources(db, select_sources(db, None))
    with db.session() as session:
        subscriptions.add(session, SubscriptionSpec(sink.url(query="rto=20")), db.settings)
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")))
    env = {
        **os.environ,
        "TRACKER_HOME": str(settings.home),
        "TRACKER_DATABASE_URL": settings.effective_database_url,
        "TRACKER_ALLOW_PRIVATE_NETWORKS": "true",
    }

    with subprocess.Popen(
        [*TRACKER, "poll"], env=env, stdout=subprocess.PIPE, text=True, cwd=tmp_path
    ) as process:
        assert process.stdout is not None
        first = process.stdout.readline()
        # The summary is out; the alert is at the target, which holds it; the command waits.
        assert sink.arrived.wait(20)
        held, running = sink.in_flight, process.poll() is None
        sink.released.set()
        rest = process.stdout.read()
        code = process.wait(60)

    assert first.startswith("Polled 1 source in ") and "1 new event" in first
    assert (held, running) == (1, True)
    assert code == 0 and "Alerts: 1 sent, 0 failed." in rest
