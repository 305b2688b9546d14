"""Adding sources and polling them in-process, as the tests of each source kind do."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.db import Database
from tracker.models import Event
from tracker.poller import PollReport, poll_sources, select_sources


def add_source(db: Database, kind: str, target: str, **options: Any) -> int:
    """Add a source the way `tracker sources add` does (checked first); its id."""
    spec = catalog.checked(SourceSpec(kind, target, **options), db.settings)
    with db.session() as session:
        source_id = catalog.add(session, spec).id
    assert source_id is not None
    return source_id


def poll(db: Database) -> PollReport:
    """Poll every source once, without delivering; every source must succeed."""
    report = poll_sources(db, select_sources(db, None))
    assert all(r.ok for r in report.results), [r.error for r in report.results]
    return report


def events_of(db: Database, report: PollReport) -> list[Event]:
    """The events a poll recorded, in the order they were recorded."""
    with db.session() as session:
        return list(
            session.exec(
                select(Event).where(col(Event.id).in_(report.event_ids)).order_by(col(Event.id))
            )
        )


def kinds(db: Database, report: PollReport) -> list[str]:
    """The kinds of the events a poll recorded."""
    return [e.kind for e in events_of(db, report)]
