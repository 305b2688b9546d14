"""Importing a long watch list: lookups counted, progress shown, the database asked a fixed
number of times, a hung resolver bounded."""

from __future__ import annotations

import socket
import threading
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.db import Database
from tracker.importing import check_hosts, import_specs
from tracker.models import SourcePublic
from tracker.watchlist import read as read_watchlist

from .test_cli import ok_json

PUBLIC = "9.9.9.9"  # answered for the test's names; nothing connects during an import


def opml(path: Path, count: int, *, start: int = 0) -> Path:
    """`count` feeds, each on a host of its own, in a category (as readers export them)."""
    outlines = "".join(
        f'<outline type="rss" text="Feed {n}" xmlUrl="https://feeds{n}.import.test/rss"/>'
        for n in range(start, start + count)
    )
    path.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        f'<outline text="Labs">{outlines}</outline></body></opml>'
    )
    return path


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The guard on, as by default; every name under .import.test resolves to a public
    address, and each lookup is counted."""
    monkeypatch.setenv("TRACKER_ALLOW_PRIVATE_NETWORKS", "false")
    counted: Counter[str] = Counter()
    lock = threading.Lock()
    real = socket.getaddrinfo

    def counting(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if not str(host).endswith(".import.test"):
            return real(host, port, *args, **kwargs)
        with lock:
            counted[str(host)] += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port))]

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    return counted


def test_an_import_looks_up_each_new_host_once_and_a_repeat_none(
    cli, lookups: Counter[str], tmp_path: Path
) -> None:
    path = opml(tmp_path / "feeds.opml", 120)

    first = ok_json(cli("sources", "import", str(path), "--json"))
    assert len(first["added"]) == 120
    assert len(lookups) == 120 and set(lookups.values()) == {1}

    lookups.clear()
    again = ok_json(cli("sources", "import", str(path), "--json"))
    assert again == {"added": [], "existing": [s["id"] for s in first["added"]]}
    assert sum(lookups.values()) == 0


def test_a_longer_list_looks_up_only_the_hosts_of_its_new_sources(
    cli, lookups: Counter[str], tmp_path: Path
) -> None:
    ok_json(cli("sources", "import", str(opml(tmp_path / "a.opml", 10)), "--json"))
    lookups.clear()

    outcome = ok_json(cli("sources", "import", str(opml(tmp_path / "b.opml", 15)), "--json"))

    assert len(outcome["added"]) == 5 and len(outcome["existing"]) == 10
    assert sorted(lookups) == sorted(f"feeds{n}.import.test" for n in range(10, 15))


def test_a_long_check_prints_progress_lines_off_a_terminal(
    cli, lookups: Counter[str], tmp_path: Path
) -> None:
    result = cli("sources", "import", str(opml(tmp_path / "feeds.opml", 120)))

    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "Imported feeds.opml: 120 added, 0 already watched."
    assert result.stderr.splitlines() == [
        f"Checking the hosts of feeds.opml: {n}/120 hosts checked" for n in (50, 100, 120)
    ]


def test_a_long_check_with_json_keeps_stderr_quiet_off_a_terminal(
    cli, lookups: Counter[str], tmp_path: Path
) -> None:
    outcome = ok_json(cli("sources", "import", str(opml(tmp_path / "feeds.opml", 120)), "--json"))

    assert len(outcome["added"]) == 120


def test_a_terminal_gets_a_progress_bar(
    cli, lookups: Counter[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker.cli import sources

    shown: list[tuple[str, int | None, float]] = []

    class Bar:
        def __init__(self, *columns: Any, **options: Any) -> None:
            assert options["console"] is sources.errors and options["transient"]

        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *exc: Any) -> None:
            return None

        def add_task(self, label: str, total: int | None) -> int:
            shown.append((label, total, 0))
            return 0

        def update(self, task: int, *, completed: int, total: int) -> None:
            shown.append((shown[0][0], total, completed))

    sources.errors.file  # noqa: B018 (the console is made on first use; make it now)
    real = sources.errors._console  # type: ignore[attr-defined]
    monkeypatch.setattr(type(real), "is_terminal", property(lambda self: True))
    monkeypatch.setattr("rich.progress.Progress", Bar)

    outcome = ok_json(cli("sources", "import", str(opml(tmp_path / "feeds.opml", 60)), "--json"))

    assert len(outcome["added"]) == 60
    assert shown[0] == ("Checking the hosts of feeds.opml", None, 0)
    assert shown[1] == ("Checking the hosts of feeds.opml", 60, 0)
    assert shown[-1] == ("Checking the hosts of feeds.opml", 60, 60)


def test_a_short_check_and_a_repeat_print_nothing_but_the_summary(
    cli, lookups: Counter[str], tmp_path: Path
) -> None:
    path = opml(tmp_path / "feeds.opml", 20)

    first = cli("sources", "import", str(path))
    again = cli("sources", "import", str(path))

    assert (first.code, first.stderr) == (0, "")
    assert first.stdout.strip() == "Imported feeds.opml: 20 added, 0 already watched."
    assert (again.code, again.stderr) == (0, "")
    assert again.stdout.strip() == "Imported feeds.opml: 0 added, 20 already watched."


def statements(db: Database) -> Counter[str]:
    """The SQL statements the engine sends from now on, by first word (executemany apart)."""
    seen: Counter[str] = Counter()

    @sa.event.listens_for(db.engine, "before_cursor_execute")
    def count(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        executemany = _rest[-1]
        seen[statement.split()[0].upper() + (" many" if executemany else "")] += 1

    return seen


def test_an_import_asks_the_database_a_fixed_number_of_times(db: Database, tmp_path: Path) -> None:
    specs = read_watchlist(opml(tmp_path / "feeds.opml", 300))
    sent = statements(db)

    first = import_specs(db, specs, where="feeds.opml")
    inserts = {k: v for k, v in sent.items() if k.startswith("INSERT")}
    selects = sent["SELECT"]
    sent.clear()
    again = import_specs(db, specs, where="feeds.opml")

    assert len(first.added) == 300
    assert inserts == {"INSERT many": 1} and selects == 2
    assert again.existing == [s.id for s in first.added]
    # Nothing new: one read, no write transaction at all.
    assert sent["SELECT"] == 1 and not any(k.startswith(("INSERT", "UPDATE")) for k in sent)


def test_imported_sources_are_stored_as_one_added_alone_would_be(
    db: Database, tmp_path: Path
) -> None:
    specs = [
        SourceSpec("feed", "https://a.example/feed.xml", "A", 3600),
        SourceSpec("page", "https://b.example/news", None, None, links="a.post"),
        SourceSpec("hub", "some-lab", "Lab", None, types="model,dataset"),
        SourceSpec("arxiv", "au:smith", None, None),
    ]
    imported = import_specs(db, specs, where="list.toml").added

    with db.session() as session:
        for spec in specs:
            session.delete(catalog.find(session, catalog.checked(spec, db.settings)))
    alone = []
    for spec in specs:
        with db.session() as session:
            alone.append(SourcePublic.of(catalog.add(session, catalog.checked(spec, db.settings))))

    def essentials(source: SourcePublic) -> dict[str, Any]:
        return source.model_dump(exclude={"id", "created_at"})

    assert [essentials(s) for s in imported] == [essentials(s) for s in alone]
    assert all(s.created_at.tzinfo is not None for s in imported)
    assert imported[2].types == ["model", "dataset"]


def test_a_source_named_twice_is_added_once_in_file_order(db: Database) -> None:
    a = SourceSpec("feed", "https://a.example/feed.xml", "first")
    b = SourceSpec("feed", "https://b.example/feed.xml")
    outcome = import_specs(db, [a, b, replace(a, name="again")], where="list.toml")

    assert [(s.target, s.name) for s in outcome.added] == [
        ("https://a.example/feed.xml", "first"),
        ("https://b.example/feed.xml", None),
    ]


def test_lookups_still_out_at_the_deadline_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    released = threading.Event()
    hosts = [(f"h{n}.import.test", 443) for n in range(5)]

    def check_host(host: str, port: int) -> list[str]:
        if host != "h0.import.test":
            released.wait(10)  # a resolver that does not answer
        return [PUBLIC]

    monkeypatch.setattr("tracker.importing.check_host", check_host)
    try:
        checks = check_hosts(hosts, deadline=0.2)
    finally:
        released.set()

    assert checks.refused == {} and checks.unanswered == 4


def test_a_refused_host_is_named_even_among_many(db: Database, tmp_path: Path) -> None:
    db.settings.allow_private_networks = False  # the test's names do not resolve: they pass
    path = opml(tmp_path / "feeds.opml", 80)
    text = path.read_text().replace("https://feeds41.import.test/rss", "http://10.0.0.7/rss")
    path.write_text(text)
    from tracker.errors import UserError

    with pytest.raises(UserError, match=r"feeds.opml: source 42 \(http://10.0.0.7/rss\): refused"):
        import_specs(db, read_watchlist(path), where="feeds.opml")
    with db.read() as session:
        assert catalog.watched(session) == {}
