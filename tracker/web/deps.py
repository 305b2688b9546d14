"""What routes receive: the database session, the auth guard, the templates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from tracker.alerts.messages import change_lines, safe_url
from tracker.db import Database
from tracker.durations import parse_since
from tracker.errors import UserError
from tracker.eventlog import EventFilter
from tracker.models import MAX_ID, SubscriptionPublic
from tracker.overview import LABELS, category_of, in_words
from tracker.service import PollService
from tracker.web.auth import Guard

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
TEMPLATES.env.filters["safe_url"] = safe_url
TEMPLATES.env.globals["change_lines"] = change_lines


def describe_filters(subscription: SubscriptionPublic) -> str:
    """`access.*, source 3, ≥ warning, matching "llama"`, or `everything`."""
    parts = [*subscription.kinds, *(f"source {i}" for i in subscription.source_ids)]
    if subscription.min_severity != "info":
        parts.append(f"≥ {subscription.min_severity}")
    if subscription.match:
        parts.append(f"matching “{subscription.match}”")
    return ", ".join(parts) or "everything"


TEMPLATES.env.globals["describe_filters"] = describe_filters


def interval(seconds: int) -> str:
    """A poll interval for people: `1 d`, `6 h`, `15 min`, `1 h 30 min`, `45 s`."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {unit}")
    return " ".join(parts[:2]) or "0 s"


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """`just now`, `5 min ago`, `3 h ago`, `2 d ago`; `never` for None."""
    if moment is None:
        return "never"
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    seconds = int(((now or datetime.now(UTC)) - aware).total_seconds())
    if seconds < 0:
        return "in " + " ".join(interval(-seconds).split()[:2])
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


TEMPLATES.env.filters["interval"] = interval
TEMPLATES.env.filters["ago"] = ago
TEMPLATES.env.globals["in_words"] = in_words
TEMPLATES.env.globals["category_of"] = category_of
TEMPLATES.env.globals["category_labels"] = LABELS


def database(request: Request) -> Database:
    return request.app.state.db


def session(request: Request) -> Iterator[Session]:
    """A read-only session: GET routes never take SQLite's write lock."""
    with request.app.state.db.read() as db_session:
        yield db_session


def guard(request: Request) -> Guard:
    return request.app.state.guard


def polls(request: Request) -> PollService:
    return request.app.state.polls


def require_token(request: Request) -> None:
    """API writes: a bearer token, or a signed-in browser with its CSRF header."""
    request.app.state.guard.require_bearer_or_session(request)


def require_reader(request: Request) -> None:
    """Subscription reads: a bearer token, or a signed-in browser."""
    request.app.state.guard.require_reader(request)


def event_filter(
    kind: Annotated[list[str] | None, Query(description="A kind or a family like access.*")] = None,
    source: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    subject: Annotated[str | None, Query(description="Subject contains this text")] = None,
    severity: Annotated[str | None, Query(description="At least this severity")] = None,
    since: Annotated[
        str | None, Query(description="A duration ago (7d, 12h) or an ISO 8601 time")
    ] = None,
    until: Annotated[
        str | None, Query(description="A duration ago (7d, 12h) or an ISO 8601 time")
    ] = None,
) -> EventFilter:
    """The event log's filters, as query parameters (the API and the Atom feed share them;
    times are read by the parser the HTML page and the CLI use)."""
    return EventFilter(
        kinds=kind or (),
        source_id=source,
        subject=subject,
        min_severity=severity,
        since=_moment("since", since),
        until=_moment("until", until),
    )


def _moment(name: str, value: str | None) -> datetime | None:
    """A time parameter read as the CLI reads `--since`; 422 like any other bad query."""
    if not value:
        return None
    try:
        return parse_since(value)
    except UserError as exc:
        raise HTTPException(422, f"invalid {name}: {exc}") from None


DatabaseDep = Annotated[Database, Depends(database)]
EventQuery = Annotated[EventFilter, Depends(event_filter)]
SessionDep = Annotated[Session, Depends(session)]
GuardDep = Annotated[Guard, Depends(guard)]
PollsDep = Annotated[PollService, Depends(polls)]
WriteAccess = Depends(require_token)
ReadAccess = Depends(require_reader)
