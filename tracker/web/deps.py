"""What routes receive: the database session, the auth guard, the templates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from tracker.alerts.messages import change_lines, safe_url
from tracker.db import Database
from tracker.eventlog import EventFilter
from tracker.models import MAX_ID, SubscriptionPublic
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
    since: datetime | None = None,
    until: datetime | None = None,
) -> EventFilter:
    """The event log's filters, as query parameters (the API and the Atom feed share them)."""
    return EventFilter(
        kinds=kind or (),
        source_id=source,
        subject=subject,
        min_severity=severity,
        since=since,
        until=until,
    )


DatabaseDep = Annotated[Database, Depends(database)]
EventQuery = Annotated[EventFilter, Depends(event_filter)]
SessionDep = Annotated[Session, Depends(session)]
GuardDep = Annotated[Guard, Depends(guard)]
PollsDep = Annotated[PollService, Depends(polls)]
WriteAccess = Depends(require_token)
ReadAccess = Depends(require_reader)
