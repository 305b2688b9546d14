"""What every command gets: the settings, and the database opened on first use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer
from pydantic import ValidationError

from tracker.config import Settings
from tracker.db import Database
from tracker.errors import UserError


@dataclass
class AppContext:
    """Created once per command line by the root callback."""

    settings: Settings
    _db: Database | None = field(default=None, repr=False)

    @property
    def db(self) -> Database:
        if self._db is None:
            from tracker.dbfile import open_database

            self._db = open_database(self.settings)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def load_settings() -> Settings:
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
