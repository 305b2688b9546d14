"""Shared fixtures: isolated settings, a fresh database per test, a local web site.

The suite runs on SQLite by default. Set TRACKER_TEST_DATABASE_URL to run the same tests on
PostgreSQL, e.g. `postgresql+psycopg://postgres@127.0.0.1:5432/test` (on Debian:
`apt-get install postgresql`, then `pg_ctlcluster 15 main start`); each run works in a
schema of its own and drops it at the end.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pytest_httpserver import HTTPServer

from tracker.cli import main
from tracker.config import Settings
from tracker.db import Database, upgrade
from tracker.models import SQLModel

from .fakehub import FakeHub, fakehub_fixture
from .sinks import Sink
from .sites import Site

FIXTURES = Path(__file__).parent / "fixtures"
PG_URL = os.environ.get("TRACKER_TEST_DATABASE_URL")


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's TRACKER_*/HF_* variables or a stray .env file."""
    for name in list(os.environ):
        if name.startswith(("TRACKER_", "HF_")) and not name.startswith("TRACKER_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Name lookups answer only for this machine: a test that reaches for the internet fails
    at once (as if offline) instead of passing or hanging by accident."""
    real = socket.getaddrinfo

    def local_only(host, port, *args, **kwargs):  # type: ignore[no-untyped-def]
        name = host.decode() if isinstance(host, bytes) else host
        if name in (None, "localhost"):
            return real(host, port, *args, **kwargs)
        try:
            infos = real(host, port, 0, 0, 0, socket.AI_NUMERICHOST)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, f"tests resolve no names ({name})") from None
        if all(ipaddress.ip_address(info[4][0].split("%")[0]).is_global for info in infos):
            raise socket.gaierror(socket.EAI_NONAME, f"tests reach no public address ({name})")
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


@pytest.fixture(scope="session")
def _postgres_url() -> Iterator[sa.URL | None]:
    if not PG_URL:
        yield None
        return
    base = sa.make_url(PG_URL)
    admin = sa.create_engine(base)
    schema = f"tracker_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        pytest.exit(f"TRACKER_TEST_DATABASE_URL is set but PostgreSQL is unreachable: {exc}", 3)
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    engine = sa.create_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (cheaper than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "tracker.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, _postgres_url: sa.URL | None
) -> str:
    """A URL of an empty, migrated database for this test."""
    if _postgres_url is not None:
        engine = sa.create_engine(_postgres_url)
        tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return _postgres_url.render_as_string(hide_password=False)
    path = tmp_path / "home" / "tracker.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(request.getfixturevalue("_sqlite_template"), path)
    return f"sqlite:///{path}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for a test: its own home and database; loopback sources allowed."""
    return Settings(
        _env_file=None,
        home=tmp_path / "home",
        database_url=database_url,
        allow_private_networks=True,
        http_timeout_seconds=5,
    )


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def _http_server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def site(_http_server: HTTPServer) -> Iterator[Site]:
    """A local web site, empty at the start of each test."""
    _http_server.clear()
    yield Site(_http_server)
    _http_server.clear()


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings) -> Iterator[FakeHub]:
    """A fake Hub on loopback (two repos per listing page); settings and HF_ENDPOINT point at it."""
    for running in fakehub_fixture(monkeypatch, tmp_path, page_size=2):
        settings.hf_endpoint = running.endpoint
        yield running


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run `tracker ...` in this process against the test's database."""
    monkeypatch.setenv("TRACKER_HOME", str(settings.home))
    monkeypatch.setenv("TRACKER_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("TRACKER_ALLOW_PRIVATE_NETWORKS", "true")

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def new_sink() -> Iterator[Any]:
    """Makes HTTP sinks: `new_sink()`, `new_sink(status=500)`, `new_sink(hang=True)`."""
    made: list[Sink] = []

    def make(**options: Any) -> Sink:
        sink = Sink(**options)
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.close()
