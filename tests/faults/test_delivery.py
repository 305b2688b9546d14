"""Alert delivery under faults, with real Celery workers, Redis, PostgreSQL and HTTP sinks.

A subscription has one sender at a time across the cluster (a lease on its row), which
claims one message at a time for `outbox.CLAIM_LEASE` and renews the claim while sending.
So a sender killed mid-message holds up its subscription for about that lease (plus the
sweep that re-queues it), re-sends only the message that was in flight, and a target that
never answers holds one worker process while every other subscription's alerts flow.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from datetime import UTC, datetime

import pytest

from tracker.alerts.outbox import CLAIM_LEASE
from tracker.config import Settings

from .conftest import (
    Sink,
    Store,
    add_feeds,
    alerts_expected,
    kill_busy,
    report,
    subscribe,
    wait_for,
)

pytestmark = pytest.mark.faults

LEASE = CLAIM_LEASE.total_seconds()


def sent(store: Store) -> int:
    return store.scalar("SELECT count(*) FROM delivery WHERE status = 'sent'")


def seconds_left(value: datetime | None) -> float | None:
    return None if value is None else round((value - datetime.now(UTC)).total_seconds(), 1)


# --- 1. a sender killed in the middle of a batch ------------------------------------------------


def test_kill_mid_delivery_the_rest_of_the_batch_follows_within_the_claim_lease(
    cluster, db, store, make_feeds, make_sink
):
    batch = 6
    # The product's sweep interval, not the suite's fast one: the delay measured is the one
    # a deployment sees.
    del cluster.env["TRACKER_SWEEP_EVERY_SECONDS"]
    sweep = Settings(_env_file=None).sweep_every_seconds
    server = make_feeds(1)
    sink: Sink = make_sink(delay=1.0)  # under apprise's 4 s read timeout: every send works
    add_feeds(db, server, every=3)
    subscription = subscribe(db, sink, "alerts")
    workers = [cluster.worker(f"w{n}", concurrency=2, wait=False) for n in (1, 2)]
    for proc in workers:
        cluster.wait_ready(proc)
    cluster.beat()
    wait_for(lambda: sent(store) == 1, 30, "the baseline alert sent")
    for _ in range(batch):
        server.add_entry(0)
    # The third alert of the batch is being answered: kill the process sending it.
    wait_for(lambda: len(sink.alerts) >= 1 + 3, 30, "the third alert of the batch")
    proc, in_flight = kill_busy(cluster, sink.sender_ports, whole_worker=False)
    killed_at = time.monotonic()
    arrived_before = len(sink.alerts) - 1 - in_flight
    (sending_until,) = store.rows(
        "SELECT sending_until FROM subscription WHERE id = :id", id=subscription
    )[0]
    held_for = seconds_left(sending_until)
    expected = {("alerts", r[0]) for r in store.rows("SELECT event_id FROM delivery")}

    def settled() -> bool:
        pending = store.scalar("SELECT count(*) FROM delivery WHERE status <> 'sent'")
        return pending == 0 and expected <= set(sink.received())

    # The old design held the rest of the batch for the task time limit (300 s).
    wait_for(settled, LEASE + sweep + 20, "the rest of the batch after the kill", interval=0.1)
    after_kill = [a.at - killed_at for a in sink.alerts if a.at > killed_at]
    received = sink.received()
    duplicates = sum(n - 1 for n in received.values())
    report(
        "kill mid-delivery",
        batch=batch,
        arrived_before_kill=arrived_before,
        in_flight_at_kill=in_flight,
        claim_lease_s=LEASE,
        sweep_every_s=sweep,
        sender_lease_left_at_kill_s=held_for,
        first_arrival_after_kill_s=round(min(after_kill), 1),
        last_arrival_after_kill_s=round(max(after_kill), 1),
        arrivals=sum(received.values()),
        duplicate_arrivals=duplicates,
        killed=f"pool process of {proc.name}",
    )
    assert in_flight == 1
    assert set(received) == expected and len(expected) == 1 + batch
    assert duplicates <= in_flight, "only the alert in flight at the kill is sent twice"


def test_kill_mid_delivery_each_alert_arrives_once_to_one_plus_kills_times(
    cluster, db, store, make_feeds, make_sink
):
    """Three kills (pool processes and a whole worker) while four subscriptions are being
    sent to, with task time limits shorter than a drain: at-least-once, at most 1 + kills.
    (A kill holds up its subscription for a claim lease; the others give the next kill a
    sender to hit meanwhile.)"""
    cluster.env.update(TRACKER_TASK_SOFT_TIME_LIMIT="8", TRACKER_TASK_TIME_LIMIT="10")
    feeds = 4
    server = make_feeds(feeds)
    sink = make_sink(delay=1.0)
    add_feeds(db, server, every=5)
    paths = {subscribe(db, sink, path): path for path in ("a", "b", "c", "d")}
    started = time.monotonic()
    workers = [cluster.worker(f"w{n}", concurrency=2, wait=False) for n in (1, 2)]
    for proc in workers:
        cluster.wait_ready(proc)
    cluster.beat()

    rng = random.Random(11)
    kills: list[str] = []
    kill_times: list[float] = []
    interrupted = 0
    for round_number, whole in enumerate([False, True, False]):
        if round_number:
            for feed in rng.sample(range(feeds), 2):
                server.add_entry(feed)
        proc, hit = kill_busy(cluster, sink.sender_ports, whole_worker=whole, timeout=LEASE + 10)
        interrupted += hit
        kills.append(f"{'worker' if whole else 'pool process'} of {proc.name}")
        kill_times.append(round(time.monotonic() - started, 1))
        if whole:
            cluster.worker(f"w{len(cluster.procs)}", concurrency=2, wait=False)
        time.sleep(rng.uniform(0.3, 1.5))
    last_kill = time.monotonic()

    expected: set[tuple[str, int]] = set()

    def settled() -> bool:
        expected.update(alerts_expected(store, paths))
        pending = store.scalar("SELECT count(*) FROM delivery WHERE status <> 'sent'")
        return pending == 0 and expected <= set(sink.received())

    wait_for(settled, LEASE * 3, "every delivery sent")
    settled_after = time.monotonic() - last_kill
    time.sleep(3)  # a straggling duplicate would arrive now
    received = sink.received()
    per_alert = Counter(received.get(key, 0) for key in expected)
    events = store.scalar("SELECT count(*) FROM event")
    report(
        "kill mid-delivery, three kills",
        kills=len(kills),
        kill_targets=kills,
        killed_at_s=kill_times,
        events=events,
        alerts=len(expected),
        arrivals=sum(received.values()),
        deliveries_per_alert=dict(sorted(per_alert.items())),
        sends_interrupted=interrupted,
        duplicate_arrivals=sum(received.values()) - len(received),
        lost=per_alert.get(0, 0),
        over_bound=sum(n for k, n in per_alert.items() if k > 1 + len(kills)),
        settled_after_last_kill_s=round(settled_after, 1),
        seconds=round(time.monotonic() - started, 1),
    )
    assert len(expected) == events * len(paths)
    assert per_alert.get(0, 0) == 0, "every alert arrives at least once"
    assert max(per_alert) <= 1 + len(kills), "an alert arrives at most 1 + kills times"
    assert sum(received.values()) - len(received) <= interrupted, "only sends in flight repeat"
    assert set(received) <= expected


# --- 2. a target that never answers, beside a healthy one --------------------------------------


def test_hanging_target_holds_one_sender_while_other_alerts_flow(
    cluster, db, store, make_feeds, make_sink
):
    feeds, rounds, window = 4, 5, 40.0
    # The default task time limits: a sender may go on far longer than one claim lease.
    cluster.env.update(TRACKER_TASK_SOFT_TIME_LIMIT="240", TRACKER_TASK_TIME_LIMIT="300")
    server = make_feeds(feeds)
    # "a" accepts each request and never answers: apprise's json:// read timeout (4 s, its
    # default `rto`) is what ends each attempt. "b" answers at once.
    sink: Sink = make_sink(hang={"a"})
    add_feeds(db, server, every=2)
    paths = {subscribe(db, sink, path): path for path in ("a", "b")}
    hung = next(s for s, p in paths.items() if p == "a")
    big = cluster.worker("w1", concurrency=4, wait=False)
    small = cluster.worker("w2", concurrency=2, wait=False)
    for proc in (big, small):
        cluster.wait_ready(proc)
    cluster.beat()
    started = time.monotonic()
    wait_for(lambda: store.baselined() == feeds, 30, "every feed baselined")
    wait_for(lambda: sink.arrivals("a"), 30, "the first request to the hanging target")
    for _ in range(rounds):
        for feed in range(feeds):
            server.add_entry(feed)
        time.sleep(1.5)
    expected_events = feeds + feeds * rounds  # baselines and posts

    def b_done() -> bool:
        arrived = {event for (path, event) in sink.received() if path == "b"}
        return len(arrived) >= expected_events

    wait_for(b_done, 40, "every alert of the healthy subscription")
    b_done_at = time.monotonic() - started
    a_pending = store.scalar(
        "SELECT count(*) FROM delivery WHERE status = 'pending' AND subscription_id = :id",
        id=hung,
    )
    # Keep watching the hanging target across several claim leases and sender hand-overs.
    time.sleep(max(0.0, started + window - time.monotonic()))

    detected = {r[0]: r[1].timestamp() for r in store.rows("SELECT id, detected_at FROM event")}
    b_latency = sorted(
        alert.wall - detected[event]
        for alert in sink.arrivals("b")
        for event in alert.event_ids
        if event in detected
    )
    a_requests = sink.arrivals("a")
    held = sorted(sink.held)
    report(
        "hanging target beside a healthy one",
        worker_processes=6,
        events=expected_events,
        b_alerts=len(b_latency),
        b_latency_p50_s=round(statistics.median(b_latency), 2),
        b_latency_p95_s=round(b_latency[int(len(b_latency) * 0.95) - 1], 2),
        b_latency_max_s=round(b_latency[-1], 2),
        b_all_arrived_after_s=round(b_done_at, 1),
        a_requests=len(a_requests),
        a_peak_concurrent=sink.peak.get("a", 0),
        a_held_median_s=round(statistics.median(held), 1) if held else None,
        a_pending_when_b_done=a_pending,
        watched_s=window,
    )
    assert sink.peak.get("a", 0) == 1, "at most one request to the hanging target at once"
    assert len(a_requests) >= 3, "the hanging target was tried again and again"
    assert a_pending > 0, "the healthy subscription's alerts all arrived while the other hung"
    assert max(sink.received()[("b", e)] for e in detected) == 1
