"""Reading the event log: filters shared by the CLI, the web API and the Atom feed.

The statement is built once (`statement`) and run either through the ORM (`query`: the
web side) or through the DB-API driver alone (`read`: commands that only read, without
importing SQLAlchemy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tracker.dbread import EVENT_COLUMNS, Binder, Reader, Statement, like_escaped, row_values
from tracker.errors import UserError
from tracker.events import KINDS, SEVERITIES, severity_rank

if TYPE_CHECKING:
    from sqlmodel import Session

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


def statement(wanted: EventFilter, bind: Binder) -> Statement:
    """The SELECT of the matching events, newest first, for `bind`'s dialect."""
    if wanted.limit < 1:
        raise UserError("--limit must be at least 1")
    where: list[str] = []
    kinds = check_kinds(wanted.kinds)
    if kinds:
        conditions: list[str] = []
        exact = [k for k in kinds if not k.endswith(".*")]
        if exact:
            conditions.append(f"event.kind IN ({', '.join(bind(k) for k in exact)})")
        for family in (k[:-1] for k in kinds if k.endswith(".*")):
            conditions.append(f"event.kind LIKE {bind(like_escaped(family) + '%')} ESCAPE '/'")
        where.append("(" + " OR ".join(conditions) + ")")
    if wanted.source_id is not None:
        where.append(f"event.source_id = {bind(wanted.source_id)}")
    if wanted.since is not None:
        where.append(f"event.detected_at >= {bind(_utc(wanted.since))}")
    if wanted.until is not None:
        where.append(f"event.detected_at < {bind(_utc(wanted.until))}")
    if wanted.subject and wanted.exact_subject:
        where.append(f"event.subject = {bind(wanted.subject)}")
    elif wanted.subject:
        pattern = "%" + like_escaped(wanted.subject) + "%"
        where.append(f"event.subject LIKE {bind(pattern)} ESCAPE '/'")
    if wanted.min_severity:
        if wanted.min_severity not in SEVERITIES:
            raise UserError(
                f"unknown severity {wanted.min_severity!r}: use {', '.join(SEVERITIES)}"
            )
        rank = severity_rank(wanted.min_severity)
        shown = ", ".join(bind(s) for s in SEVERITIES[rank:])
        where.append(f"event.severity IN ({shown})")
    if wanted.before_id is not None:
        where.append(f"event.id < {bind(wanted.before_id)}")
    columns = ", ".join(f"event.{name}" for name in EVENT_COLUMNS)
    sql = f"SELECT {columns} FROM event"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY event.id DESC LIMIT {bind(wanted.limit)}"
    return Statement(sql, bind.params)


def query(session: Session, wanted: EventFilter) -> list[Event]:
    """Matching events, newest first."""
    import sqlalchemy as sa
    from sqlmodel import select

    from tracker.models import Event

    found = statement(wanted, Binder(session.get_bind().dialect.name))
    text = sa.text(found.sql).bindparams(**found.params)
    return list(session.scalars(select(Event).from_statement(text)))


def read(reader: Reader, wanted: EventFilter) -> list[dict[str, Any]]:
    """Matching events, newest first, as column values (see `tracker.dbread`)."""
    rows = reader.rows(statement(wanted, reader.binder()))
    return [row_values(row, EVENT_COLUMNS) for row in rows]
