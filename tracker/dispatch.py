"""Claiming sources: a lease (token and expiry) per source, so two schedulers or workers
never poll one source at once, and a crashed worker's source is polled again later.

Scheduled polls claim due sources (`claim_due`); polls asked for by the web UI, the API or
a webhook claim the named ones (`request_polls`). A source already claimed is not claimed
twice: a burst of requests for one source yields one poll, and the poll in flight runs
again when a request arrived after it had started.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, or_, select

from tracker.db import Database
from tracker.models import Source, table


@dataclass(frozen=True)
class Claim:
    """The right to poll one source until the lease runs out."""

    source_id: int
    token: str


@dataclass(frozen=True)
class PollRequest:
    """The outcome of asking for polls: what was claimed now, and what was already
    claimed (in flight or queued) and so is covered by that poll."""

    requested_at: datetime
    claims: list[Claim] = field(default_factory=list)
    coalesced: list[int] = field(default_factory=list)

    @property
    def source_ids(self) -> list[int]:
        return sorted([c.source_id for c in self.claims] + self.coalesced)


# Any constant works; it only has to be the same for every dispatcher of one installation.
_PG_DISPATCH_LOCK = 7_351_210


def claim_due(
    db: Database,
    *,
    now: datetime,
    limit: int,
    lease: timedelta,
    most_leased: int | None = None,
) -> list[Claim]:
    """Lease up to `limit` enabled sources whose next poll is due, most overdue first.

    `most_leased`: leave the number of sources under lease (polls queued or running) at
    no more than this; dispatchers then take turns, so two of them cannot both fill it."""
    if limit < 1:
        return []
    with db.session() as session:
        if most_leased is not None:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(sa.text(f"SELECT pg_advisory_xact_lock({_PG_DISPATCH_LOCK})"))
            # (SQLite: this transaction already holds the write lock.)
            leased = session.scalar(
                select(sa.func.count()).select_from(Source).where(~_unleased(now))
            )
            limit = min(limit, most_leased - int(leased or 0))
            if limit < 1:
                return []
        statement = (
            select(Source)
            .where(
                col(Source.enabled),
                or_(col(Source.next_poll_at).is_(None), col(Source.next_poll_at) <= now),
                _unleased(now),
            )
            .order_by(col(Source.next_poll_at).asc().nulls_first(), col(Source.id))
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Concurrent dispatchers skip rows another one is claiming instead of waiting.
            statement = statement.with_for_update(skip_locked=True)
        claims = []
        for source in session.exec(statement):
            claims.append(_lease(source, now, lease))
            session.add(source)
        return claims


def request_polls(
    db: Database, source_ids: Sequence[int], *, now: datetime, lease: timedelta
) -> PollRequest:
    """Claim the named sources for a poll now; those already claimed are noted as asked
    for again, so the poll holding them runs once more if it started before now."""
    request = PollRequest(requested_at=now)
    with db.session() as session:
        statement = select(Source).where(col(Source.id).in_(list(source_ids)))
        if session.get_bind().dialect.name == "postgresql":
            statement = statement.with_for_update()
        for source in session.exec(statement.order_by(col(Source.id))):
            source.poll_requested_at = now
            leased = source.lease_until is not None and source.lease_until >= now
            if leased:
                request.coalesced.append(source.id or 0)
            else:
                request.claims.append(_lease(source, now, lease))
            session.add(source)
    return request


def release(db: Database, claims: Iterable[Claim]) -> int:
    """Give leases back (polls that will not run), so the sources can be polled at once."""
    tokens = [claim.token for claim in claims]
    if not tokens:
        return 0
    sources = table(Source)
    with db.engine.begin() as connection:
        statement = (
            sa.update(sources)
            .where(sources.c.lease_token.in_(tokens))
            .values(lease_token=None, lease_until=None)
        )
        return int(getattr(connection.execute(statement), "rowcount", 0))


def holds_lease(source: Source, token: str | None) -> bool:
    """Whether a poll started under `token` may still record (None: a manual poll)."""
    return token is None or source.lease_token == token


def _unleased(now: datetime) -> sa.ColumnElement[bool]:
    return or_(col(Source.lease_until).is_(None), col(Source.lease_until) < now)


def _lease(source: Source, now: datetime, lease: timedelta) -> Claim:
    source.lease_token = str(uuid.uuid4())
    source.lease_until = now + lease
    return Claim(source.id or 0, source.lease_token)
