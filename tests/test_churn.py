"""Feeds and pages that change their ids or grow without end: entries sharing a guid are
told apart, a feed whose ids all change is one event, and a source keeps a bounded number
of entries, written in bounded statements."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import col, func, select

from tracker import catalog
from tracker.alerts import subscriptions
from tracker.alerts.deliver import deliver_due
from tracker.alerts.subscriptions import SubscriptionSpec
from tracker.catalog import SourceSpec
from tracker.db import Database
from tracker.detect import feed as feed_detection
from tracker.detect.feed import detect_posts
from tracker.models import Event, Item
from tracker.observations import MAX_ENTRIES, FeedEntry
from tracker.poller import poll_sources, select_sources

from .feeds import rss
from .sinks import Sink
from .sites import Site


def add(db: Database, kind: str, url: str, **options: Any) -> int:
    with db.session() as session:
        spec = catalog.checked(SourceSpec(kind, url, **options), db.settings)
        source = catalog.add(session, spec)
        assert source.id is not None
        return source.id


def poll(db: Database):  # type: ignore[no-untyped-def]
    return poll_sources(db, select_sources(db, None))


def kinds(db: Database) -> list[str]:
    with db.read() as session:
        return [e.kind for e in session.exec(select(Event).order_by(col(Event.id)))]


def items(db: Database) -> int:
    with db.read() as session:
        return session.exec(select(func.count()).select_from(Item)).one()


def shared_guid_feed(*posts: str) -> str:
    body = "".join(
        f"<item><title>{p}</title><link>https://lab.example/{p}</link>"
        "<guid isPermaLink='false'>https://lab.example/feed</guid></item>"
        for p in posts
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{body}</channel></rss>'
    )


def test_entries_sharing_one_guid_are_told_apart_by_their_links(db: Database, site: Site) -> None:
    add(db, "feed", site.put("/feed.xml", shared_guid_feed("one", "two", "three", "four", "five")))
    poll(db)
    assert items(db) == 5

    site.put("/feed.xml", shared_guid_feed("six", "one", "two", "three", "four", "five"))
    report = poll(db)

    assert len(report.event_ids) == 1
    with db.read() as session:
        (post,) = session.exec(select(Event).where(Event.kind == "post.published"))
    assert post.title == "six" and post.url == "https://lab.example/six"


def test_a_feed_whose_ids_all_change_is_one_churn_event(
    db: Database, site: Site, new_sink: Any
) -> None:
    sink: Sink = new_sink()
    add(db, "feed", site.put("/feed.xml", rss(*((f"v1-{n}", f"Post {n}") for n in range(150)))))
    poll(db)
    with db.session() as session:
        subscriptions.add(session, SubscriptionSpec(sink.url()), db.settings)

    site.put("/feed.xml", rss(*((f"v2-{n}", f"Post {n}") for n in range(150))))
    report = poll(db)
    deliver_due(db)

    assert kinds(db) == ["source.baselined", "source.churned"]
    with db.read() as session:
        churned = session.exec(select(Event).where(Event.kind == "source.churned")).one()
    assert churned.data["new_entries"] == 150 and churned.data["entries"] == 150
    assert len(report.event_ids) == 1
    assert [p["title"] for p in sink.payloads] == [churned.title]
    # The new ids are remembered: polling the same document again says nothing.
    assert poll(db).event_ids == []


def test_a_feed_of_news_is_not_churn(db: Database, site: Site) -> None:
    old = [(f"old-{n}", f"Old {n}") for n in range(150)]
    add(db, "feed", site.put("/feed.xml", rss(*old)))
    poll(db)
    site.put("/feed.xml", rss(*((f"new-{n}", f"New {n}") for n in range(20)), *old))

    assert len(poll(db).event_ids) == 20
    assert kinds(db).count("post.published") == 20


def test_a_page_of_links_that_all_change_is_one_event_and_bounded(
    db: Database, site: Site, new_sink: Any
) -> None:
    sink: Sink = new_sink()

    def page(prefix: str, count: int) -> str:
        links = "".join(f'<li><a href="/{prefix}/{n}">Item {n}</a></li>' for n in range(count))
        return f"<html><body><main><ul>{links}</ul></main></body></html>"

    url = site.put("/blog", page("a", 10), content_type="text/html")
    add(db, "page", url, links="main a")
    poll(db)
    with db.session() as session:
        subscriptions.add(session, SubscriptionSpec(sink.url()), db.settings)
    site.put("/blog", page("b", 2 * MAX_ENTRIES), content_type="text/html")

    report = poll(db)
    alerts = deliver_due(db)

    assert report.results[0].ok, report.results[0].error
    assert kinds(db) == ["source.baselined", "source.churned"]
    assert items(db) <= MAX_ENTRIES
    assert alerts.messages_sent == 1 and len(sink.payloads) == 1


def entry(key: str) -> FeedEntry:
    return FeedEntry(key=key, title=key, link=f"https://lab.example/{key}", published_at=None)


def test_a_source_forgets_its_oldest_absent_entries_beyond_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feed_detection, "MAX_ENTRIES", 12)
    previous = {f"k{n}": entry(f"k{n}").state() for n in range(10)}  # oldest first
    current = [entry(f"new{n}") for n in range(5)] + [entry("k9"), entry("k2")]

    detection = detect_posts(previous, current, baselined=True)

    # 10 stored + 5 new = 15: the three oldest not in the document go.
    assert detection.removals == {"k0", "k1", "k3"}
    assert [e.kind for e in detection.events] == ["post.published"] * 5


def test_a_bug_in_detecting_one_source_fails_it_alone(
    db: Database, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from tracker.kinds import feed as feed_kind

    broken_url = site.put("/broken.xml", rss(("a", "Alpha")))
    fine = add(db, "feed", site.put("/fine.xml", rss(("b", "Beta"))))
    broken = add(db, "feed", broken_url)
    real = feed_kind.KIND.detect

    def detect(previous: Any, observation: Any, context: Any) -> Any:
        if context.target == broken_url:
            raise RuntimeError("a detection bug")
        return real(previous, observation, context)

    monkeypatch.setattr(feed_kind, "KIND", dataclasses.replace(feed_kind.KIND, detect=detect))

    report = poll(db)

    outcome = {r.source_id: (r.status, r.error) for r in report.results}
    assert outcome[fine] == ("ok", None)
    assert outcome[broken] == ("failed", "internal error: RuntimeError: a detection bug")
    with db.read() as session:
        keys = [i.key for i in session.exec(select(Item))]
        from tracker.models import Source

        row = session.get(Source, broken)
    assert keys == ["b"]  # nothing of the broken source's transaction was kept
    assert row is not None and row.consecutive_failures == 1 and row.baselined_at is None
