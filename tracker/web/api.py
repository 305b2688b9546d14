"""The JSON API: events, sources and subscriptions in the contract's shapes."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from tracker import catalog
from tracker.alerts import subscriptions
from tracker.alerts.deliver import send_test
from tracker.catalog import SourceSpec
from tracker.durations import parse_interval
from tracker.eventlog import query
from tracker.models import MAX_ID, EventPublic, SourcePublic, SubscriptionPublic
from tracker.web.deps import (
    DatabaseDep,
    EventQuery,
    PollsDep,
    ReadAccess,
    SessionDep,
    WriteAccess,
)

router = APIRouter(prefix="/api", tags=["api"])
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


class EventPage(BaseModel):
    """A page of events, newest first; `next` is the `before` value of the next page."""

    events: list[EventPublic]
    next: int | None


@router.get("/events", response_model=EventPage)
def list_events(
    db_session: SessionDep,
    wanted: EventQuery,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Events older than this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EventPage:
    """Events matching the filters, newest first, paged by `before`."""
    found = query(db_session, replace(wanted, before_id=before, limit=limit + 1))
    page = [EventPublic.of(e) for e in found[:limit]]
    return EventPage(events=page, next=page[-1].id if len(found) > limit else None)


@router.get("/events/{event_id}", response_model=EventPublic)
def get_event(event_id: PathId, db_session: SessionDep) -> EventPublic:
    """One event."""
    from tracker.models import Event

    event = db_session.get(Event, event_id)
    if event is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no event with id {event_id}")
    return EventPublic.of(event)


class SourceCreate(BaseModel):
    kind: str = Field(pattern="^(hub|feed|page|arxiv)$")
    target: str = Field(min_length=1, max_length=2048)
    name: str | None = Field(default=None, max_length=300)
    every: str | None = Field(default=None, description="30s, 15m, 1h, 1d")
    types: list[str] | None = None
    links: str | None = Field(default=None, max_length=500)


@router.get("/sources", response_model=list[SourcePublic])
def list_sources(db_session: SessionDep) -> list[SourcePublic]:
    """Every source with its health."""
    return [SourcePublic.of(s) for s in catalog.all_sources(db_session)]


@router.get("/sources/{source_id}", response_model=SourcePublic)
def get_source(source_id: PathId, db_session: SessionDep) -> SourcePublic:
    """One source."""
    return SourcePublic.of(catalog.get(db_session, source_id))


@router.post("/sources", response_model=SourcePublic, status_code=201, dependencies=[WriteAccess])
def add_source(body: SourceCreate, db: DatabaseDep) -> SourcePublic:
    """Watch a source (same checks as `tracker sources add`)."""
    spec = catalog.checked(
        SourceSpec(
            body.kind,
            body.target,
            body.name,
            parse_interval(body.every) if body.every else None,
            types=",".join(body.types) if body.types else None,
            links=body.links,
        ),
        db.settings,
    )
    with db.session() as db_session:
        return SourcePublic.of(catalog.add(db_session, spec))


@router.delete("/sources/{source_id}", status_code=204, dependencies=[WriteAccess])
def remove_source(source_id: PathId, db: DatabaseDep) -> None:
    """Stop watching a source; its events stay."""
    with db.session() as db_session:
        catalog.remove(db_session, source_id)


@router.post(
    "/sources/{source_id}/poll",
    dependencies=[WriteAccess],
    responses={202: {"description": "The poll is queued; its result is not in yet."}},
)
def poll_source_now(source_id: PathId, db: DatabaseDep, polls: PollsDep) -> JSONResponse:
    """Poll one source now (alerts go out as usual) and answer with how the poll went;
    202 when it has not finished within `TRACKER_API_POLL_WAIT_SECONDS`."""
    asked = polls.request([source_id])
    outcomes = polls.wait(asked, timeout=db.settings.api_poll_wait_seconds)
    if source_id in outcomes:
        return JSONResponse(outcomes[source_id])
    return JSONResponse({"source_id": source_id, "status": "queued"}, status_code=202)


class SubscriptionCreate(BaseModel):
    url: str = Field(min_length=3, max_length=4096)
    kinds: list[str] = Field(default_factory=list)
    source_ids: list[Id] = Field(default_factory=list)
    min_severity: str = "info"
    match: str | None = Field(default=None, max_length=500)
    digest: str | None = None
    name: str | None = Field(default=None, max_length=300)


@router.get("/subscriptions", response_model=list[SubscriptionPublic], dependencies=[ReadAccess])
def list_subscriptions(db_session: SessionDep) -> list[SubscriptionPublic]:
    """Every subscription, URLs masked."""
    return [
        subscriptions.public(db_session, s) for s in subscriptions.all_subscriptions(db_session)
    ]


@router.get(
    "/subscriptions/{subscription_id}", response_model=SubscriptionPublic, dependencies=[ReadAccess]
)
def get_subscription(subscription_id: PathId, db_session: SessionDep) -> SubscriptionPublic:
    """One subscription, URL masked."""
    return subscriptions.public(db_session, subscriptions.get(db_session, subscription_id))


@router.post(
    "/subscriptions", response_model=SubscriptionPublic, status_code=201, dependencies=[WriteAccess]
)
def add_subscription(body: SubscriptionCreate, db: DatabaseDep) -> SubscriptionPublic:
    """Subscribe an apprise URL (same checks as `tracker subscriptions add`)."""
    spec = subscriptions.SubscriptionSpec(**body.model_dump())
    with db.session() as db_session:
        return subscriptions.public(db_session, subscriptions.add(db_session, spec, db.settings))


@router.delete("/subscriptions/{subscription_id}", status_code=204, dependencies=[WriteAccess])
def remove_subscription(subscription_id: PathId, db: DatabaseDep) -> None:
    """Delete a subscription and its pending deliveries."""
    with db.session() as db_session:
        subscriptions.remove(db_session, subscription_id)


@router.post("/subscriptions/{subscription_id}/test", dependencies=[WriteAccess])
def test_subscription(subscription_id: PathId, db: DatabaseDep) -> dict:
    """Send one test alert and say whether it went out."""
    outcome = send_test(db, subscription_id)
    return {"ok": outcome.ok, "error": outcome.error}
