"""What routes receive: the database session, the auth guard, the templates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from tracker.alerts.messages import change_lines, safe_url
from tracker.db import Database
from tracker.models import SubscriptionPublic
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
    with request.app.state.db.session() as db_session:
        yield db_session


def guard(request: Request) -> Guard:
    return request.app.state.guard


def require_token(request: Request) -> None:
    """API writes: a bearer token, or a signed-in browser with its CSRF header."""
    request.app.state.guard.require_bearer_or_session(request)


DatabaseDep = Annotated[Database, Depends(database)]
SessionDep = Annotated[Session, Depends(session)]
GuardDep = Annotated[Guard, Depends(guard)]
WriteAccess = Depends(require_token)
