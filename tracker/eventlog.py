"""Reading the event log: filters shared by the CLI, the web API and the Atom feed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from tracker.errors import UserError
from tracker.events import KINDS, SEVERITIES, severity_rank
from tracker.models import Event


@dataclass(frozen=True)
class EventFilter:
    """Which events to show. `kinds` takes exact kinds or family wildcards like `access.*`."""

    kinds: Sequence[str] = field(default_factory=tuple)
    source_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    subject: str | None = None
    exact_subject: bool = False
    min_severity: str | None = None
    limit: int = 50
    before_id: int | None = None


def _utc(moment: datetime) -> datetime:
    """Times without an offset are read as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def check_kinds(kinds: Sequence[str]) -> list[str]:
    """The kinds as given, or UserError naming the first unknown one."""
    for kind in kinds:
        family = kind[:-2] if kind.endswith(".*") else None
        known = any(k.startswith(family + ".") for k in KINDS) if family else kind in KINDS
        if not known:
            raise UserError(f"unknown event kind {kind!r}: see `tracker events --help` for kinds")
    return list(kinds)


def query(session: Session, wanted: EventFilter) -> list[Event]:
    """Matching events, newest first."""
    if wanted.limit < 1:
        raise UserError("--limit must be at least 1")
    statement = select(Event)
    kinds = check_kinds(wanted.kinds)
    if kinds:
        conditions: list[sa.ColumnElement[bool]] = []
        exact = [k for k in kinds if not k.endswith(".*")]
        if exact:
            conditions.append(col(Event.kind).in_(exact))
        for family in (k[:-1] for k in kinds if k.endswith(".*")):
            conditions.append(col(Event.kind).startswith(family, autoescape=True))
        statement = statement.where(or_(*conditions))
    if wanted.source_id is not None:
        statement = statement.where(Event.source_id == wanted.source_id)
    if wanted.since is not None:
        statement = statement.where(Event.detected_at >= _utc(wanted.since))
    if wanted.until is not None:
        statement = statement.where(Event.detected_at < _utc(wanted.until))
    if wanted.subject and wanted.exact_subject:
        statement = statement.where(Event.subject == wanted.subject)
    elif wanted.subject:
        statement = statement.where(col(Event.subject).contains(wanted.subject, autoescape=True))
    if wanted.min_severity:
        if wanted.min_severity not in SEVERITIES:
            raise UserError(
                f"unknown severity {wanted.min_severity!r}: use {', '.join(SEVERITIES)}"
            )
        rank = severity_rank(wanted.min_severity)
        statement = statement.where(col(Event.severity).in_(SEVERITIES[rank:]))
    if wanted.before_id is not None:
        statement = statement.where(col(Event.id) < wanted.before_id)
    statement = statement.order_by(col(Event.id).desc()).limit(wanted.limit)
    return list(session.exec(statement))
