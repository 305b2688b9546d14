"""Database tables and the public JSON shapes of the contract.

Tables follow one pattern: a `*Public` model is what leaves the process (CLI `--json`, web
API); the `table=True` model is what is stored. Routes and commands never print tables.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import PlainSerializer
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Column, Field, SQLModel

from tracker import ids

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

# The contract's times: ISO 8601 with an explicit offset ("+00:00", not "Z").
Timestamp = Annotated[
    datetime, PlainSerializer(lambda moment: moment.isoformat(), when_used="json")
]


def table(model: type[SQLModel]) -> sa.Table:
    """The SQLAlchemy table of a table model, for Core statements."""
    found: sa.Table = model.__table__  # type: ignore[attr-defined]
    return found


# Ids are 32-bit integers on PostgreSQL; larger numbers can name nothing.
MAX_ID = ids.MAX_ID


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no time zones: values are stored as naive UTC and come back aware, so code
    never compares a naive datetime with an aware one.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def bind_processor(self, dialect: sa.Dialect) -> Callable[[Any], Any] | None:
        """The bind conversion, remembering its last value: a statement that writes one
        `now` into thousands of rows (a feed's first poll) converts it once, not per row."""
        convert = super().bind_processor(dialect)
        if convert is None:
            return None
        last: list[tuple[Any, Any]] = [(None, None)]

        def process(value: Any) -> Any:
            given, converted = last[0]  # one tuple: threads share this processor
            if value is given and value is not None:
                return converted
            converted = convert(value)
            last[0] = (value, converted)
            return converted

        return process


def _time(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def _json(default: Any = None) -> Any:
    if default is None:
        return Field(default=None, sa_column=Column(JSONType, nullable=True))
    return Field(default_factory=default, sa_column=Column(JSONType, nullable=False))


# --- sources ---------------------------------------------------------------------------


class Source(SQLModel, table=True):
    """A thing being watched: a Hub author or repo, a feed, or a page."""

    __tablename__ = "source"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16, index=True)
    target: str = Field(max_length=2048)
    name: str | None = Field(default=None, max_length=300)
    every_seconds: int
    enabled: bool = True
    # Kind-specific options: Hub repo types ("model,dataset"), page link selector.
    types: str | None = Field(default=None, max_length=100)
    links: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

    # Poll bookkeeping. A scheduler claims a due source by setting a lease (a token and an
    # expiry) so two workers never poll it at once; a crashed worker's lease runs out.
    next_poll_at: datetime | None = _time(index=True)
    lease_until: datetime | None = _time()
    lease_token: str | None = Field(default=None, max_length=36)
    last_polled_at: datetime | None = _time()
    last_success_at: datetime | None = _time()
    baselined_at: datetime | None = _time()
    last_error: str | None = Field(default=None, max_length=1000)
    consecutive_failures: int = 0
    failing_since: datetime | None = _time()
    # Polls in a row the server asked us to put off (429, 503 with Retry-After).
    deferrals: int = 0
    # A poll asked for (web, API, webhook) while one was in flight: that poll runs again.
    poll_requested_at: datetime | None = _time()
    # The last poll's result, in the shape `tracker poll --json` gives per source.
    last_outcome: dict[str, Any] | None = _json()
    # What webhooks asked the next poll to look at (Hub repo keys, with the discussion a
    # webhook announced): a list of objects, taken off as polls answer them.
    poll_focus: list[dict[str, Any]] | None = _json()

    # HTTP validators of the last successful fetch, and a hash of the body it returned.
    etag: str | None = Field(default=None, max_length=500)
    last_modified: str | None = Field(default=None, max_length=100)
    content_hash: str | None = Field(default=None, max_length=64)


class SourcePublic(SQLModel):
    """A source as the contract shows it."""

    id: int
    kind: str
    target: str
    name: str | None
    every_seconds: int
    enabled: bool
    last_polled_at: Timestamp | None
    last_error: str | None
    consecutive_failures: int
    types: list[str] | None = None
    links: str | None = None
    created_at: Timestamp
    last_success_at: Timestamp | None = None
    baselined_at: Timestamp | None = None
    next_poll_at: Timestamp | None = None
    # How the latest poll went (status, error, events, `started_at`): the web UI waits for
    # a requested poll's outcome here.
    last_outcome: dict[str, Any] | None = None

    @classmethod
    def of(cls, source: Source) -> SourcePublic:
        values = source.model_dump()
        values["types"] = source.types.split(",") if source.types else None
        return cls.model_validate(values)


class Item(SQLModel, table=True):
    """What was last seen of one thing inside a source: a feed entry, a Hub repo, a page."""

    __tablename__ = "item"
    __table_args__ = (sa.UniqueConstraint("source_id", "key", name="uq_item_source_key"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(
        sa_column=Column(sa.ForeignKey("source.id", ondelete="CASCADE"), nullable=False)
    )
    key: str = Field(max_length=2048)
    data: dict[str, Any] = _json(dict)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    changed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Lineage(SQLModel, table=True):
    """One edge of the lineage graph: Hub model `child` names `base` as what it is built
    on, as `source_id`'s last poll read it (`origin`: the Hub's `base_model:` tags, or the
    card when the tags say nothing)."""

    __tablename__ = "lineage"
    __table_args__ = (sa.UniqueConstraint("source_id", "child", "base", name="uq_lineage_edge"),)

    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(
        sa_column=Column(sa.ForeignKey("source.id", ondelete="CASCADE"), nullable=False)
    )
    child: str = Field(max_length=200, index=True)
    base: str = Field(max_length=200, index=True)
    # finetune, adapter, quantized or merge; None when neither tags nor card say.
    relation: str | None = Field(default=None, max_length=16)
    origin: str = Field(max_length=8)
    seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReleaseScorecard(SQLModel, table=True):
    """What one release disclosed, kept to compare the next one with and for the report:
    a Hub model (`kind` "model"), a release post ("post") or a version of a technical
    report ("report"), each disclosure dimension `disclosed`, `withheld` or `unknown` with
    its evidence (`dimensions`: {dimension: {"status", "evidence"}}). `key` makes recording
    a release twice harmless: a model's card is kept once whichever source saw it."""

    __tablename__ = "scorecard"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    # Not a foreign key: like the event log, an author's releases outlive a source.
    source_id: int | None = Field(default=None, index=True)
    author: str = Field(max_length=200, index=True)
    kind: str = Field(max_length=16)
    subject: str = Field(max_length=2048)
    # What tells two cards of one subject apart: a report's revision ("text@3").
    version: str = Field(default="", max_length=64)
    title: str | None = Field(default=None, max_length=1000)
    url: str | None = Field(default=None, max_length=2048)
    score: int = 0
    dimensions: dict[str, Any] = _json(dict)
    published_at: datetime | None = _time()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


# --- events ----------------------------------------------------------------------------


class Event(SQLModel, table=True):
    """One typed change, written once: `key` makes re-running a poll harmless."""

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=40, index=True)
    severity: str = Field(max_length=16)
    # Not a foreign key: the event log outlives the sources it came from.
    source_id: int | None = Field(default=None, index=True)
    subject: str = Field(max_length=2048, index=True)
    title: str = Field(max_length=1000)
    url: str | None = Field(default=None, max_length=2048)
    detected_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    published_at: datetime | None = _time()
    before: dict[str, Any] | None = _json()
    after: dict[str, Any] | None = _json()
    data: dict[str, Any] = _json(dict)


class EventPublic(SQLModel):
    """An event as the contract shows it."""

    id: int
    kind: str
    severity: str
    source_id: int | None
    subject: str
    title: str
    url: str | None
    detected_at: Timestamp
    published_at: Timestamp | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    data: dict[str, Any]

    @classmethod
    def of(cls, event: Event) -> EventPublic:
        return cls.model_validate(event.model_dump())


# --- alerts ----------------------------------------------------------------------------


class Subscription(SQLModel, table=True):
    """An apprise URL and the filters choosing which events reach it."""

    __tablename__ = "subscription"

    id: int | None = Field(default=None, primary_key=True)
    name: str | None = Field(default=None, max_length=300)
    url: str = Field(max_length=4096)
    kinds: list[str] = _json(list)
    source_ids: list[int] = _json(list)
    min_severity: str = Field(default="info", max_length=16)
    match: str | None = Field(default=None, max_length=500)
    digest: str | None = Field(default=None, max_length=16)
    enabled: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The one sender allowed to send to this subscription until then (cluster-wide), so a
    # target that hangs holds one sender, not every worker.
    sending_until: datetime | None = _time()
    sender_token: str | None = Field(default=None, max_length=36)


class SubscriptionPublic(SQLModel):
    """A subscription as the contract shows it: the URL with its secrets masked."""

    id: int
    name: str | None
    url: str
    service: str
    kinds: list[str]
    source_ids: list[int]
    min_severity: str
    match: str | None
    digest: str | None
    enabled: bool
    created_at: Timestamp
    last_delivery_status: str | None


class Delivery(SQLModel, table=True):
    """The outbox: one row per (event, subscription), written with the event."""

    __tablename__ = "delivery"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "subscription_id", name="uq_delivery_event_sub"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(
        sa_column=Column(sa.ForeignKey("event.id", ondelete="CASCADE"), nullable=False)
    )
    subscription_id: int = Field(
        sa_column=Column(
            sa.ForeignKey("subscription.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    # pending (to send at next_attempt_at), sent, or failed (gave up after retries).
    status: str = Field(default="pending", max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = _time(index=True)
    # A sender holds the row until then; a crashed sender's rows are retried after it.
    claimed_until: datetime | None = _time()
    last_error: str | None = Field(default=None, max_length=1000)
    sent_at: datetime | None = _time()
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeliveryAttempt(SQLModel, table=True):
    """One try at sending a delivery: when, whether it worked, and why not."""

    __tablename__ = "delivery_attempt"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(
        sa_column=Column(
            sa.ForeignKey("delivery.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    attempted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    ok: bool
    error: str | None = Field(default=None, max_length=1000)


class DeliveryPublic(SQLModel):
    """A delivery with its event's headline, for `tracker deliveries` and the API."""

    id: int
    event_id: int
    subscription_id: int
    status: str
    attempts: int
    next_attempt_at: Timestamp | None
    last_error: str | None
    sent_at: Timestamp | None
    created_at: Timestamp
    event_kind: str
    event_title: str
    subscription_name: str | None = None
