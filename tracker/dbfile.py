"""Opening the database for a command, with one line that names the file and the problem.

SQLite's own messages ("file is not a database", "unable to open database file") name no
file, and a folder created on the fly for a mistyped URL looks like lost data.
"""

from __future__ import annotations

import errno
from pathlib import Path

import sqlalchemy as sa

from tracker.config import Settings
from tracker.db import Database
from tracker.errors import UserError


def sqlite_path(settings: Settings) -> Path | None:
    """The SQLite file in use, or None (PostgreSQL, in-memory)."""
    url = sa.make_url(settings.effective_database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).expanduser()


def check_location(settings: Settings) -> None:
    """UserError when the data folder or the database's folder cannot hold the file."""
    home = settings.home
    if home.exists() and not home.is_dir():
        raise UserError(f"TRACKER_HOME {home} is a file, not a folder: point it at a folder")
    path = sqlite_path(settings)
    if path is None:
        return
    if settings.database_url is not None and not path.parent.is_dir():
        # The default home is created on first use; a folder named in a URL must exist, or
        # a typo would start an empty database beside the real one.
        raise UserError(
            f"TRACKER_DATABASE_URL names {path}, whose folder {path.parent} does not exist: "
            "create it, or fix the URL"
        )
    if path.exists() and not path.is_file():
        raise UserError(f"the database {path} is not a file")


def open_database(settings: Settings) -> Database:
    """The migrated database, or UserError naming the file and what is wrong with it."""
    check_location(settings)
    where = str(sqlite_path(settings) or _shown_url(settings))
    try:
        return Database(settings)
    except PermissionError as exc:
        raise UserError(f"cannot open {exc.filename or where}: permission denied") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        if exc.errno in (errno.EEXIST, errno.ENOTDIR):
            reason = "a file is in the way of a folder"
        raise UserError(f"cannot use {exc.filename or where}: {reason}") from None
    except sa.exc.DatabaseError as exc:
        raise UserError(f"cannot open the database {where}: {_reason(exc)}") from None


def _shown_url(settings: Settings) -> str:
    return sa.make_url(settings.effective_database_url).render_as_string(hide_password=True)


def _reason(exc: sa.exc.DatabaseError) -> str:
    text = str(exc.orig or exc).strip().splitlines()
    reason = text[0] if text else type(exc).__name__
    if "not a database" in reason or "malformed" in reason:
        return f"{reason} (damaged, or not a release-tracker database)"
    return reason
