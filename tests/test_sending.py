"""Sending never stretches polling, and one target never holds up the others: polls report
on their own clock while their alerts go out beside them; a subscription has one sender at
a time across the deployment; a sender that dies holds up its one message, briefly."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select

from tracker import catalog
from tracker.alerts import outbox, subscriptions
from tracker.alerts.deliver import deliver_due
from tracker.alerts.sender import BackgroundSender
from tracker.alerts.subscriptions import SubscriptionSpec
from tracker.catalog import SourceSpec
from tracker.db import Database
from tracker.models import Delivery, Subscription
from tracker.poller import poll_sources, select_sources
from tracker.service import PollService

from .feeds import rss
from .sinks import Sink
from .sites import Site


def watched_feed(db: Database, site: Site, *items: tuple[str, str]) -> int:
    url = site.put("/feed.xml", rss(*items, ("a", "Alpha")))
    with db.session() as session:
        source = catalog.add(session, catalog.checked(SourceSpec("feed", url), db.settings))
    poll_sources(db, select_sources(db, None))
    assert source.id is not None
    return source.id


def subscribe(db: Database, url: str, **spec: Any) -> int:
    with db.session() as session:
        subscription = subscriptions.add(session, SubscriptionSpec(url, **spec), db.settings)
    assert subscription.id is not None
    return subscription.id


def statuses(db: Database, subscription_id: int) -> list[str]:
    with db.read() as session:
        rows = session.exec(
            select(Delivery)
            .where(Delivery.subscription_id == subscription_id)
            .order_by(col(Delivery.id))
        )
        return [d.status for d in rows]


def wait_until(condition: Any, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


def test_a_poll_reports_while_its_alerts_are_still_being_sent(
    db: Database, site: Site, new_sink: Any
) -> None:
    sink: Sink = new_sink(hold=True)
    watched_feed(db, site)
    subscribe(db, sink.url(query="rto=20"))
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")))
    sender = BackgroundSender(db)

    report = PollService(db, sender=sender).poll()
    assert sink.arrived.wait(10)

    # The poll is over and reported; its alert is still at the target.
    assert report.results[0].ok and len(report.event_ids) == 1
    assert sink.in_flight == 1
    sink.released.set()
    alerts = sender.finish()
    assert (alerts.messages_sent, alerts.delivered) == (1, 1)
    assert [p["title"] for p in sink.payloads] == ["Beta"]


def test_a_dead_senders_message_holds_up_only_itself_and_only_briefly(
    db: Database, site: Site, new_sink: Any
) -> None:
    sink: Sink = new_sink()
    watched_feed(db, site)
    subscription_id = subscribe(db, sink.url())
    site.put("/feed.xml", rss(("d", "Delta"), ("c", "Gamma"), ("b", "Beta"), ("a", "Alpha")))
    poll_sources(db, select_sources(db, None))
    died = datetime.now(UTC)
    with db.session() as session:  # a sender takes the first message ... and dies
        subscription = session.get(Subscription, subscription_id)
        assert subscription is not None
        held = outbox.acquire_sender(
            session, subscription_id, "dead", now=died, until=died + outbox.CLAIM_LEASE
        )
        batch = outbox.claim_next_message(session, subscription, now=died, storm_threshold=20)
    assert held and batch is not None and len(batch.deliveries) == 1

    early = deliver_due(db, now=died + timedelta(seconds=10))
    later = deliver_due(db, now=died + outbox.CLAIM_LEASE + timedelta(seconds=1))

    assert early.messages_sent == 0  # the dead sender still looks alive
    assert (later.messages_sent, later.delivered) == (3, 3)
    assert statuses(db, subscription_id) == ["sent", "sent", "sent"]
    assert sorted(p["title"] for p in sink.payloads) == ["Beta", "Delta", "Gamma"]


def test_a_target_that_never_answers_holds_one_sender_while_the_others_flow(
    db: Database, site: Site, new_sink: Any
) -> None:
    stuck: Sink = new_sink(hold=True)
    healthy: Sink = new_sink()
    watched_feed(db, site)
    stuck_id = subscribe(db, stuck.url(query="rto=25"))
    healthy_id = subscribe(db, healthy.url())
    site.put("/feed.xml", rss(("c", "Gamma"), ("b", "Beta"), ("a", "Alpha")))
    poll_sources(db, select_sources(db, None))
    first = threading.Thread(target=deliver_due, args=(db,), daemon=True)
    first.start()
    assert stuck.arrived.wait(10)
    assert wait_until(lambda: statuses(db, healthy_id) == ["sent", "sent"])

    # More events while the stuck target still holds its first message.
    site.put("/feed.xml", rss(("d", "Delta"), ("c", "Gamma"), ("b", "Beta"), ("a", "Alpha")))
    poll_sources(db, select_sources(db, None))
    second: list[Any] = []
    other = threading.Thread(target=lambda: second.append(deliver_due(db)), daemon=True)
    other.start()
    other.join(20)

    assert not other.is_alive() and second[0].messages_sent == 1  # Delta, to the healthy one
    assert wait_until(lambda: statuses(db, healthy_id) == ["sent", "sent", "sent"])
    assert stuck.max_in_flight == 1  # never a second send to it while one is in flight
    stuck.released.set()
    first.join(30)
    assert not first.is_alive()
    # Its one sender went on with the backlog once the target answered, one at a time.
    assert statuses(db, stuck_id) == ["sent", "sent", "sent"]
    assert sorted(p["title"] for p in stuck.payloads) == ["Beta", "Delta", "Gamma"]
    assert stuck.max_in_flight == 1


def test_hundreds_of_new_events_are_recorded_in_chunks_and_sent_as_one_message(
    db: Database, site: Site, new_sink: Any
) -> None:
    sink: Sink = new_sink()
    old = [(f"old-{n}", f"Old {n}") for n in range(3000)]
    site.put("/feed.xml", rss(*old))
    with db.session() as session:
        catalog.add(
            session, catalog.checked(SourceSpec("feed", site.url("/feed.xml")), db.settings)
        )
    poll_sources(db, select_sources(db, None))
    subscription_id = subscribe(db, sink.url())
    new = [(f"new-{n}", f"New {n}") for n in range(600)]  # 600 of 3,600: news, not churn
    site.put("/feed.xml", rss(*new, *old))

    report = poll_sources(db, select_sources(db, None))
    alerts = deliver_due(db)

    assert len(report.event_ids) == 600
    assert (alerts.messages_sent, alerts.delivered) == (1, 600)
    assert statuses(db, subscription_id) == ["sent"] * 600
    (payload,) = sink.payloads
    assert "600 changes" in payload["title"]


class CountingSender:
    """A sender that only counts the polls that called on it."""

    def __init__(self) -> None:
        self.calls: list[list[int]] = []

    def events_recorded(self, event_ids: Any) -> None:
        self.calls.append(list(event_ids))


def test_a_sender_is_called_on_only_for_events_that_wrote_deliveries(
    db: Database, site: Site, new_sink: Any
) -> None:
    watched_feed(db, site)
    sender = CountingSender()
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")))

    quiet = PollService(db, sender=sender).poll()  # an event, but nobody subscribed

    assert len(quiet.event_ids) == 1 and quiet.results[0].deliveries == 0
    assert sender.calls == []
    subscribe(db, new_sink().url())
    site.put("/feed.xml", rss(("c", "Gamma"), ("b", "Beta"), ("a", "Alpha")))

    heard = PollService(db, sender=sender).poll()

    assert heard.results[0].deliveries == 1
    assert sender.calls == [heard.event_ids]
