"""Stopping and losing the broker, with real processes: `tracker run`, `tracker worker` and
`tracker poll` stopped with SIGTERM (what systemd and Docker send) and SIGINT (Ctrl-C) in
the middle of polls, and a worker whose Redis dies and comes back.

What must hold: the polls in flight finish and are recorded (or, for `tracker poll`, are
not recorded at all: never as failures), the process exits promptly with its usual status,
and no source stays leased, so whatever starts next polls the unfinished sources at once.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tracker.config import Settings
from tracker.dispatch import request_polls
from workers.names import POLL_QUEUE, POLL_SOURCE

from .conftest import (
    BROKER_URL,
    Cluster,
    FeedServer,
    Store,
    add_feeds,
    free_port,
    report,
    start_redis,
    stop_redis,
    wait_for,
)

pytestmark = pytest.mark.faults

SLOW = 5.0  # seconds the slow feed takes to answer
LONG_LEASE = 600  # the default lease: a lease left behind would block for ten minutes
TOKEN = "faults-api-token"


def sources(store: Store) -> dict[int, dict]:
    rows = store.rows(
        "SELECT id, lease_token, lease_until, baselined_at, last_polled_at, last_error, "
        "consecutive_failures FROM source ORDER BY id"
    )
    return {r[0]: dict(r._mapping) for r in rows}


def leased(store: Store) -> list[int]:
    return [i for i, s in sources(store).items() if s["lease_token"] or s["lease_until"]]


def answered(server: FeedServer, feed: int) -> int:
    return len(server.requests_per_feed()[feed])


def ask_poll(port: int, source_id: int, timeout: float = 15) -> int:
    """POST /api/sources/ID/poll to a `tracker run`, retrying until its web server is up."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/sources/{source_id}/poll",
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )

    def post() -> int | None:
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                return answer.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None  # not listening yet

    return wait_for(post, timeout, "the web server of tracker run", interval=0.1)


def embedded_env(cluster: Cluster) -> dict[str, str]:
    env = {k: v for k, v in cluster.env.items() if k != "TRACKER_BROKER_URL"}
    env.update(
        TRACKER_LEASE_SECONDS=str(LONG_LEASE),
        TRACKER_API_TOKEN=TOKEN,
        TRACKER_API_POLL_WAIT_SECONDS="0",  # the API answers 202 at once
    )
    return env


# --- 1. tracker run (embedded) ------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_tracker_run_stops_after_the_polls_in_flight_and_leaves_no_lease(
    cluster, db, store, make_feeds, signum: int
):
    # systemd's default KillMode signals every process of the unit (the feed parser
    # processes too); Ctrl-C signals the terminal's whole process group: both reach the
    # whole group here.
    # Polled in id order by the one worker: feed 0 first (its parse starts the parser
    # processes), then the slow feed 1, while 2 is asked for and 3 waits its turn.
    server = make_feeds(4, delays={1: SLOW})
    ids = add_feeds(db, server, every=3600)
    slow, asked, waiting = ids[1], ids[2], ids[3]
    env = embedded_env(cluster)
    port = free_port()
    args = ("run", "--no-watchlist", "--workers", "1", "--port", str(port))
    run = cluster.command("run", *args, env=env)
    wait_for(lambda: 1 in server.feeds_in_flight(), 30, "the slow poll in flight")
    assert sources(store)[ids[0]]["baselined_at"] is not None
    # With the one worker busy, a poll asked for through the API is claimed and waits.
    assert ask_poll(port, asked) == 202
    before = sources(store)
    assert before[asked]["lease_token"] and not before[waiting]["lease_token"]

    started = time.monotonic()
    os.killpg(run.pid, signum)
    code = run.wait_exit(SLOW + 30)
    exited = time.monotonic()
    stopped_after = exited - started
    (slow_request,) = server.requests_per_feed()[1]
    after = sources(store)
    left_leased = leased(store)
    output = run.log_text()

    restart = cluster.command("run-again", *args[:-1], str(free_port()), env=env)
    restarted = time.monotonic()
    wait_for(
        lambda: all(sources(store)[i]["baselined_at"] for i in (asked, waiting)),
        30,
        "the unfinished sources polled after the restart",
    )
    polled_after_restart = time.monotonic() - restarted
    restart.signal(signal.SIGTERM)
    restart.wait_exit(30)
    report(
        f"tracker run, {signal.Signals(signum).name}",
        exit_status=code,
        stopped_after_s=round(stopped_after, 1),
        exited_after_the_slow_answer_s=round(exited - slow_request - SLOW, 1),
        slow_poll_recorded=bool(after[slow]["baselined_at"]),
        slow_poll_error=after[slow]["last_error"],
        leased_after_exit=left_leased,
        asked_poll_released=not after[asked]["lease_token"],
        unfinished_polled_after_restart_s=round(polled_after_restart, 1),
        lease_s=LONG_LEASE,
    )
    assert code == 0, output
    assert stopped_after < SLOW + 10
    assert after[slow]["baselined_at"] is not None, "the poll in flight finished and was recorded"
    assert after[slow]["last_error"] is None and after[slow]["consecutive_failures"] == 0
    assert left_leased == [], "no source is left leased"
    assert after[asked]["last_polled_at"] is None and after[waiting]["last_polled_at"] is None
    assert "letting the polls in flight finish" in output and "Stopped." in output
    assert answered(server, 1) == 1, "the slow source was polled once"


# --- 2. tracker worker ------------------------------------------------------------------------


def test_tracker_worker_sigterm_finishes_the_poll_in_flight_and_a_new_worker_takes_the_rest(
    cluster, db, store, make_feeds
):
    cluster.env.update(TRACKER_LEASE_SECONDS=str(LONG_LEASE))
    server = make_feeds(4, delays={0: SLOW})
    ids = add_feeds(db, server, every=3600)
    queued = [ids[n] for n in (1, 2, 3)]
    first = cluster.worker("w1", concurrency=1)
    cluster.beat()
    wait_for(lambda: 0 in server.feeds_in_flight(), 30, "the slow poll in flight")
    # The beat leased every due source and queued a poll for each; one worker process
    # holds the slow one.
    wait_for(lambda: len(leased(store)) == 4, 10, "every source leased")

    started = time.monotonic()
    first.signal(signal.SIGTERM)  # the main process only: systemd's KillMode=mixed, Docker
    code = first.wait_exit(SLOW + 30)
    exited = time.monotonic()
    stopped_after = exited - started
    (slow_request,) = server.requests_per_feed()[0]
    after = sources(store)
    still_leased = leased(store)

    second = cluster.worker("w2", concurrency=2, wait=False)
    restarted = time.monotonic()
    cluster.wait_ready(second)
    wait_for(
        lambda: all(sources(store)[i]["baselined_at"] for i in queued),
        30,
        "the queued polls done by the new worker",
    )
    taken_after = time.monotonic() - restarted
    report(
        "tracker worker, SIGTERM",
        exit_status=code,
        stopped_after_s=round(stopped_after, 1),
        exited_after_the_slow_answer_s=round(exited - slow_request - SLOW, 1),
        slow_poll_recorded=bool(after[ids[0]]["baselined_at"]),
        queued_still_leased_at_exit=len([i for i in still_leased if i in queued]),
        queued_polled_after_new_worker_start_s=round(taken_after, 1),
        lease_s=LONG_LEASE,
        slow_source_requests=answered(server, 0),
    )
    assert code == 0, first.log_text()[-3000:]
    assert stopped_after < SLOW + 10
    assert after[ids[0]]["baselined_at"] is not None, "the poll in flight finished (warm stop)"
    assert after[ids[0]]["last_error"] is None
    assert all(after[i]["baselined_at"] is None for i in queued)
    assert second.alive()
    assert answered(server, 0) == 1, "the finished poll was not run again"


# --- 3. tracker poll --------------------------------------------------------------------------


def test_tracker_poll_ctrl_c_records_nothing_for_the_unfinished_source(
    cluster, db, store, make_feeds
):
    # One failure would be enough for source.failing: a poll counted as failed shows at once.
    env = {k: v for k, v in cluster.env.items() if k != "TRACKER_BROKER_URL"}
    env["TRACKER_FAILING_AFTER"] = "1"
    server = make_feeds(2, drip={1}, drip_every=0.3)
    ids = add_feeds(db, server, every=3600)
    fast, dripping = ids[0], ids[1]
    poll = cluster.command("poll", "poll", env=env)
    wait_for(lambda: sources(store)[fast]["baselined_at"], 30, "the fast source recorded")
    wait_for(lambda: 1 in server.feeds_in_flight(), 10, "the dripping source in flight")
    time.sleep(0.5)

    started = time.monotonic()
    os.killpg(poll.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole process group
    code = poll.wait_exit(30)
    stopped_after = time.monotonic() - started
    after = sources(store)
    failing = store.scalar("SELECT count(*) FROM event WHERE kind = 'source.failing'")
    output = poll.log_text()
    report(
        "tracker poll, Ctrl-C",
        exit_status=code,
        stopped_after_s=round(stopped_after, 1),
        fast_recorded=bool(after[fast]["baselined_at"]),
        unfinished_failures=after[dripping]["consecutive_failures"],
        unfinished_error=after[dripping]["last_error"],
        source_failing_events=failing,
        output=output.strip().replace("\n", " | "),
    )
    assert code == 130, output
    assert stopped_after < 10, "an interrupted poll returns within seconds"
    assert after[fast]["baselined_at"] is not None
    assert after[dripping]["consecutive_failures"] == 0
    assert after[dripping]["last_error"] is None
    assert after[dripping]["last_polled_at"] is None
    assert failing == 0
    assert leased(store) == []
    assert "Bad file descriptor" not in output
    assert "Polled 1 source in" in output and "1 ok (0 unchanged), 0 failed" in output
    assert f"source.baselined Baselined {server.url(0)}" in output, "what was stored"
    assert "Interrupted: 1 source not finished, nothing recorded for it:" in output
    assert f"not finished {dripping} {server.url(1)}" in output


# --- 4. the broker dies ------------------------------------------------------------------------


def test_worker_survives_a_broker_loss_or_exits_non_zero(
    cluster, db, store, make_feeds, tmp_path: Path
):
    """Redis dies while a poll is in flight and comes back empty. The worker reconnects and
    goes on, or it exits with a failure status and its unit (Restart=always) starts it again;
    never status 0. Either way a poll dispatched once Redis is back is done."""
    from workers.celery_app import create_celery

    server = make_feeds(2, delays={0: 6.0})
    ids = add_feeds(db, server, every=3600)
    slow, fast = ids[0], ids[1]
    settings = Settings(
        _env_file=None, home=tmp_path / "client", database_url=store.url, broker_url=BROKER_URL
    )
    worker = cluster.worker("w1", concurrency=2)

    def dispatch(source_id: int) -> str:
        """Lease one source and queue its poll, as the beat does; the task's id."""
        (claim,) = request_polls(
            db, [source_id], now=datetime.now(UTC), lease=timedelta(seconds=60)
        ).claims
        app = create_celery(settings)
        try:
            sent = app.send_task(POLL_SOURCE, (claim.source_id, claim.token), queue=POLL_QUEUE)
        finally:
            app.close()
        return str(sent.id)

    dispatch(slow)
    wait_for(lambda: 0 in server.feeds_in_flight(), 20, "a poll in flight")
    stop_redis()
    down_at = time.monotonic()
    time.sleep(5)
    start_redis()
    back_at = time.monotonic()

    # Reconnected (answers a ping again) or gone, whichever comes first.
    def settled() -> str | None:
        if not worker.alive():
            return "exited"
        try:
            cluster.wait_ready(worker, timeout=1)
        except AssertionError:
            return None
        return "reconnected"

    outcome = wait_for(settled, 60, "the worker to reconnect or exit", interval=0)
    settled_after = time.monotonic() - back_at
    code = worker.wait_exit(0)
    serving = worker
    if outcome == "exited":
        serving = cluster.worker("w1-restarted", concurrency=2)  # what Restart=always does
    task_id = dispatch(fast)
    wait_for(lambda: sources(store)[fast]["baselined_at"], 30, "a poll after Redis is back")
    polled_after = time.monotonic() - back_at
    slow_row = sources(store)[slow]
    report(
        "broker loss",
        redis_down_s=round(back_at - down_at, 1),
        outcome=outcome,
        exit_status=code,
        settled_after_s=round(settled_after, 1),
        poll_in_flight_at_loss_recorded=bool(slow_row["baselined_at"]),
        poll_in_flight_error=slow_row["last_error"],
        poll_after_restart_done_by=serving.name,
        poll_after_restart_done_after_s=round(polled_after, 1),
    )
    assert outcome == "reconnected" or code not in (0, None), "never an exit with status 0"
    assert task_id in serving.log_text(), "the poll after the restart ran on the live worker"
    assert slow_row["baselined_at"] is not None, "the poll in flight at the loss was recorded"
    assert slow_row["last_error"] is None
