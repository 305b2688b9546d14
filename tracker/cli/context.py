"""What every command gets: the settings, and the database opened on first use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from tracker import quicksettings
from tracker.errors import UserError

if TYPE_CHECKING:
    from tracker.config import Settings
    from tracker.db import Database
    from tracker.dbread import Reader


@dataclass
class AppContext:
    """Created once per command line by the root callback.

    `quick` holds the first settings when they could be read without pydantic (see
    `tracker.quicksettings`); `settings` is then read on first use, and is sure to load.
    """

    _settings: Settings | None = field(default=None, repr=False)
    quick: quicksettings.QuickSettings | None = None
    _db: Database | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def db(self) -> Database:
        if self._db is None:
            from tracker.dbfile import open_database

            self._db = open_database(self.settings)
        return self._db

    @contextmanager
    def reading(self) -> Iterator[Reader]:
        """A read-only connection through the database's own driver: straight to a
        database at the newest schema, else through `db` (which creates, migrates and
        reports what is wrong)."""
        from tracker import dbread

        first = self.quick or self.settings
        if self._db is None:
            url, timeout = first.effective_database_url, first.db_busy_timeout_seconds
            with dbread.open_reader(url, timeout) as reader:
                if reader is not None:
                    yield reader
                    return
        with dbread.engine_reader(self.db.engine) as reader:
            yield reader

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def load_settings() -> Settings:
    from pydantic import ValidationError

    from tracker.config import Settings

    check_env_file(Path(".env"))
    try:
        return Settings()
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = str(problem["loc"][0]) if problem["loc"] else ""
        variable = field.upper() if field.startswith("hf_") else f"TRACKER_{field.upper()}"
        raise UserError(f"invalid configuration {variable}: {problem['msg']}") from None


def app_context(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, AppContext)
    return obj


def check_env_file(path: Path) -> None:
    """UserError for a `.env` line that cannot be parsed (python-dotenv only warns and
    drops it, so a setting would silently not apply)."""
    if not path.is_file():
        return
    from dotenv.parser import parse_stream

    try:
        with path.open(encoding="utf-8") as stream:
            for binding in parse_stream(stream):
                if binding.error:
                    line = binding.original.string.strip()
                    raise UserError(
                        f"{path} line {binding.original.line}: cannot parse {line[:60]!r}: "
                        "use NAME=value"
                    )
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
