"""The HTML pages: event log, event detail, a subject's history, sources, subscriptions,
openness; forms post back with the CSRF token of the signed-in session."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tracker import catalog
from tracker.alerts import subscriptions
from tracker.alerts.deliver import send_test
from tracker.catalog import SourceSpec
from tracker.db import Database
from tracker.durations import parse_interval, parse_since
from tracker.errors import UserError
from tracker.eventlog import EventFilter, query
from tracker.events import KINDS, SEVERITIES
from tracker.models import MAX_ID, Event, SourcePublic
from tracker.report import openness_report
from tracker.web.auth import COOKIE, SESSION_DAYS
from tracker.web.charts import legend, openness_chart
from tracker.web.deps import TEMPLATES, DatabaseDep, GuardDep, PollsDep, SessionDep

router = APIRouter(include_in_schema=False)
FAMILIES = sorted({kind.split(".")[0] + ".*" for kind in KINDS})
PAGE_SIZE = 50
FORM_POLL_WAIT_SECONDS = 10.0
PathId = Annotated[int, Path(ge=1, le=MAX_ID)]


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    guard = request.app.state.guard
    context |= {
        "request": request,
        "signed_in": guard.signed_in(request),
        "csrf": guard.csrf_token(request),
        # Only what this application wrote: `?msg=` is signed by `back()`.
        "message": guard.message(request),
    }
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)
    if context["csrf"] or name == "login.html":
        # A page with a CSRF token (or the sign-in form) is never kept by a cache.
        response.headers["Cache-Control"] = "no-store"
    return response


def back(request: Request, path: str, message: str) -> RedirectResponse:
    signed = request.app.state.guard.sign_message(message)
    return RedirectResponse(f"{path}?{urlencode({'msg': signed})}", status.HTTP_303_SEE_OTHER)


@router.get("/", response_class=HTMLResponse)
def event_log(
    request: Request,
    db_session: SessionDep,
    kind: str = "",
    severity: str = "",
    source: str = "",
    subject: str = "",
    since: str = "",
    until: str = "",
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    """The event log, newest first, filtered and paged."""
    error = ""
    events: list[Event] = []
    try:
        wanted = EventFilter(
            kinds=[kind] if kind else (),
            source_id=_int_or_none(source),
            subject=subject or None,
            min_severity=severity or None,
            since=parse_since(since) if since else None,
            until=parse_since(until) if until else None,
            before_id=before,
            limit=PAGE_SIZE + 1,
        )
        events = query(db_session, wanted)
    except UserError as exc:
        error = str(exc)
    filters = {
        "kind": kind,
        "severity": severity,
        "source": source,
        "subject": subject,
        "since": since,
        "until": until,
    }
    older = None
    if len(events) > PAGE_SIZE:
        events = events[:PAGE_SIZE]
        older = "?" + urlencode({k: v for k, v in filters.items() if v} | {"before": events[-1].id})
    return render(
        request,
        "events.html",
        status_code=400 if error else 200,
        events=events,
        filters=filters,
        older=older,
        newer=bool(before),
        error=error,
        kinds=KINDS,
        families=FAMILIES,
        severities=SEVERITIES,
        sources=catalog.all_sources(db_session),
        latest_id=events[0].id if events and not before else 0,
    )


def _int_or_none(value: str) -> int | None:
    if not value:
        return None
    if not value.isdigit() or not 1 <= int(value) <= MAX_ID:
        raise UserError(f"invalid source id {value!r}")
    return int(value)


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_detail(request: Request, event_id: PathId, db_session: SessionDep) -> HTMLResponse:
    event = db_session.get(Event, event_id)
    if event is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no event with id {event_id}")
    return render(
        request,
        "event.html",
        event=event,
        data_json=json.dumps(event.data, indent=2, ensure_ascii=False),
        source=catalog.find_by_id(db_session, event.source_id),
    )


@router.get("/subjects", response_class=HTMLResponse)
def subject_history(request: Request, db_session: SessionDep, subject: str = "") -> HTMLResponse:
    """Every event of one subject (a repo id, a post or page URL), on one timeline."""
    events = (
        query(db_session, EventFilter(subject=subject, exact_subject=True, limit=1000))
        if subject
        else []
    )
    return render(request, "subject.html", subject=subject, events=events)


@router.get("/sources", response_class=HTMLResponse)
def sources_page(request: Request, db: DatabaseDep) -> HTMLResponse:
    return _sources_view(request, db)


def _sources_view(
    request: Request, db: Database, *, form: dict | None = None, error: str = ""
) -> HTMLResponse:
    """The sources page; with the refused form's values and its error after a bad post."""
    with db.read() as db_session:
        listed = [SourcePublic.of(s) for s in catalog.all_sources(db_session)]
    return render(
        request, "sources.html", 400 if error else 200, sources=listed, form=form or {}, error=error
    )


@router.post("/sources", response_class=HTMLResponse)
def add_source_form(
    request: Request,
    db: DatabaseDep,
    guard: GuardDep,
    csrf: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "feed",
    target: Annotated[str, Form()] = "",
    links: Annotated[str, Form()] = "",
    types: Annotated[str, Form()] = "",
    every: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    guard.require_form(request, csrf)
    form = {
        "kind": kind,
        "target": target,
        "links": links,
        "types": types,
        "every": every,
        "name": name,
    }
    try:
        spec = catalog.checked(
            SourceSpec(
                kind,
                target,
                name or None,
                parse_interval(every) if every else None,
                types=types or None,
                links=links or None,
            ),
            db.settings,
        )
        with db.session() as db_session:
            source = catalog.add(db_session, spec)
    except UserError as exc:
        return _sources_view(request, db, form=form, error=str(exc))
    return back(request, "/sources", f"Added source {source.id}: {source.target}")


@router.post("/sources/{source_id}/remove")
def remove_source_form(
    request: Request,
    source_id: PathId,
    db: DatabaseDep,
    guard: GuardDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    guard.require_form(request, csrf)
    with db.session() as db_session:
        source = catalog.remove(db_session, source_id)
    return back(request, "/sources", f"Removed source {source_id}: {source.target}")


@router.post("/sources/{source_id}/poll")
def poll_source_form(
    request: Request,
    source_id: PathId,
    polls: PollsDep,
    guard: GuardDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    guard.require_form(request, csrf)
    asked = polls.request([source_id])
    # A short wait shows the result of a quick poll at once; a slow one lands later.
    outcome = polls.wait(asked, timeout=FORM_POLL_WAIT_SECONDS).get(source_id)
    if outcome is None:
        message = f"Polling source {source_id}: its result shows here when it lands"
    elif outcome["ok"]:
        message = f"Polled source {source_id}: {outcome['events']} new events"
    else:
        message = f"Polling source {source_id} failed: {outcome['error']}"
    return back(request, "/sources", message)


@router.get("/subscriptions", response_class=HTMLResponse)
def subscriptions_page(request: Request, db: DatabaseDep, guard: GuardDep) -> Response:
    if not guard.signed_in(request):
        # Subscription URLs say where alerts go: only for those who hold the token.
        return RedirectResponse("/login?next=/subscriptions", status.HTTP_303_SEE_OTHER)
    return _subscriptions_view(request, db)


def _subscriptions_view(
    request: Request, db: Database, *, form: dict | None = None, error: str = ""
) -> HTMLResponse:
    """The subscriptions page; with the refused form's values and its error after a bad post."""
    with db.read() as db_session:
        listed = [
            subscriptions.public(db_session, s) for s in subscriptions.all_subscriptions(db_session)
        ]
    return render(
        request,
        "subscriptions.html",
        400 if error else 200,
        subscriptions=listed,
        form=form or {},
        error=error,
        kinds=KINDS,
        families=FAMILIES,
        severities=SEVERITIES,
    )


@router.post("/subscriptions", response_class=HTMLResponse)
def add_subscription_form(
    request: Request,
    db: DatabaseDep,
    guard: GuardDep,
    csrf: Annotated[str, Form()] = "",
    url: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    min_severity: Annotated[str, Form()] = "info",
    match: Annotated[str, Form()] = "",
    digest: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    guard.require_form(request, csrf)
    spec = subscriptions.SubscriptionSpec(
        url=url,
        kinds=[kind] if kind else (),
        min_severity=min_severity,
        match=match or None,
        digest=digest or None,
        name=name or None,
    )
    try:
        with db.session() as db_session:
            added = subscriptions.add(db_session, spec, db.settings)
    except UserError as exc:
        form = {
            "kind": kind,
            "min_severity": min_severity,
            "match": match,
            "digest": digest,
            "name": name,
        }
        return _subscriptions_view(request, db, form=form, error=str(exc))
    return back(request, "/subscriptions", f"Added subscription {added.id}")


@router.post("/subscriptions/{subscription_id}/remove")
def remove_subscription_form(
    request: Request,
    subscription_id: PathId,
    db: DatabaseDep,
    guard: GuardDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    guard.require_form(request, csrf)
    with db.session() as db_session:
        subscriptions.remove(db_session, subscription_id)
    return back(request, "/subscriptions", f"Removed subscription {subscription_id}")


@router.post("/subscriptions/{subscription_id}/test")
def send_test_form(
    request: Request,
    subscription_id: PathId,
    db: DatabaseDep,
    guard: GuardDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    guard.require_form(request, csrf)
    outcome = send_test(db, subscription_id)
    message = "Test alert sent" if outcome.ok else f"Test alert failed: {outcome.error}"
    return back(request, "/subscriptions", message)


@router.get("/openness", response_class=HTMLResponse)
def openness_page(
    request: Request, db_session: SessionDep, since: str = "1y", author: str = ""
) -> HTMLResponse:
    now = datetime.now(UTC)
    try:
        start = parse_since(since, now=now)
    except UserError as exc:
        return render(
            request,
            "openness.html",
            status_code=400,
            reports=[],
            error=str(exc),
            since=since,
            author=author,
        )
    reports = openness_report(db_session, since=start, now=now, author=author or None, points=12)
    charts = [(report, openness_chart(report)) for report in reports]
    return render(
        request,
        "openness.html",
        reports=charts,
        error="",
        since=since,
        author=author,
        legend=legend(),
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", next=_local(next), error="")


@router.post("/login")
def login(
    request: Request,
    guard: GuardDep,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    wait = guard.login_retry_after(request)
    if wait:
        refused = render(
            request,
            "login.html",
            status_code=429,
            next=_local(next),
            error=f"Too many failed sign-ins: try again in {wait} s.",
        )
        refused.headers["Retry-After"] = str(wait)
        return refused
    if not guard.token_matches(token.strip()):
        guard.login_failed(request)
        return render(
            request,
            "login.html",
            status_code=401,
            next=_local(next),
            error="That is not the API token.",
        )
    response = RedirectResponse(_local(next), status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        guard.new_session(),
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=guard.is_https(request),
    )
    return response


@router.post("/logout")
def logout(request: Request, guard: GuardDep, csrf: Annotated[str, Form()] = "") -> Response:
    guard.require_form(request, csrf)
    guard.sign_out(request)  # a copy of the cookie is no longer accepted either
    response = RedirectResponse("/", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE)
    return response


def _local(path: str) -> str:
    """Only redirect within this site: `//evil.example` and `https://…` become `/`."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"
