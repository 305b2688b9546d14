"""Prometheus metrics: counters kept by this process, and gauges read from the database.

Counters (polls, poll duration, messages sent) count what this process did. What the
database knows (events by kind, deliveries by status, failing sources) is read at scrape
time, so every process of a deployment reports the same truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlmodel import col, or_, select

from tracker.models import Delivery, Event, Source

if TYPE_CHECKING:
    from tracker.db import Database

POLLS = Counter("tracker_polls_total", "Source polls, by kind and outcome", ["kind", "outcome"])
POLL_SECONDS = Histogram(
    "tracker_poll_duration_seconds",
    "Time to fetch, detect and record one source",
    ["kind"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
MESSAGES = Counter("tracker_alert_messages_total", "Alert messages sent, by outcome", ["outcome"])


class DatabaseCollector(Collector):
    """Gauges computed from the database at each scrape."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterator[GaugeMetricFamily]:
        events = GaugeMetricFamily("tracker_events", "Events in the log, by kind", labels=["kind"])
        deliveries = GaugeMetricFamily(
            "tracker_deliveries", "Alert deliveries, by status", labels=["status"]
        )
        sources = GaugeMetricFamily("tracker_sources", "Sources, by kind", labels=["kind"])
        failing = GaugeMetricFamily(
            "tracker_sources_failing", "Sources whose last poll failed", labels=["kind"]
        )
        poll_lag = GaugeMetricFamily(
            "tracker_poll_lag_seconds", "How overdue the most overdue unclaimed source is"
        )
        delivery_lag = GaugeMetricFamily(
            "tracker_delivery_lag_seconds", "How overdue the oldest due pending delivery is"
        )
        now = datetime.now(UTC)
        with self.database.read() as session:
            for kind, count in session.exec(
                select(Event.kind, sa.func.count()).group_by(col(Event.kind))
            ):
                events.add_metric([kind], count)
            for state, count in session.exec(
                select(Delivery.status, sa.func.count()).group_by(col(Delivery.status))
            ):
                deliveries.add_metric([state], count)
            for kind, total, broken in session.exec(
                select(
                    Source.kind,
                    sa.func.count(),
                    sa.func.sum(sa.case((col(Source.consecutive_failures) > 0, 1), else_=0)),
                ).group_by(col(Source.kind))
            ):
                sources.add_metric([kind], total)
                failing.add_metric([kind], broken or 0)
            oldest_poll = session.exec(
                select(sa.func.min(Source.next_poll_at)).where(
                    col(Source.enabled),
                    col(Source.next_poll_at) <= now,
                    or_(col(Source.lease_until).is_(None), col(Source.lease_until) < now),
                )
            ).one()
            oldest_delivery = session.exec(
                select(sa.func.min(Delivery.next_attempt_at)).where(
                    Delivery.status == "pending", col(Delivery.next_attempt_at) <= now
                )
            ).one()
        poll_lag.add_metric([], _age(oldest_poll, now))
        delivery_lag.add_metric([], _age(oldest_delivery, now))
        yield from (events, deliveries, sources, failing, poll_lag, delivery_lag)


def _age(moment: datetime | None, now: datetime) -> float:
    if moment is None:
        return 0.0
    if moment.tzinfo is None:  # an aggregate over a UTC column comes back naive on SQLite
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (now - moment).total_seconds())


def registry_for(database: Database) -> CollectorRegistry:
    """This process's counters plus the database gauges, for one web app."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(DatabaseCollector(database))
    for collector in (POLLS, POLL_SECONDS, MESSAGES):
        registry.register(collector)
    return registry
