"""What every command gets: the settings, and the database opened on first use."""

from __future__ import annotations

from dataclasses import dataclass, field

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
            self._db = Database(self.settings)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()


def load_settings() -> Settings:
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
