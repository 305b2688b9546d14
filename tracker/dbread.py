"""Reading the database through its DB-API driver (sqlite3, psycopg), without SQLAlchemy.

Commands that only read (`tracker events`, `tracker sources list`) would otherwise spend
most of their time importing SQLAlchemy and SQLModel. The statements are built here and
shared: the ORM reads of the web side run the same SQL (`tracker.eventlog.query`,
`tracker.catalog.all_sources`), so both read alike on SQLite and PostgreSQL.

`open_reader` connects only to a database that is already there and at the newest schema
revision; anything else (a new or old database, an unusual URL, a file whose mode is too
open) is left to `tracker.dbfile.open_database`, which creates, migrates and explains.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tracker.errors import UserError
from tracker.ids import MAX_ID

# The newest migration in migrations/versions; a new migration updates it (a test checks).
SCHEMA_HEAD = "0006"
READ_ONLY = "tracker_read_only"
# Seconds a PostgreSQL connection may take before it gives up (libpq's `connect_timeout`),
# unless the database URL sets its own.
PG_CONNECT_TIMEOUT = 10

# Columns in table order (tests check them against the models).
EVENT_COLUMNS = (
    "id",
    "key",
    "kind",
    "severity",
    "source_id",
    "subject",
    "title",
    "url",
    "detected_at",
    "published_at",
    "before",
    "after",
    "data",
)
SOURCE_COLUMNS = (
    "id",
    "kind",
    "target",
    "name",
    "every_seconds",
    "enabled",
    "types",
    "links",
    "created_at",
    "next_poll_at",
    "lease_until",
    "lease_token",
    "last_polled_at",
    "last_success_at",
    "baselined_at",
    "last_error",
    "consecutive_failures",
    "failing_since",
    "deferrals",
    "poll_requested_at",
    "last_outcome",
    "poll_focus",
    "etag",
    "last_modified",
    "content_hash",
)
_JSON_COLUMNS = frozenset({"before", "after", "data", "last_outcome", "poll_focus"})
_TIME_COLUMNS = frozenset(
    {
        "detected_at",
        "published_at",
        "created_at",
        "next_poll_at",
        "lease_until",
        "last_polled_at",
        "last_success_at",
        "baselined_at",
        "failing_since",
        "poll_requested_at",
    }
)
_BOOL_COLUMNS = frozenset({"enabled"})

ALL_SOURCES_SQL = f"SELECT {', '.join(SOURCE_COLUMNS)} FROM source ORDER BY source.id"


@dataclass
class Statement:
    """SQL with `:name` placeholders and its parameters, already in the form the
    dialect stores them (SQLite keeps times as naive UTC text)."""

    sql: str
    params: dict[str, Any]


class Binder:
    """Names parameters `p0`, `p1`, ... and converts their values for the dialect."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.params: dict[str, Any] = {}

    def __call__(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = self.value(value)
        return f":{name}"

    def value(self, value: Any) -> Any:
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UTC column")
            value = value.astimezone(UTC)
            if self.dialect == "sqlite":
                # How SQLAlchemy's SQLite DATETIME stores it: compared as text.
                return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value


def like_escaped(text: str) -> str:
    """`text` with LIKE's wildcards escaped by `/` (as SQLAlchemy's autoescape does)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def row_values(row: Sequence[Any], columns: Sequence[str]) -> dict[str, Any]:
    """A row as Python values: aware UTC times, decoded JSON, booleans."""
    values: dict[str, Any] = {}
    for name, value in zip(columns, row, strict=True):
        if value is not None:
            if name in _TIME_COLUMNS:
                value = _utc(value)
            elif name in _JSON_COLUMNS and isinstance(value, str | bytes):
                value = json.loads(value)
            elif name in _BOOL_COLUMNS:
                value = bool(value)
        values[name] = value
    return values


def _utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso(moment: datetime | None) -> str | None:
    """The contract's times: ISO 8601 with an explicit offset."""
    return None if moment is None else moment.isoformat()


# --- the public shapes (tracker.models' EventPublic and SourcePublic, as JSON) ----------


# EventPublic's fields: the table's columns but the unique key.
EVENT_PUBLIC = tuple(name for name in EVENT_COLUMNS if name != "key")


def _as_json(name: str, value: Any) -> Any:
    return iso(value) if name in _TIME_COLUMNS else value


def event_public(values: dict[str, Any]) -> dict[str, Any]:
    """An event row as `EventPublic.model_dump(mode="json")` gives it."""
    return {name: _as_json(name, values[name]) for name in EVENT_PUBLIC}


@dataclass
class SourceRow:
    """What listing a source shows (the fields of `SourcePublic`)."""

    id: int
    kind: str
    target: str
    name: str | None
    every_seconds: int
    enabled: bool
    last_polled_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    types: list[str] | None
    links: str | None
    created_at: datetime
    last_success_at: datetime | None
    baselined_at: datetime | None
    next_poll_at: datetime | None
    last_outcome: dict[str, Any] | None

    @classmethod
    def of(cls, values: dict[str, Any]) -> SourceRow:
        shown = {name: values[name] for name in cls.__dataclass_fields__}
        shown["types"] = shown["types"].split(",") if shown["types"] else None
        return cls(**shown)

    def public(self) -> dict[str, Any]:
        """As `SourcePublic.model_dump(mode="json")` gives it."""
        return {name: _as_json(name, value) for name, value in vars(self).items()}


# --- connections ---------------------------------------------------------------------


class Reader:
    """A DB-API connection used for reading only, and its dialect."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self.connection = connection
        self.dialect = dialect

    def binder(self) -> Binder:
        return Binder(self.dialect)

    def rows(self, statement: Statement) -> list[Sequence[Any]]:
        sql = statement.sql
        if self.dialect != "sqlite":  # psycopg's placeholders
            sql = re.sub(r":(p\d+)\b", r"%(\1)s", sql)
        cursor = self.connection.cursor()
        try:
            cursor.execute(sql, statement.params)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def all_sources(self) -> list[SourceRow]:
        found = self.rows(Statement(ALL_SOURCES_SQL, {}))
        return [SourceRow.of(row_values(row, SOURCE_COLUMNS)) for row in found]

    def source_exists(self, source_id: int) -> bool:
        """Whether the id names a watched source or the source of a logged event."""
        if not 1 <= source_id <= MAX_ID:
            return False
        for table in ("source WHERE id", "event WHERE source_id"):
            found = self.rows(Statement(f"SELECT 1 FROM {table} = :p0 LIMIT 1", {"p0": source_id}))
            if found:
                return True
        return False


def sqlite_file(url: str) -> Path | None:
    """The file of a plain `sqlite:///PATH` URL; None for anything else."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = url[len(prefix) :]
    if not path or path == ":memory:":
        return None
    return Path(path).expanduser()


def _postgres_conninfo(url: str) -> str | None:
    for prefix in ("postgresql+psycopg://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return None


def _connect(url: str, busy_timeout: float) -> Reader | None:
    path = sqlite_file(url)
    if path is not None:
        try:
            if not path.is_file() or path.stat().st_mode & 0o077:
                return None  # new, or to be made private: the full path does both
            connection = sqlite3.connect(
                f"{path.resolve().as_uri()}?mode=rw",
                uri=True,
                timeout=busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except (OSError, sqlite3.Error):
            return None
        return Reader(connection, "sqlite")
    conninfo = _postgres_conninfo(url)
    if conninfo is None:
        return None
    try:
        import psycopg
    except ImportError:
        return None  # the full path reports it
    if "connect_timeout" not in parse_qs(urlsplit(conninfo).query):
        conninfo += f"{'&' if '?' in conninfo else '?'}connect_timeout={PG_CONNECT_TIMEOUT}"
    try:
        pg = psycopg.connect(conninfo)
    except psycopg.OperationalError as exc:
        # The server is unreachable or refuses: the full path would only wait for it again.
        raise UserError(f"cannot open the database: {first_line(exc)}") from None
    except Exception:
        return None  # the full path reports it
    return Reader(pg, "postgresql")


def first_line(exc: BaseException) -> str:
    """An error's first line (its type's name when it says nothing)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def open_reader(url: str, busy_timeout: float) -> Iterator[Reader | None]:
    """A reader inside one read transaction, or None when the full path must open the
    database (see the module's docstring)."""
    reader = _connect(url, busy_timeout)
    if reader is None:
        yield None
        return
    try:
        try:
            if reader.dialect == "sqlite":
                reader.connection.execute("BEGIN")
            head = reader.rows(Statement("SELECT version_num FROM alembic_version", {}))
        except Exception:
            head = []
        if [tuple(row) for row in head] != [(SCHEMA_HEAD,)]:
            yield None
            return
        yield reader
    finally:
        try:
            reader.connection.rollback()
        finally:
            reader.connection.close()


@contextmanager
def engine_reader(engine: Any) -> Iterator[Reader]:
    """A reader over a pooled connection of a SQLAlchemy engine (the full path)."""
    with engine.connect() as connection:
        connection = connection.execution_options(**{READ_ONLY: True})
        connection.begin()  # SQLite: BEGIN without the write lock (tracker.db)
        raw = connection.connection.dbapi_connection
        yield Reader(raw, engine.dialect.name)
        connection.rollback()
