"""The settings every command needs first, read without pydantic when that is exact.

Importing pydantic-settings costs a command more than the rest of `tracker events` does.
Most environments set a few `TRACKER_*` strings or flags and no `.env` file; for those
the values `tracker.config.Settings` would read are certain, and `read` returns them.
Anything it is not sure of (a `.env` file, a number, an unknown `TRACKER_*` variable, a
value pydantic might refuse) returns None, and the caller reads `Settings()`, which
validates and explains as always. So a value this module accepts is one `Settings`
accepts with the same meaning, and nothing it accepts would have been refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# Strings taken as they are (with `tracker.config`'s validators where there are any).
_STRINGS = frozenset(
    {
        "tracker_database_url",
        "tracker_broker_url",
        "tracker_api_token",
        "tracker_user_agent",
        "tracker_arxiv_api_url",
        "tracker_public_url",
        "tracker_trusted_proxies",
        "tracker_webhook_secret",
        "tracker_log_level",
        "tracker_log_format",
        "tracker_home",
        "tracker_hf_endpoint",
        "tracker_hf_token",
        "hf_endpoint",
        "hf_token",
    }
)
_FLAGS = frozenset({"tracker_allow_private_networks", "tracker_feed_fast_path", "tracker_debug"})
# How pydantic reads a boolean from text (it matches case-insensitively, nothing around).
_TRUE = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE = frozenset({"0", "off", "f", "false", "n", "no"})
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Settings' default for db_busy_timeout_seconds (a test checks it against tracker.config).
BUSY_TIMEOUT_DEFAULT = 30.0


@dataclass(frozen=True)
class QuickSettings:
    """The part of `Settings` a reading command uses, with the same values."""

    home: Path
    database_url: str | None
    log_level: str | None
    log_format: str
    debug: bool
    db_busy_timeout_seconds: float = BUSY_TIMEOUT_DEFAULT

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'tracker.db'}"


def default_home() -> Path:
    return Path.home() / ".local" / "share" / "release-tracker"


def read(env: dict[str, str] | None = None, cwd: Path | None = None) -> QuickSettings | None:
    """The settings, or None when `tracker.config.Settings` must read them."""
    if (cwd or Path.cwd()).joinpath(".env").exists():
        return None
    # pydantic-settings matches names case-insensitively; the last of two spellings wins.
    found = {k.lower(): v for k, v in (os.environ if env is None else env).items()}
    wanted = {k: v for k, v in found.items() if k.startswith("tracker_") or k in _STRINGS}
    for name, value in wanted.items():
        if name in _FLAGS:
            if value.lower() not in _TRUE | _FALSE:
                return None
        elif name not in _STRINGS:
            return None
    # Where two spellings name one setting, which wins is pydantic's business.
    if "hf_token" in wanted and "tracker_hf_token" in wanted:
        return None
    if "hf_endpoint" in wanted and "tracker_hf_endpoint" in wanted:
        return None
    database_url = wanted.get("tracker_database_url") or None
    if database_url and not database_url.startswith(("sqlite", "postgresql")):
        return None
    level = wanted.get("tracker_log_level")
    if level is not None and level.strip() and level.strip().upper() not in _LEVELS:
        return None
    log_format = wanted.get("tracker_log_format", "text")
    if log_format not in ("text", "json"):
        return None
    home = wanted.get("tracker_home")
    return QuickSettings(
        home=(Path(home) if home is not None else default_home()).expanduser(),
        database_url=database_url,
        log_level=level.strip().upper() if level and level.strip() else None,
        log_format=log_format,
        debug=wanted.get("tracker_debug", "false").lower() in _TRUE,
    )
