"""Polls asked for by the web UI, the API and Hub webhooks: claimed with a lease, so a burst
of requests for one source is one poll; run by the service's runner, never by the request;
a request that comes in while a poll is running runs it once more. Reads never take
SQLite's write lock."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.cli import main
from tracker.config import Settings
from tracker.db import Database
from tracker.models import Source
from tracker.poller import poll_sources, select_sources
from tracker.web.app import create_app

from .fakehub import FakeHub
from .feeds import rss
from .sites import Site
from .webserver import serve

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
REPO = "org/repo"


def add_source(db: Database, kind: str, target: str) -> int:
    with db.session() as session:
        source = catalog.add(session, catalog.checked(SourceSpec(kind, target), db.settings))
        assert source.id is not None
        return source.id


def source_row(db: Database, source_id: int) -> Source:
    with db.read() as session:
        source = session.get(Source, source_id)
        assert source is not None
        return source


def webhook(name: str = REPO) -> dict[str, Any]:
    return {
        "event": {"action": "update", "scope": "repo.config"},
        "repo": {"type": "model", "name": name, "id": "0123", "private": False},
        "webhook": {"id": "x", "version": 3},
    }


def settled(db: Database, source_id: int, since: datetime, timeout: float = 30.0) -> Source:
    """The source once a poll that started after `since` is recorded and nothing more is
    pending for it (not claimed, no request outstanding)."""
    deadline = time.monotonic() + timeout
    while True:
        source = source_row(db, source_id)
        started = (source.last_outcome or {}).get("started_at")
        done = started is not None and datetime.fromisoformat(started) >= since
        if done and source.lease_token is None and source.poll_requested_at is None:
            return source
        if time.monotonic() > deadline:
            raise AssertionError(f"no settled poll of source {source_id}: {source}")
        time.sleep(0.05)


@pytest.fixture
def hooked(settings: Settings) -> Settings:
    settings.webhook_secret = "hook-secret"
    # Long enough for the whole burst to arrive before the poll starts, on a busy machine.
    settings.poll_request_delay_seconds = 3.0
    return settings


def test_a_burst_of_webhooks_for_one_source_is_one_poll(
    hooked: Settings, db: Database, hub: FakeHub
) -> None:
    hub.add_repo("model", REPO, license="mit")
    source_id = add_source(db, "hub", REPO)
    poll_sources(db, select_sources(db, [source_id]))
    hub.clear_requests()
    hub.set_gated("model", REPO, "manual")
    app = create_app(hooked, db=db, token=TOKEN)
    started = datetime.now(UTC)

    with serve(app) as server, httpx.Client(base_url=server.base_url, timeout=30) as client:

        def send(_: int) -> int:
            headers = {"X-Webhook-Secret": "hook-secret"}
            return client.post("/hooks/huggingface", json=webhook(), headers=headers).status_code

        with ThreadPoolExecutor(20) as pool:
            codes = list(pool.map(send, range(100)))
        source = settled(db, source_id, started)

    assert codes == [202] * 100
    assert (source.last_outcome or {})["events"] == 1  # access.gated
    assert len(hub.requests_to(f"/api/models/{REPO}")) == 1


def test_a_request_during_a_poll_runs_it_once_more(db: Database, site: Site) -> None:
    site.put("/feed.xml", rss(("a", "Alpha")), delay=1.5)
    source_id = add_source(db, "feed", site.url("/feed.xml"))
    app = create_app(db.settings, db=db, token=TOKEN)
    polls = app.state.polls
    first = polls.request([source_id])
    while not site.hits_for("/feed.xml") and site.in_flight == 0:
        time.sleep(0.01)  # the first poll is fetching now
    time.sleep(0.1)
    second = polls.request([source_id])

    assert [c.source_id for c in first.claims] == [source_id]
    assert second.claims == [] and second.coalesced == [source_id]
    settled(db, source_id, second.requested_at)
    assert len(site.hits_for("/feed.xml")) == 2


def test_the_api_answers_202_when_the_poll_does_not_land_in_time(
    settings: Settings, db: Database, site: Site
) -> None:
    settings.api_poll_wait_seconds = 0.2
    source_id = add_source(db, "feed", site.put("/feed.xml", rss(("a", "A")), delay=2.0))
    app = create_app(settings, db=db, token=TOKEN)

    with TestClient(app) as client:
        asked_at = datetime.now(UTC)
        response = client.post(f"/api/sources/{source_id}/poll", headers=AUTH)
        # The poll goes on after the answer, and lands.
        assert settled(db, source_id, asked_at).baselined_at is not None

    assert response.status_code == 202
    assert response.json() == {"source_id": source_id, "status": "queued"}


def test_the_api_result_has_the_shape_of_poll_json(
    settings: Settings, db: Database, site: Site, cli: Any
) -> None:
    url = site.put("/feed.xml", rss(("a", "Alpha")))
    source_id = add_source(db, "feed", url)
    app = create_app(settings, db=db, token=TOKEN)

    with TestClient(app) as client:
        api = client.post(f"/api/sources/{source_id}/poll", headers=AUTH).json()
    import json

    (from_cli,) = json.loads(cli("poll", "--json").stdout)["results"]

    assert set(api) - {"started_at"} == set(from_cli)
    assert api["status"] == from_cli["status"] == "ok"


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"[" * 200_000 + b"]" * 200_000, 400), (b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}', 413)],
    ids=["nested", "huge"],
)
def test_a_hostile_webhook_body_is_refused_with_a_4xx(
    hooked: Settings, db: Database, body: bytes, status: int
) -> None:
    app = create_app(hooked, db=db, token=TOKEN)
    with TestClient(app) as client:
        response = client.post(
            "/hooks/huggingface",
            content=body,
            headers={"X-Webhook-Secret": "hook-secret", "Content-Type": "application/json"},
        )

    assert response.status_code == status


# --- reads never take the write lock --------------------------------------------------------


@pytest.fixture
def write_locked(settings: Settings, db: Database) -> Iterator[sqlite3.Connection]:
    """Another process's writer holding SQLite's write lock for the whole test."""
    url = settings.effective_database_url
    if not url.startswith("sqlite"):
        pytest.skip("the write lock is SQLite's")
    settings.db_busy_timeout_seconds = 0.5  # a reader that needed the lock would fail fast
    writer = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE source SET name = name")
    yield writer
    writer.execute("ROLLBACK")
    writer.close()


def test_web_reads_answer_while_another_writer_holds_the_lock(
    settings: Settings, write_locked: sqlite3.Connection
) -> None:
    db = Database(settings)
    app = create_app(settings, db=db, token=TOKEN)
    with TestClient(app) as client:
        codes = {
            path: client.get(path).status_code
            for path in ("/api/events", "/api/sources", "/events.atom", "/", "/sources", "/metrics")
        }
    db.dispose()

    assert codes == dict.fromkeys(codes, 200)


def test_cli_reads_answer_while_another_writer_holds_the_lock(
    settings: Settings,
    write_locked: sqlite3.Connection,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRACKER_HOME", str(settings.home))
    monkeypatch.setenv("TRACKER_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("TRACKER_DB_BUSY_TIMEOUT_SECONDS", "0.5")

    codes = [main([*command, "--json"]) for command in (["events"], ["sources", "list"])]

    assert codes == [0, 0], capsys.readouterr().err


def test_a_write_goes_through_during_a_long_read(settings: Settings, db: Database) -> None:
    if not settings.effective_database_url.startswith("sqlite"):
        pytest.skip("the write lock is SQLite's")
    add_source(db, "feed", "http://127.0.0.1:9/feed.xml")
    settings.db_busy_timeout_seconds = 0.5
    with db.read() as reading:
        before = reading.get(Source, 1)
        assert before is not None  # the read transaction is open, and stays open
        written = threading.Thread(target=add_source, args=(db, "feed", "http://127.0.0.1:9/b"))
        written.start()
        written.join(10)
        assert not written.is_alive()
    assert len(catalog_ids(db)) == 2


def catalog_ids(db: Database) -> list[int]:
    with db.read() as session:
        return [s.id for s in catalog.all_sources(session) if s.id is not None]


# --- distributed mode: the web process only queues ------------------------------------------


# The SQLite and PostgreSQL runs of the suite may run side by side (as in CI): one Redis db each.
REDIS_DB = 13 if os.environ.get("TRACKER_TEST_DATABASE_URL") else 14


@pytest.fixture
def redis_queue() -> Iterator[Any]:
    """This machine's Redis (its own db, emptied before and after), or skip without it."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("TRACKER_TEST_REQUIRE_SERVICES"):
            pytest.fail(f"Redis is required here but unreachable: {exc}")
        pytest.skip(f"needs Redis on 127.0.0.1:6379 (apt-get install redis-server): {exc}")
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def queued_tasks(client: Any, queue: str) -> list[tuple[str, list[Any]]]:
    import base64
    import json

    tasks = []
    for raw in client.lrange(queue, 0, -1):
        message = json.loads(raw)
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        tasks.append((message["headers"]["task"], args))
    return tasks


def test_in_distributed_mode_a_requested_poll_goes_through_celery(
    settings: Settings, db: Database, site: Site, redis_queue: Any
) -> None:
    settings.broker_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    settings.api_poll_wait_seconds = 0.3
    source_id = add_source(db, "feed", site.put("/feed.xml", rss(("a", "Alpha"))))
    app = create_app(settings, db=db, token=TOKEN)

    with TestClient(app) as client:
        response = client.post(f"/api/sources/{source_id}/poll", headers=AUTH)
        again = client.post(f"/api/sources/{source_id}/poll", headers=AUTH)

    assert (response.status_code, again.status_code) == (202, 202)
    ((task, args),) = queued_tasks(redis_queue, "tracker")  # the second was coalesced
    assert task == "tracker.poll_source" and args[0] == source_id
    assert args[1] == source_row(db, source_id).lease_token
    assert site.hits_for("/feed.xml") == []  # nothing polled in the web process


def polled(db: Database, source_ids: list[int]) -> None:
    """What a finished poll leaves: no lease, the next poll later."""
    with db.session() as session:
        for source_id in source_ids:
            source = session.get(Source, source_id)
            assert source is not None
            source.lease_token = source.lease_until = None
            source.next_poll_at = datetime.now(UTC) + timedelta(hours=1)


def test_the_dispatcher_keeps_no_more_than_a_batch_of_polls_queued_or_running(
    settings: Settings, db: Database, site: Site, redis_queue: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workers import tasks
    from workers.celery_app import create_celery

    settings.broker_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    monkeypatch.setattr(tasks, "DISPATCH_BATCH", 5)
    monkeypatch.setattr(tasks._process, "_service", None)  # this test's database
    ids = {add_source(db, "feed", site.put(f"/f{n}.xml", rss(("a", "A")))) for n in range(8)}
    app = create_celery(settings)
    dispatch = app.tasks["tracker.dispatch_due"]

    try:
        first, full = dispatch(), dispatch()
        polled(db, sorted(ids)[:2])  # two polls done, their leases given back
        topped_up, rest = dispatch(), dispatch()
    finally:
        tasks._process.db().dispose()

    assert (first, full, topped_up, rest) == (5, 0, 2, 0)
    assert len(queued_tasks(redis_queue, "tracker")) == 7
    leased = {sid for sid in ids if source_row(db, sid).lease_token is not None}
    assert len(leased) == 5  # the eighth waits, due, in the database
    assert source_row(db, sorted(ids)[-1]).lease_token is None
    assert site.hits_for("/f0.xml") == []
