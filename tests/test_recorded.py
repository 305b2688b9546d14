"""The item states a process recorded are its next poll's, while the source's stamp holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from tracker import recorded, store
from tracker.db import Database
from tracker.models import Item, Source, table

from .fakehub import FakeHub
from .test_hub import add_hub, changes, fz, poll

ORG = "lab"


@pytest.fixture
def lab(hub: FakeHub) -> FakeHub:
    hub.add_repo("model", f"{ORG}/one", license="mit")
    hub.add_repo("model", f"{ORG}/two", license="apache-2.0")
    for n in range(10):  # a poll that changes one state in twelve keeps them
        hub.add_repo("dataset", f"{ORG}/data-{n}", license="cc-by-4.0")
    return hub


def states_read(monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The sources whose item states are read from the database from now on."""
    reads: list[int | None] = []
    real = store.load_item_states

    def counted(session, source_id):  # type: ignore[no-untyped-def]
        reads.append(source_id)
        return real(session, source_id)

    monkeypatch.setattr(store, "load_item_states", counted)
    return reads


def stored(db: Database, source_id: int) -> dict:
    items = table(Item)
    with db.read() as session:
        rows = session.execute(
            sa.select(items.c.key, items.c.data)
            .where(items.c.source_id == source_id)
            .order_by(items.c.id)
        )
        return {key: data for key, data in rows}


def test_the_next_poll_takes_the_states_the_last_one_recorded(
    db: Database, lab: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    source_id = add_hub(db, ORG)
    poll(db)  # the baseline writes every state: nothing is kept
    poll(db)
    lab.update_repo("model", f"{ORG}/one", license="llama2")
    reads = states_read(monkeypatch)
    report = poll(db)
    assert reads == []
    assert changes(db, report) == {
        ("license.changed", f"{ORG}/one", fz(license="mit"), fz(license="llama2"))
    }
    assert recorded.recalled(source_id, _stamp(db, source_id)) == stored(db, source_id)
    assert poll(db).event_ids == []
    assert reads == []


def test_states_written_elsewhere_are_read_again(
    db: Database, lab: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    source_id = add_hub(db, ORG)
    poll(db)
    poll(db)
    # Another process's poll: the state written and the stamp moved in one transaction.
    items = table(Item)
    with db.session() as session:
        key = f"model:{ORG}/two"
        data = stored(db, source_id)[key] | {"license": "mit"}
        session.execute(
            sa.update(items)
            .where(items.c.source_id == source_id, items.c.key == key)
            .values(data=data)
        )
        source = session.get(Source, source_id)
        assert source is not None
        source.last_polled_at = datetime.now(UTC)
    reads = states_read(monkeypatch)
    report = poll(db)
    assert reads == [source_id]
    assert changes(db, report) == {
        ("license.changed", f"{ORG}/two", fz(license="mit"), fz(license="apache-2.0"))
    }


def test_a_failed_poll_keeps_nothing_it_did_not_write(
    db: Database, lab: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    source_id = add_hub(db, ORG)
    poll(db)
    poll(db)
    lab.update_repo("model", f"{ORG}/one", license="llama2")

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("the disk is full")

    with monkeypatch.context() as patched:
        patched.setattr(store, "write_items", broken)
        assert not poll(db).results[0].ok
    assert recorded.recalled(source_id, _stamp(db, source_id)) is None
    report = poll(db)
    assert changes(db, report) == {
        ("license.changed", f"{ORG}/one", fz(license="mit"), fz(license="llama2"))
    }


def _stamp(db: Database, source_id: int) -> datetime | None:
    with db.read() as session:
        source = session.get(Source, source_id)
        assert source is not None
        return source.last_polled_at
