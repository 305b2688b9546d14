"""Typed settings, read once at the edge (CLI, web app, worker) and passed inward."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tracker.quicksettings import BUSY_TIMEOUT_DEFAULT, default_home

MIB = 1024 * 1024


class Settings(BaseSettings):
    """Everything the tracker can be configured with; `TRACKER_*` variables or a `.env` file."""

    model_config = SettingsConfigDict(
        env_prefix="TRACKER_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    home: Path = Field(default_factory=default_home)
    database_url: str | None = None
    broker_url: str | None = None
    allow_private_networks: bool = False
    api_token: str | None = None

    # How hard a poll may push: sources in flight at once, and per host.
    poll_concurrency: int = Field(default=32, ge=1, le=1000)
    per_host_limit: int = Field(default=4, ge=1, le=100)
    # HTTP limits for feeds and pages.
    http_timeout_seconds: float = Field(default=20.0, gt=0)
    http_max_redirects: int = Field(default=5, ge=0, le=20)
    http_max_bytes: int = Field(default=10 * MIB, ge=1024)
    # Feeds read by feedparser-rs where it reads them as feedparser would (tracker/feedfast.py).
    feed_fast_path: bool = True
    user_agent: str = "release-tracker/0.1 (+https://github.com/release-tracker/release-tracker)"
    # The arXiv API (a setting so tests can point it at a local server), and the least time
    # between two requests to its host from one process: the API asks for one every 3 s.
    arxiv_api_url: str = "http://export.arxiv.org/api/query"
    arxiv_min_interval_seconds: float = Field(default=3.0, ge=0, le=600)
    # A source that failed this many polls in a row emits `source.failing`.
    failing_after: int = Field(default=3, ge=1)

    # Where the web UI is reached; alerts link to events there.
    public_url: str = "http://127.0.0.1:8000"
    # Distributed mode: how long a worker may hold a source before another may poll it, and
    # Celery's soft and hard limits for one task.
    lease_seconds: int = Field(default=600, ge=5)
    task_soft_time_limit: int = Field(default=240, ge=5)
    task_time_limit: int = Field(default=300, ge=10)
    dispatch_every_seconds: float = Field(default=5.0, gt=0)
    # The sweep re-queues deliveries whose sender died: with the 30 s claim lease, the rest
    # of a dead sender's messages go out within about 30 s plus this.
    sweep_every_seconds: float = Field(default=10.0, gt=0)

    # Polls asked for by the web UI, the API or a webhook start after this short wait, so a
    # burst of requests for one source is one poll; the API waits this long for the result.
    poll_request_delay_seconds: float = Field(default=0.5, ge=0, le=60)
    api_poll_wait_seconds: float = Field(default=90.0, ge=0, le=3600)
    # The web side: proxies whose X-Forwarded-For/-Proto are believed (addresses or
    # networks, comma-separated), Strict-Transport-Security max-age (0: not sent), and
    # failed sign-ins one client may make per minute.
    trusted_proxies: str = ""
    hsts_seconds: int = Field(default=0, ge=0)
    login_attempts_per_minute: int = Field(default=10, ge=1, le=1000)

    # Shared secret of Hugging Face webhooks (sent as X-Webhook-Secret); unset: hooks off.
    webhook_secret: str | None = None
    webhook_max_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Alert delivery: attempts before giving up, first retry delay (doubling each time),
    # and how many events for one subscription at once turn into one grouped message.
    delivery_max_attempts: int = Field(default=6, ge=1, le=50)
    delivery_retry_seconds: float = Field(default=30.0, ge=0)
    storm_threshold: int = Field(default=20, ge=1)

    # Logging: the level (default WARNING for commands, INFO for `worker`, `beat`, `run`),
    # `text` or `json` lines; `debug` shows tracebacks of internal errors.
    log_level: str | None = None
    log_format: Literal["text", "json"] = "text"
    debug: bool = False
    # How long SQLite waits for another writer before "database is locked".
    db_busy_timeout_seconds: float = Field(default=BUSY_TIMEOUT_DEFAULT, gt=0)

    hf_endpoint: str = Field(
        default="https://huggingface.co",
        validation_alias=AliasChoices("HF_ENDPOINT", "TRACKER_HF_ENDPOINT"),
    )
    hf_token: str | None = Field(
        default=None, validation_alias=AliasChoices("HF_TOKEN", "TRACKER_HF_TOKEN")
    )

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        level = value.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("api_token", "hf_token", "webhook_secret", "broker_url")
    @classmethod
    def _empty_is_unset(cls, value: str | None) -> str | None:
        # `HF_TOKEN=` in an env file means "no token", not an empty bearer token.
        return value.strip() or None if value is not None else None

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:/// and postgresql+psycopg:// URLs are supported")
        return value or None

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the SQLite file under `home`."""
        return self.database_url or f"sqlite:///{self.home / 'tracker.db'}"
