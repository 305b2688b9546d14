"""Schedules: the Celery beat schedule and the curated default watch list."""

from importlib.resources import files
from pathlib import Path


def watchlist_path() -> Path:
    """The curated watch list shipped with the package (`schedules/watchlist.toml`)."""
    return Path(str(files(__name__) / "watchlist.toml"))
