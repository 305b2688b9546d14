"""Polling feeds end to end: local HTTP server -> fetch -> detect -> one transaction."""

from __future__ import annotations

import pathlib

import pytest
from sqlmodel import select

from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.db import Database
from tracker.models import Event, Item, Source
from tracker.poller import poll_sources, select_sources
from tracker.sources import feed as feed_source

from .feeds import rss
from .sites import Site


def add_feed(db: Database, url: str) -> int:
    with db.session() as session:
        return catalog.add(session, catalog.checked(SourceSpec("feed", url), db.settings)).id


def poll_all(db: Database):
    return poll_sources(db, select_sources(db, None))


def events(db: Database, kind: str | None = None) -> list[Event]:
    with db.session() as session:
        statement = select(Event).order_by(Event.id)
        if kind:
            statement = statement.where(Event.kind == kind)
        return list(session.exec(statement))


def source(db: Database, source_id: int) -> Source:
    with db.session() as session:
        return session.get(Source, source_id)


def test_first_poll_records_entries_and_emits_only_baselined(db: Database, site: Site) -> None:
    url = site.put("/feed.xml", rss(("a", "Alpha"), ("b", "Beta")))
    source_id = add_feed(db, url)

    report = poll_all(db)

    assert [r.ok for r in report.results] == [True]
    assert [(e.kind, e.data) for e in events(db)] == [("source.baselined", {"items": 2})]
    with db.session() as session:
        assert {i.key for i in session.exec(select(Item))} == {"a", "b"}
    assert source(db, source_id).name == "Lab Blog"


def test_new_entry_after_baseline_is_a_post(db: Database, site: Site) -> None:
    url = site.put("/feed.xml", rss(("a", "Alpha")))
    source_id = add_feed(db, url)
    poll_all(db)
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")))

    report = poll_all(db)

    posts = events(db, "post.published")
    assert [p.id for p in posts] == report.event_ids
    (post,) = posts
    assert post.source_id == source_id
    assert post.subject == "https://lab.example/posts/b"
    assert post.url == "https://lab.example/posts/b"
    assert post.title == "Beta"
    assert post.published_at is not None
    assert post.published_at.isoformat() == "2026-11-23T10:00:00+00:00"
    assert post.before is None
    assert post.after == {"title": "Beta", "url": "https://lab.example/posts/b"}
    assert post.data["summary"] == "About Beta"
    assert post.severity == "notice"


def test_only_the_first_poll_reads_a_baseline_of_the_feed(
    db: Database, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker import feedparse

    readings: list[bool] = []
    parse = feedparse.parse

    def spy(body: bytes, **kwargs):
        readings.append(kwargs["baseline"])
        return parse(body, **kwargs)

    monkeypatch.setattr(feedparse, "parse", spy)
    url = site.put("/feed.xml", rss(("a", "Alpha")))
    add_feed(db, url)
    poll_all(db)
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")))

    poll_all(db)

    assert readings == [True, False]
    with db.session() as session:
        states = {i.key: i.data for i in session.exec(select(Item))}
    assert states == {
        "a": {"title": "Alpha", "link": "https://lab.example/posts/a"},
        "b": {"title": "Beta", "link": "https://lab.example/posts/b"},
    }


def test_unchanged_feed_sends_conditional_get_and_adds_nothing(db: Database, site: Site) -> None:
    url = site.put("/feed.xml", rss(("a", "Alpha")))
    add_feed(db, url)
    poll_all(db)
    before = len(events(db))

    report = poll_all(db)

    assert report.event_ids == []
    assert report.results[0].unchanged
    assert len(events(db)) == before
    second = site.hits_for("/feed.xml")[-1]
    assert second.headers.get("If-None-Match")
    assert second.headers.get("If-Modified-Since")
    assert second.status == 304
    assert report.body_bytes == 0


def test_body_with_same_hash_is_not_parsed_again(
    db: Database, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server without validators sends the same bytes each time.
    url = site.put("/feed.xml", rss(("a", "Alpha")), etag=False, last_modified=False)
    add_feed(db, url)
    poll_all(db)
    parsed: list[str] = []
    real_parse = feed_source.parse
    monkeypatch.setattr(
        feed_source, "parse", lambda body, **kw: parsed.append(kw["url"]) or real_parse(body, **kw)
    )

    report = poll_all(db)

    assert report.results[0].unchanged
    assert parsed == []
    assert site.hits_for("/feed.xml")[-1].status == 200


def test_reordered_feed_with_edited_title_emits_nothing(db: Database, site: Site) -> None:
    url = site.put("/feed.xml", rss(("a", "Alpha"), ("b", "Beta"), ("c", "Gamma")))
    add_feed(db, url)
    poll_all(db)
    site.put("/feed.xml", rss(("c", "Gamma"), ("a", "Alpha (updated)"), ("b", "Beta")))

    report = poll_all(db)

    assert report.event_ids == []
    assert not report.results[0].unchanged
    with db.session() as session:
        item = session.exec(select(Item).where(Item.key == "a")).one()
    assert item.data["title"] == "Alpha (updated)"


def test_entry_that_left_the_feed_and_returns_is_not_new(db: Database, site: Site) -> None:
    url = site.put("/feed.xml", rss(("a", "Alpha"), ("b", "Beta")))
    add_feed(db, url)
    poll_all(db)
    site.put("/feed.xml", rss(("a", "Alpha")))
    poll_all(db)
    site.put("/feed.xml", rss(("a", "Alpha"), ("b", "Beta")))

    assert poll_all(db).event_ids == []


def test_failing_feed_is_recorded_and_does_not_stop_others(db: Database, site: Site) -> None:
    good = add_feed(db, site.put("/good.xml", rss(("a", "Alpha"))))
    broken = add_feed(db, site.put("/broken.xml", "oops", status=500))
    html = add_feed(
        db,
        site.put(
            "/page.html", "<!doctype html><html><body>Hi</body></html>", content_type="text/html"
        ),
    )
    garbage = add_feed(db, site.put("/garbage.xml", b"\x00\x01not xml at all\xff"))
    missing = add_feed(db, site.url("/missing.xml"))

    report = poll_all(db)

    outcome = {r.source_id: r for r in report.results}
    assert outcome[good].ok
    assert outcome[broken].error == "HTTP 500 INTERNAL SERVER ERROR"
    assert outcome[html].error == "not a feed: the server sent an HTML page"
    assert outcome[garbage].error.startswith("not a feed")
    assert outcome[missing].error == "HTTP 404 NOT FOUND"
    for source_id in (broken, html, garbage, missing):
        stored = source(db, source_id)
        assert stored.last_error == outcome[source_id].error
        assert stored.consecutive_failures == 1
        assert stored.baselined_at is None
    assert source(db, good).consecutive_failures == 0


def test_timeout_is_a_failure_of_that_source_only(db: Database, site: Site) -> None:
    db.settings.http_timeout_seconds = 0.5
    slow = add_feed(db, site.put("/slow.xml", rss(("a", "A")), delay=2))
    fast = add_feed(db, site.put("/fast.xml", rss(("a", "A"))))

    report = poll_all(db)

    outcome = {r.source_id: r for r in report.results}
    assert outcome[fast].ok
    assert not outcome[slow].ok
    assert outcome[slow].error.startswith("timed out")


def test_source_failing_once_per_streak_then_recovered(db: Database, site: Site) -> None:
    url = site.put("/feed.xml", "down", status=503)
    source_id = add_feed(db, url)
    for _ in range(5):
        poll_all(db)
    assert [e.kind for e in events(db)] == ["source.failing"]
    assert source(db, source_id).consecutive_failures == 5

    site.put("/feed.xml", rss(("a", "Alpha")))
    poll_all(db)

    assert [e.kind for e in events(db)] == [
        "source.failing",
        "source.recovered",
        "source.baselined",
    ]
    stored = source(db, source_id)
    assert (stored.consecutive_failures, stored.last_error, stored.failing_since) == (0, None, None)


def test_failed_source_backs_off(db: Database, site: Site) -> None:
    source_id = add_feed(db, site.put("/feed.xml", "down", status=503))
    poll_all(db)
    first = source(db, source_id)
    poll_all(db)
    second = source(db, source_id)

    assert (second.next_poll_at - second.last_polled_at).total_seconds() == 2 * 900
    assert (first.next_poll_at - first.last_polled_at).total_seconds() == 900


def test_repeated_poll_of_changed_feed_never_duplicates_events(db: Database, site: Site) -> None:
    url = site.put("/feed.xml", rss(("a", "Alpha")), etag=False, last_modified=False)
    source_id = add_feed(db, url)
    poll_all(db)
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")), etag=False, last_modified=False)
    poll_all(db)
    # Forget the validators and item states, as if the recording transaction had been lost
    # after the events were written: the events' keys stop a second copy.
    with db.session() as session:
        stored = session.get(Source, source_id)
        stored.content_hash = None
        session.add(stored)
        for item in session.exec(select(Item).where(Item.key == "b")):
            session.delete(item)

    assert poll_all(db).event_ids == []
    assert len(events(db, "post.published")) == 1


def test_many_feeds_are_parsed_in_worker_processes(db: Database, site: Site) -> None:
    # From PARALLEL_PARSING_FROM sources on, feedparser runs in one process per core.
    from tracker.poller import PARALLEL_PARSING_FROM

    count = PARALLEL_PARSING_FROM + 5
    for n in range(count):
        add_feed(db, site.put(f"/feed{n}.xml", rss((f"{n}-a", "A"), (f"{n}-b", "B"))))

    report = poll_all(db)

    assert [r.ok for r in report.results] == [True] * count
    assert len(events(db, "source.baselined")) == count
    with db.session() as session:
        assert len(session.exec(select(Item)).all()) == 2 * count


def test_feed_is_parsed_after_the_parser_processes_lost_their_fork_server(db: Database) -> None:
    # systemd stops a unit by signalling each of its processes, the fork server that the
    # parser processes came from too: the pool breaks, and the parse in flight must not.
    import os
    import signal
    import time
    from multiprocessing import forkserver

    from tracker.clients import Clients

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: feeds are parsed in-line, without parser processes")
    body = rss(("a", "Alpha"), ("b", "Beta")).encode()
    with Clients(db.settings, parallel_parsing=True) as clients:
        assert len(clients.parse_feed(body, url="https://lab.example/", content_type=None).entries)
        pool = clients._parser_pool()
        os.kill(forkserver._forkserver._forkserver_pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while not pool._broken and time.monotonic() < deadline:  # noticed by its own thread
            time.sleep(0.02)
        assert pool._broken

        parsed = clients.parse_feed(body, url="https://lab.example/", content_type=None)

    assert [entry.title for entry in parsed.entries] == ["Alpha", "Beta"]


def test_parser_processes_import_the_parser_and_not_the_application(
    tmp_path: pathlib.Path,
) -> None:
    # Multiprocessing runs the main script (the `tracker` script: `import tracker.cli`) again
    # in every parser process, so the command line must stay light to import, and the pool's
    # set-up must not pull in the HTTP client, the database layer or the PDF reader.
    import os
    import subprocess
    import sys

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: feeds are parsed in-line, without parser processes")
    script = tmp_path / "tracker-like"
    script.write_text(
        "import tracker.cli\n"
        "if __name__ == '__main__':\n"
        "    from tracker.clients import Clients\n"
        "    from tracker.config import Settings\n"
        "    with Clients(Settings(), parallel_parsing=True) as clients:\n"
        "        names = clients._in_worker(\n"
        "            eval, \"sorted(__import__('sys').modules)\", doing='probing', what='probe'\n"
        "        )\n"
        "    print(' '.join(names))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=True
    )
    modules = set(done.stdout.split())

    assert "tracker.feedparse" in modules
    assert not {"tracker.clients", "sqlalchemy", "sqlmodel", "pydantic", "httpx", "pypdf"} & modules
