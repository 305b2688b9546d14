"""The one place that creates database engines and sessions, and applies migrations."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker.config import Settings
from tracker.dbread import PG_CONNECT_TIMEOUT, READ_ONLY, SCHEMA_HEAD, first_line
from tracker.errors import UserError

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant works; it only has to be the same for every process of one installation.
_PG_MIGRATION_LOCK = 7_351_209


def create_db_engine(settings: Settings) -> Engine:
    """An engine for the configured database (SQLite under TRACKER_HOME by default)."""
    url = sa.make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, settings)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(
        url,
        connect_args=postgres_connect_args(url.query),
        pool_pre_ping=True,
        pool_size=min(settings.poll_concurrency, 20),
        max_overflow=20,
    )


def postgres_connect_args(query: Mapping[str, object]) -> dict[str, int]:
    """libpq waits for an unreachable host as long as TCP does (minutes): a connection
    gives up after `PG_CONNECT_TIMEOUT` seconds unless the URL sets its own
    `?connect_timeout=`."""
    return {} if "connect_timeout" in query else {"connect_timeout": PG_CONNECT_TIMEOUT}


def _sqlite_engine(url: sa.URL, settings: Settings) -> Engine:
    if url.database and url.database != ":memory:":
        private_file(Path(url.database).expanduser())
    # A connection per polling thread: SQLite connections are cheap, waiting for one is not.
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": settings.db_busy_timeout_seconds},
        pool_size=max(20, settings.poll_concurrency),
        max_overflow=20,
    )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from pysqlite so BEGIN IMMEDIATE below is honoured.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # A deferred transaction that reads and then writes fails at once with "database is
        # locked" when another writer got in between; taking the write lock up front makes
        # concurrent pollers wait their turn (busy timeout) instead. Read-only sessions need
        # no lock at all (WAL lets them read beside the writer).
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def private_file(path: Path) -> None:
    """Create the database file (and its folder) readable by its owner only: it holds
    credentials in clear. SQLite gives its -wal and -shm files the same mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


class Database:
    """An engine plus a session factory; created once per process from settings."""

    def __init__(self, settings: Settings, *, migrate: bool = True) -> None:
        self.settings = settings
        self.engine = create_db_engine(settings)
        if migrate:
            upgrade(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on error."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only: on SQLite it does not take the write lock."""
        # Closing (not rolling back) leaves the loaded objects usable after the block.
        with Session(self.engine, expire_on_commit=False) as session:
            session.connection(execution_options={READ_ONLY: True})
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _alembic_config(connection: sa.Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _head_revision() -> str | None:
    """The newest migration, read from the scripts (tests check SCHEMA_HEAD against it)."""
    from alembic.script import ScriptDirectory

    config = _alembic_config(None)  # type: ignore[arg-type]
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision (None before the first migration)."""
    # Read directly: importing Alembic for this check would add a fifth of a second to
    # every command.
    with engine.connect() as connection:
        connection = connection.execution_options(**{READ_ONLY: True})
        try:
            return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        except sa.exc.DatabaseError:
            connection.rollback()
            return None


def upgrade(engine: Engine) -> bool:
    """Bring the schema to the newest revision; returns whether anything was applied."""
    try:
        if current_revision(engine) == SCHEMA_HEAD:
            return False
        from alembic import command

        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Many workers may start at once; one migrates, the others wait.
                connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
            command.upgrade(_alembic_config(connection), "head")
        return True
    except sa.exc.OperationalError as exc:
        raise UserError(f"cannot open the database: {first_line(exc.orig or exc)}") from exc
