"""Claiming due sources: a lease (token and expiry) per source, so two schedulers or workers
never poll one source at once, and a crashed worker's source is polled again later."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, or_, select

from tracker.db import Database
from tracker.models import Source

DEFAULT_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class Claim:
    """The right to poll one source until the lease runs out."""

    source_id: int
    token: str


def claim_due(
    db: Database, *, now: datetime, limit: int, lease: timedelta = DEFAULT_LEASE
) -> list[Claim]:
    """Lease up to `limit` enabled sources whose next poll is due, most overdue first."""
    if limit < 1:
        return []
    with db.session() as session:
        statement = (
            select(Source)
            .where(
                col(Source.enabled),
                or_(col(Source.next_poll_at).is_(None), col(Source.next_poll_at) <= now),
                or_(col(Source.lease_until).is_(None), col(Source.lease_until) < now),
            )
            .order_by(col(Source.next_poll_at).asc().nulls_first(), col(Source.id))
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            # Concurrent dispatchers skip rows another one is claiming instead of waiting.
            statement = statement.with_for_update(skip_locked=True)
        claims = []
        for source in session.exec(statement):
            source.lease_token = str(uuid.uuid4())
            source.lease_until = now + lease
            session.add(source)
            claims.append(Claim(source.id, source.lease_token))
        return claims


def holds_lease(source: Source, token: str | None) -> bool:
    """Whether a poll started under `token` may still record (None: a manual poll)."""
    return token is None or source.lease_token == token
