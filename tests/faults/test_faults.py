"""Fault tolerance of the distributed mode, with real processes and real servers.

Celery workers and beats run as `tracker worker` / `tracker beat` processes on the real
Redis (db 9) and PostgreSQL (a schema per test). The tests kill workers with SIGKILL in the
middle of polls, wipe and restart Redis, restart PostgreSQL, and run two beats at once; then
they check the database (the source of truth) and what the local feed server and alert sink
saw. Each test prints its figures. Deliveries under faults are in test_delivery.py;
stopping (SIGTERM, Ctrl-C) and losing the broker in test_shutdown.py.

Sources here poll every few seconds: the catalog refuses intervals under 30 s to users, so
the tests store them directly (see `add_feeds`); the 200-source test uses a real 30 s.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter

import pytest

from workers.celery_app import ALERT_QUEUE, POLL_QUEUE

from .conftest import (
    FeedServer,
    add_feeds,
    alerts_expected,
    kill_busy,
    pg_ctl,
    post_counts,
    postgres_problem,
    redis_cli,
    report,
    restart_redis_empty,
    subscribe,
    wait_for,
)

pytestmark = pytest.mark.faults


# --- 1. SIGKILL in the middle of polls ------------------------------------------------------


def test_kill_mid_poll_loses_and_duplicates_no_event(cluster, db, store, make_feeds):
    feeds = 8
    server: FeedServer = make_feeds(feeds, delay=2.0)
    ids = add_feeds(db, server, every=5)
    feed_of = {source: feed for feed, source in ids.items()}
    rng = random.Random(7)
    started = time.monotonic()
    workers = [cluster.worker(f"w{n}", concurrency=3, wait=False) for n in (1, 2)]
    for proc in workers:
        cluster.wait_ready(proc)
    cluster.beat()

    kills: list[str] = []
    interrupted = 0
    # Round 0 hits the baseline polls; then each round adds entries and kills again.
    plan = [False, True, False, True, False]
    for round_number, whole in enumerate(plan):
        if round_number:
            for feed in rng.sample(range(feeds), 2):
                server.add_entry(feed)
        proc, hit = kill_busy(cluster, server.poller_ports, whole_worker=whole)
        interrupted += hit
        kills.append(f"{'worker' if whole else 'pool process'} of {proc.name}")
        if whole:
            cluster.worker(f"w{len(cluster.procs)}", concurrency=3, wait=False)
        if round_number == 0:
            wait_for(lambda: store.baselined() == feeds, 60, "every feed baselined")
        time.sleep(rng.uniform(0.5, 2.5))
    for feed in range(feeds):  # one more entry everywhere, after the last kill
        server.add_entry(feed)

    expected = server.expected_posts()
    wait_for(lambda: expected <= set(post_counts(store, feed_of)), 90, "every new entry's event")
    time.sleep(6)  # one more interval: a late duplicate would show now
    counts = post_counts(store, feed_of)
    baselines = Counter(
        r[0] for r in store.rows("SELECT source_id FROM event WHERE kind = 'source.baselined'")
    )
    duplicates = {key: n for key, n in counts.items() if n > 1}
    lost = expected - set(counts)
    unexpected = set(counts) - expected
    report(
        "kill mid-poll",
        kills=len(kills),
        kill_targets=kills,
        polls_interrupted=interrupted,
        entries_added=len(expected),
        post_events=sum(counts.values()),
        duplicates=len(duplicates),
        losses=len(lost),
        unexpected=len(unexpected),
        baselined=f"{store.baselined()}/{feeds}",
        feed_requests=len(server.requests),
        seconds=round(time.monotonic() - started, 1),
    )
    assert store.baselined() == feeds
    assert baselines == Counter(ids.values()), "one source.baselined event per source"
    assert not duplicates, duplicates
    assert not lost, lost
    assert not unexpected, unexpected


# --- 2. Redis loses everything ----------------------------------------------------------------


def test_redis_flushall_and_restart_loses_no_pending_delivery(
    cluster, db, store, make_feeds, make_sink
):
    feeds = 6
    server = make_feeds(feeds)
    sink = make_sink(delay=0.5)
    add_feeds(db, server, every=5)
    paths = {subscribe(db, sink, path): path for path in ("a", "b", "c")}
    # Until the flush only the poll queue is served: every alert the polls produce waits in
    # Redis, and nothing but the database remembers it once Redis has lost it.
    cluster.worker("polls", concurrency=2, queues=POLL_QUEUE)
    cluster.beat()
    wait_for(lambda: store.baselined() == feeds, 40, "every feed baselined")
    for feed in range(feeds):
        server.add_entry(feed)

    def pending() -> dict[int, tuple[str, int, bool]]:
        """Pending deliveries: (sink path, event id, whether a sender holds them)."""
        rows = store.rows(
            "SELECT id, subscription_id, event_id, claimed_until > now() FROM delivery "
            "WHERE status = 'pending'"
        )
        return {r[0]: (paths[r[1]], r[2], bool(r[3])) for r in rows}

    wait_for(lambda: len(pending()) == feeds * len(paths), 40, "an alert per post and path")
    wait_for(
        lambda: int(redis_cli("-n", "9", "LLEN", ALERT_QUEUE)) > 0, 20, "alert messages queued"
    )
    pending_ids = pending()
    unclaimed = sum(not held for *_, held in pending_ids.values())
    queued = redis_cli("-n", "9", "LLEN", ALERT_QUEUE)
    restart_redis_empty()
    restarted = time.monotonic()
    cluster.worker("alerts", concurrency=2)  # both queues
    after = server.add_entry(0)  # and the system keeps working after the restart

    expected: set[tuple[str, int]] = set()

    def settled() -> bool:
        expected.update(alerts_expected(store, paths))
        posts = {r[0] for r in store.rows("SELECT subject FROM event")}
        pending = store.scalar("SELECT count(*) FROM delivery WHERE status <> 'sent'")
        return after in posts and pending == 0 and expected <= set(sink.received())

    wait_for(settled, 60, "every delivery sent after the Redis restart")
    received = sink.received()
    per_alert = Counter(received.get(key, 0) for key in expected)
    report(
        "redis flushall+restart",
        pending_at_flush=len(pending_ids),
        pending_unclaimed_at_flush=unclaimed,
        messages_in_queue_at_flush=queued,
        pending_arrived=sum(1 for p, e, _ in pending_ids.values() if (p, e) in received),
        alerts=len(expected),
        deliveries_per_alert=dict(sorted(per_alert.items())),
        recovered_after_s=round(time.monotonic() - restarted, 1),
    )
    assert unclaimed == len(pending_ids), "no sender had claimed any of them before the flush"
    assert all((p, e) in received for p, e, _ in pending_ids.values())
    assert per_alert.get(0, 0) == 0
    assert max(per_alert) == 1, "no crash, so no alert twice"


# --- 3. PostgreSQL restarts ---------------------------------------------------------------------


def test_postgres_restart_workers_recover_without_restart(
    cluster, db, store, make_feeds, make_sink
):
    feeds = 4
    server = make_feeds(feeds, delay=1.0)
    sink = make_sink(delay=0.5)
    add_feeds(db, server, every=3)
    subscribe(db, sink, "alerts")
    workers = [cluster.worker(f"w{n}", concurrency=2, wait=False) for n in (1, 2)]
    for proc in workers:
        cluster.wait_ready(proc)
    beat = cluster.beat()
    wait_for(lambda: store.baselined() == feeds, 40, "every feed baselined")
    pids = {proc.name: proc.pid for proc in cluster.procs}

    polls_in_flight = len(wait_for(server.poller_ports, 15, "a poll in flight", interval=0.05))
    try:
        pg_ctl("stop")
        stopped = time.monotonic()
        time.sleep(3)
    finally:
        pg_ctl("start")
    wait_for(lambda: postgres_problem() is None, 30, "PostgreSQL back")
    back = time.monotonic()
    subjects = {server.add_entry(feed) for feed in range(feeds)}

    def detected() -> bool:
        rows = store.rows("SELECT subject FROM event WHERE kind = 'post.published'")
        return subjects <= {r[0] for r in rows}

    wait_for(detected, 60, "the new entries detected after the restart")
    detected_after = time.monotonic() - back
    post_ids = {r[0] for r in store.rows("SELECT id FROM event WHERE kind = 'post.published'")}
    wait_for(
        lambda: {("alerts", i) for i in post_ids} <= set(sink.received()),
        60,
        "the new entries' alerts",
    )
    delivered_after = time.monotonic() - back
    received = sink.received()
    report(
        "postgres restart",
        polls_in_flight_at_stop=polls_in_flight,
        down_seconds=round(back - stopped, 1),
        new_entries=len(subjects),
        detected_after_s=round(detected_after, 1),
        delivered_after_s=round(delivered_after, 1),
        new_alerts_arrived=sum(1 for i in post_ids if ("alerts", i) in received),
        max_deliveries_per_alert=max(received.values()),
        processes_restarted=0,
    )
    assert all(proc.alive() for proc in cluster.procs), cluster.logs()
    assert {proc.name: proc.pid for proc in cluster.procs} == pids
    assert beat.alive()
    assert len(post_ids) == feeds
    assert all(received[("alerts", i)] == 1 for i in post_ids)


# --- 4. two beats, three workers, 200 sources -----------------------------------------------------


def test_two_beats_three_workers_poll_each_source_once_per_interval(cluster, db, store, make_feeds):
    feeds, every, window = 200, 30, 40.0
    tolerance = 1.0  # seconds; the next poll is due 0.95 * every after the last one ended
    server = make_feeds(feeds, initial=1)
    ids = add_feeds(db, server, every=every)
    feed_of = {source: feed for feed, source in ids.items()}
    workers = [cluster.worker(f"w{n}", concurrency=2, wait=False) for n in (1, 2, 3)]
    for proc in workers:
        cluster.wait_ready(proc)
    cluster.beat("beat1")
    cluster.beat("beat2")
    wait_for(lambda: server.requests, 30, "the first poll")
    first = time.monotonic()
    wait_for(lambda: store.baselined() == feeds, 30, "every source baselined")
    time.sleep(5)
    added = {server.add_entry(feed) for feed in range(0, feeds, 10)}
    time.sleep(max(0.0, first + window - time.monotonic()))
    alive = [proc.name for proc in cluster.procs if proc.alive()]
    cluster.stop()

    per_feed = server.requests_per_feed()
    gaps = [b - a for times in per_feed.values() for a, b in itertools.pairwise(times)]
    short = sorted(g for g in gaps if g < every * 0.95 - tolerance)
    twice = sum(1 for times in per_feed.values() if len(times) >= 2)
    firsts = [times[0] for times in per_feed.values() if times]
    first_round = max(firsts) - min(firsts)
    events = store.rows("SELECT source_id, kind, subject FROM event")
    duplicates = {k: n for k, n in Counter(events).items() if n > 1}
    posts = {subject for _source, kind, subject in events if kind == "post.published"}
    report(
        "two beats, three workers",
        sources=feeds,
        window_s=window,
        requests=len(server.requests),
        first_round_s=round(first_round, 1),
        polled_twice=twice,
        min_gap_s=round(min(gaps), 2) if gaps else None,
        gaps_too_short=len(short),
        events=len(events),
        duplicate_events=len(duplicates),
        new_entries_detected=f"{len(posts & added)}/{len(added)}",
    )
    assert alive == ["w1", "w2", "w3", "beat1", "beat2"], alive
    assert all(len(times) >= 1 for times in per_feed.values())
    assert twice >= feeds * 0.9, "most sources reached their second poll in the window"
    assert not short, f"sources polled twice within one interval: gaps {short[:10]}"
    assert not duplicates, duplicates
    assert posts <= added
    assert {feed_of[row[0]] for row in events} == set(range(feeds))
