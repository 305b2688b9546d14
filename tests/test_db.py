"""Storage: migrations create exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from tracker.config import Settings
from tracker.db import SCHEMA_HEAD, Database, _head_revision, current_revision, upgrade
from tracker.events import EventDraft
from tracker.models import Source
from tracker.store import insert_events


def test_migrations_match_the_models(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    engine.dispose()

    assert differences == []


def test_schema_is_created_on_first_use(tmp_path) -> None:
    settings = Settings(_env_file=None, home=tmp_path / "fresh")
    database = Database(settings)

    assert (tmp_path / "fresh" / "tracker.db").exists()
    assert current_revision(database.engine) == _head_revision()
    assert upgrade(database.engine) is False
    database.dispose()


def test_backend_is_the_one_under_test(db: Database) -> None:
    expected = "postgresql" if os.environ.get("TRACKER_TEST_DATABASE_URL") else "sqlite"

    assert db.engine.dialect.name == expected


def test_times_come_back_aware_utc(db: Database) -> None:
    with db.session() as session:
        source = Source(kind="feed", target="https://lab.example/feed", every_seconds=60)
        session.add(source)
    with db.session() as session:
        stored = session.get(Source, source.id)
        assert stored.created_at.utcoffset().total_seconds() == 0
        assert abs((stored.created_at - source.created_at).total_seconds()) < 1e-3


def test_one_statement_stores_each_rows_own_time(db: Database) -> None:
    """The bind conversion remembers its last value (one `now` in thousands of rows):
    rows that alternate between times, and times equal but not the same object, are each
    stored as given."""
    from datetime import timedelta, timezone

    from tracker.models import Item

    early = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    late = datetime(2026, 11, 30, 23, 0, 0, tzinfo=timezone(timedelta(hours=2)))
    equal = datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    times = [early, early, late, early, equal, late, late]
    items = Item.__table__
    with db.session() as session:
        source = Source(kind="feed", target="https://lab.example/times", every_seconds=60)
        session.add(source)
        session.flush()
        rows = [
            {
                "source_id": source.id,
                "key": str(n),
                "data": {},
                "first_seen_at": t,
                "changed_at": early,
            }
            for n, t in enumerate(times)
        ]
        session.execute(sa.insert(items), rows)
    with db.session() as session:
        stored = session.execute(
            sa.select(items.c.key, items.c.first_seen_at, items.c.changed_at)
        ).all()

    assert sorted((int(k), first, changed) for k, first, changed in stored) == [
        (n, t.astimezone(UTC), early) for n, t in enumerate(times)
    ]


def test_event_keys_make_inserts_idempotent(db: Database) -> None:
    drafts = [
        EventDraft(
            kind="post.published",
            subject=f"https://lab.example/{n}",
            title=str(n),
            fingerprint=str(n),
        )
        for n in range(3)
    ]
    now = datetime.now(UTC)
    with db.session() as session:
        first = insert_events(session, 1, drafts, now=now)
    with db.session() as session:
        again = insert_events(
            session,
            1,
            [*drafts, EventDraft(kind="post.published", subject="s", title="t", fingerprint="new")],
            now=now,
        )

    assert len(first) == 3
    assert len(again) == 1


def test_schema_head_names_the_newest_migration() -> None:
    assert _head_revision() == SCHEMA_HEAD
