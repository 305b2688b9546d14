"""The command line imports only what a command uses: `tracker --help` no database layer,
the reading commands no SQLAlchemy; and the light read path answers as the ORM does."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tracker import dbread, quicksettings
from tracker.config import Settings
from tracker.db import Database
from tracker.eventlog import EventFilter, query
from tracker.models import Event, EventPublic, Source, SourcePublic, table

from .feeds import rss

# What no reading command and no help page may import (the poll, the web and the alerts
# bring these in).
HEAVY = ("sqlalchemy", "sqlmodel", "alembic", "httpx", "huggingface_hub", "apprise", "jinja2")


def imported_by(args: list[str], env: dict[str, str], cwd: Path) -> tuple[set[str], str]:
    """The top-level packages a fresh `tracker ARGS` had imported when it finished, and
    its stdout."""
    code = (
        "import json, sys\n"
        "from tracker.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "sys.stdout.flush()\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1])), done.stdout


def plain_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TRACKER_")}
    env["TRACKER_HOME"] = str(settings.home)
    env["TRACKER_DATABASE_URL"] = settings.effective_database_url
    return env


def test_help_imports_no_database_layer_nor_pydantic(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TRACKER_")}
    env["TRACKER_HOME"] = str(tmp_path / "home")
    modules, out = imported_by(["--help"], env, tmp_path)
    assert "Usage: tracker" in out
    assert not modules & {*HEAVY, "pydantic", "pydantic_settings", "rich", "psycopg"}
    assert not (tmp_path / "home").exists()  # help opens nothing


@pytest.mark.parametrize(
    "args",
    [["events", "--json", "--limit", "5"], ["sources", "list"], ["sources", "list", "--json"]],
)
def test_reading_commands_import_no_sqlalchemy(
    args: list[str], db: Database, settings: Settings, tmp_path: Path
) -> None:
    with db.session() as session:
        session.add(Source(kind="feed", target="https://lab.example/feed.xml", every_seconds=900))
    modules, _out = imported_by(args, plain_env(settings), tmp_path)
    assert not modules & {*HEAVY, "pydantic_settings"}


def test_a_new_home_is_still_created_and_migrated(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TRACKER_")}
    env["TRACKER_HOME"] = str(tmp_path / "home")
    modules, out = imported_by(["events", "--json"], env, tmp_path)
    assert json.loads(out) == []
    assert (tmp_path / "home" / "tracker.db").is_file()
    assert "alembic" in modules  # the full path made the schema


def seeded(db: Database) -> None:
    now = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
    with db.session() as session:
        hub = Source(kind="hub", target="org", every_seconds=900, types="model,dataset")
        feed = Source(
            kind="feed",
            target="https://lab.example/feed.xml",
            name="Lab “quoted”",
            every_seconds=3600,
            enabled=False,
            last_polled_at=now,
            last_success_at=now - timedelta(hours=1),
            baselined_at=now - timedelta(days=1),
            next_poll_at=now + timedelta(hours=1),
            last_error="HTTP 500",
            consecutive_failures=2,
            last_outcome={"status": "failed", "events": 0, "z": [1, 2.5, None]},
        )
        session.add_all([hub, feed])
        session.flush()
        for n in range(6):
            session.add(
                Event(
                    key=f"k{n}",
                    kind="access.gated" if n % 2 else "post.published",
                    severity="warning" if n % 2 else "info",
                    source_id=hub.id if n % 2 else feed.id,
                    subject=f"org/model_{n}%",
                    title=f"Title {n} ✓",
                    url=None if n % 3 else f"https://lab.example/{n}",
                    detected_at=now - timedelta(minutes=n),
                    published_at=now - timedelta(days=n) if n % 2 else None,
                    before={"gated": False} if n % 2 else None,
                    after={"gated": "manual", "b": 1, "a": 2} if n % 2 else None,
                    data={"n": n, "nested": {"x": [True, None]}},
                )
            )


FILTERS = [
    EventFilter(),
    EventFilter(limit=2),
    EventFilter(kinds=("access.*",)),
    EventFilter(kinds=("post.published", "access.gated")),
    EventFilter(kinds=("access.gated", "post.*"), source_id=2),
    EventFilter(subject="model_3%"),
    EventFilter(subject="org/model_1%", exact_subject=True),
    EventFilter(min_severity="warning"),
    EventFilter(since=datetime(2026, 3, 4, 5, 3, tzinfo=UTC)),
    EventFilter(until=datetime(2026, 3, 4, 5, 3, tzinfo=UTC), before_id=6),
]


@pytest.mark.parametrize("wanted", FILTERS)
def test_the_light_read_gives_what_the_orm_gives(db: Database, wanted: EventFilter) -> None:
    from tracker import eventlog

    seeded(db)
    with db.read() as session:
        expected = [EventPublic.of(e).model_dump(mode="json") for e in query(session, wanted)]
    with dbread.engine_reader(db.engine) as reader:
        through_engine = [dbread.event_public(e) for e in eventlog.read(reader, wanted)]
    url = db.settings.effective_database_url
    with dbread.open_reader(url, 5) as reader:
        assert reader is not None
        direct = [dbread.event_public(e) for e in eventlog.read(reader, wanted)]
    assert expected
    assert direct == through_engine == expected
    assert [list(e) for e in direct] == [list(e) for e in expected]  # key order too


def test_the_light_source_listing_gives_what_the_orm_gives(db: Database) -> None:
    from tracker import catalog

    seeded(db)
    with db.read() as session:
        expected = [
            SourcePublic.of(s).model_dump(mode="json") for s in catalog.all_sources(session)
        ]
    with dbread.open_reader(db.settings.effective_database_url, 5) as reader:
        assert reader is not None
        found = [s.public() for s in reader.all_sources()]
    assert found == expected
    assert [list(s) for s in found] == [list(s) for s in expected]
    assert list(dbread.SourceRow.__dataclass_fields__) == list(SourcePublic.model_fields)


def test_the_column_lists_are_the_tables() -> None:
    assert tuple(c.name for c in table(Event).columns) == dbread.EVENT_COLUMNS
    assert tuple(c.name for c in table(Source).columns) == dbread.SOURCE_COLUMNS


def test_an_old_schema_is_left_to_the_full_path(db: Database) -> None:
    with db.engine.begin() as connection:
        head = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    try:
        with dbread.open_reader(db.settings.effective_database_url, 5) as reader:
            assert reader is None
    finally:
        # On PostgreSQL the tests share one migrated schema: leave it at the head.
        with db.engine.begin() as connection:
            connection.execute(
                sa.text("UPDATE alembic_version SET version_num = :head"), {"head": head}
            )


# --- settings without pydantic ----------------------------------------------------------

EXACT = [
    {},
    {"TRACKER_HOME": "~/elsewhere"},
    {"tracker_home": "relative/dir", "TRACKER_DEBUG": "YES"},
    {"TRACKER_DEBUG": "off", "TRACKER_LOG_LEVEL": " info "},
    {"TRACKER_LOG_LEVEL": "  ", "TRACKER_LOG_FORMAT": "json"},
    {"TRACKER_DATABASE_URL": ""},
    {"TRACKER_DATABASE_URL": "postgresql+psycopg://u:p@db/tracker"},
    {"HF_TOKEN": " ", "TRACKER_API_TOKEN": "x", "TRACKER_ALLOW_PRIVATE_NETWORKS": "t"},
]
LEFT_TO_PYDANTIC = [
    {"TRACKER_DEBUG": "maybe"},
    {"TRACKER_DEBUG": " true"},
    {"TRACKER_LOG_FORMAT": "JSON"},
    {"TRACKER_LOG_LEVEL": "loud"},
    {"TRACKER_DATABASE_URL": "mysql://x"},
    {"TRACKER_POLL_CONCURRENCY": "8"},
    {"TRACKER_DB_BUSY_TIMEOUT_SECONDS": "0"},
    {"TRACKER_SOMETHING_NEW": "1"},
    {"HF_TOKEN": "a", "TRACKER_HF_TOKEN": "b"},
]


def _clear(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in list(os.environ):
        if name.upper().startswith(("TRACKER_", "HF_TOKEN", "HF_ENDPOINT")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize("env", EXACT)
def test_quick_settings_are_those_of_settings(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    _clear(monkeypatch, env)
    quick = quicksettings.read()
    assert quick is not None
    full = Settings()
    for name in ("home", "database_url", "log_level", "log_format", "debug"):
        assert getattr(quick, name) == getattr(full, name), name
    assert quick.db_busy_timeout_seconds == full.db_busy_timeout_seconds
    assert quick.effective_database_url == full.effective_database_url


@pytest.mark.parametrize("env", LEFT_TO_PYDANTIC)
def test_quick_settings_leave_what_they_are_unsure_of(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    _clear(monkeypatch, env)
    assert quicksettings.read() is None


def test_an_env_file_is_left_to_pydantic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    _clear(monkeypatch, {})
    (tmp_path / ".env").write_text("TRACKER_DEBUG=1\n", encoding="utf-8")
    assert quicksettings.read() is None


def test_a_bad_setting_is_still_one_line_and_exit_2(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_LOG_FORMAT", "yaml")
    result = cli("events", "--json")
    assert result.code == 2
    assert result.stderr.strip().splitlines() == [
        "tracker: error: invalid configuration TRACKER_LOG_FORMAT: Input should be 'text' or 'json'"
    ]


# --- the poll command is light to register; its poll path comes when it runs --------------


def test_poll_is_registered_from_its_module_and_imports_the_poll_path_only_to_run() -> None:
    from tracker.cli import app
    from tracker.cli import poll as command

    registered = next(c for c in app.registered_commands if c.name == "poll")
    assert registered.callback is command.poll
    probe = (
        "import sys, tracker.cli.poll; "
        "print(' '.join(m for m in ('sqlalchemy', 'httpx', 'tracker.service') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_pypdf_is_imported_by_the_first_pdf_not_by_the_page_kind() -> None:
    probe = (
        "import sys, tracker.kinds.page, tracker.sources.licensepages, tracker.clients; "
        "from tracker.pdftext import is_pdf; "
        "assert is_pdf(b'%PDF-1.7') and not is_pdf(b'<html>'); "
        "print('pypdf' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_poll_of_unchanged_feeds_loads_no_feed_parser(
    cli, site, settings: Settings, tmp_path: Path
) -> None:
    url = site.put("/feed.xml", rss(("a", "First post")))
    assert cli("sources", "add", "feed", url).code == 0
    assert cli("poll").code == 0  # the baseline parses
    env = plain_env(settings) | {"TRACKER_ALLOW_PRIVATE_NETWORKS": "true"}
    modules, out = imported_by(["poll", "--json"], env, tmp_path)
    assert json.loads(out)["unchanged"] == 1  # answered 304
    assert not modules & {"feedparser", "feedparser_rs", "selectolax", "pypdf", "apprise"}


def test_a_poll_in_process_hands_the_collector_back_its_objects(cli, site) -> None:
    url = site.put("/feed.xml", rss(("a", "First post")))
    assert cli("sources", "add", "feed", url).code == 0
    assert cli("poll").code == 0
    assert cli("poll").code == 0
    assert gc.get_freeze_count() == 0
