"""Polling many sources of one host beside others: a host's sources take turns at its
limit instead of holding the polling threads that other hosts' sources could use."""

from __future__ import annotations

from sqlmodel import select

from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.db import Database
from tracker.models import Source
from tracker.poller import HostQueue, host_of, poll_sources, select_sources

from .feeds import rss
from .sites import Site


def source(target: str, source_id: int, kind: str = "feed") -> Source:
    return Source(id=source_id, kind=kind, target=target)


def test_the_host_of_a_source_is_the_host_of_its_url() -> None:
    assert host_of(source("https://Lab.Example:8443/feed.xml", 1)) == "lab.example"
    assert host_of(source("http://127.0.0.1:8000/a", 2)) == "127.0.0.1"
    assert host_of(source("meta-llama", 3, kind="hub")) is None
    assert host_of(source("http://[::1/feed", 4)) is None  # not a URL urlsplit can read


def test_no_more_than_the_limit_of_one_host_are_taken_until_one_is_done() -> None:
    a = [source(f"https://a.example/{n}", n) for n in range(1, 5)]
    b = [source(f"https://b.example/{n}", n) for n in range(5, 8)]
    turns = HostQueue([*a, *b], limit=2)

    taken = [turns.take() for _ in range(4)]

    assert taken == [a[0], a[1], b[0], b[1]]
    assert turns.take() is None  # both hosts are at their limit
    turns.done(a[0])
    assert turns.take() == a[2]
    assert turns.take() is None
    turns.done(b[1])
    turns.done(a[1])
    assert [turns.take(), turns.take(), turns.take()] == [a[3], b[2], None]
    assert turns.left() == []


def test_sources_without_a_host_are_never_held_and_order_is_kept_otherwise() -> None:
    hub = [source(f"org-{n}", n, kind="hub") for n in range(1, 6)]
    feeds = [source(f"https://h{n}.example/feed", n) for n in range(6, 9)]
    turns = HostQueue([hub[0], feeds[0], *hub[1:], *feeds[1:]], limit=1)

    taken = [turns.take() for _ in range(8)]

    assert taken == [hub[0], feeds[0], *hub[1:], *feeds[1:]]
    assert turns.take() is None


def test_the_sources_not_taken_are_left_in_their_given_order() -> None:
    a = [source(f"https://a.example/{n}", n) for n in range(1, 4)]
    b = [source(f"https://b.example/{n}", n) for n in range(4, 6)]
    turns = HostQueue([a[0], b[0], a[1], b[1], a[2]], limit=1)
    assert [turns.take(), turns.take(), turns.take()] == [a[0], b[0], None]

    assert turns.left() == [a[1], b[1], a[2]]


def test_a_slow_host_with_many_sources_does_not_hold_the_others(db: Database, site: Site) -> None:
    db.settings.poll_concurrency = 3
    db.settings.per_host_limit = 1
    slow, fast = [], []
    for n in range(4):
        slow.append(site.put(f"/slow{n}.xml", rss((f"s{n}", "Slow")), delay=0.8))
    for n in range(3):
        # The same server under another name: another host to the tracker.
        url = site.put(f"/fast{n}.xml", rss((f"f{n}", "Fast")))
        fast.append(url.replace("127.0.0.1", "localhost"))
    assert "localhost" in fast[0]
    with db.session() as session:
        for url in [*slow, *fast]:  # the slow host's sources first, as ids order them
            catalog.add(session, catalog.checked(SourceSpec("feed", url), db.settings))

    report = poll_sources(db, select_sources(db, None))

    assert [r.ok for r in report.results] == [True] * 7
    order = [hit.path for hit in site.hits]
    second_slow = [n for n, path in enumerate(order) if path.startswith("/slow")][1]
    fast_hits = [n for n, path in enumerate(order) if path.startswith("/fast")]
    # Three threads, one request at a time to the slow host: without turns, all three
    # threads would wait there and the first fast source would start after two slow ones.
    assert len(fast_hits) == 3 and max(fast_hits) < second_slow, order
    assert site.max_in_flight == 2  # one request to each host at a time, both at once
    with db.session() as session:
        assert all(s.baselined_at is not None for s in session.exec(select(Source)))
