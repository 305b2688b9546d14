"""The HTML pages: event log, event detail, a subject's history, sources, subscriptions,
openness; forms post back with the CSRF token of the signed-in session."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from tracker import catalog, overview
from tracker.alerts import subscriptions
from tracker.alerts.deliver import send_test
from tracker.catalog import SourceSpec
from tracker.db import Database
from tracker.durations import parse_interval, parse_since
from tracker.errors import UserError
from tracker.eventlog import EventFilter, query
from tracker.events import KINDS, SEVERITIES
from tracker.models import MAX_ID, Event, Source, SourcePublic
from tracker.overview import why_no_report
from tracker.report import openness_report
from tracker.web.auth import COOKIE, SESSION_DAYS
from tracker.web.charts import legend, openness_chart, score_chart
from tracker.web.deps import TEMPLATES, DatabaseDep, GuardDep, PollsDep, SessionDep

router = APIRouter(include_in_schema=False)
FAMILIES = sorted({kind.split(".")[0] + ".*" for kind in KINDS})
PAGE_SIZE = 50
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


LOG_PARAMS = ("kind", "severity", "source", "subject", "since", "until", "before")


@router.get("/", response_class=HTMLResponse)
def front_page(request: Request, db_session: SessionDep) -> Response:
    """What closed up this week and this month, most severe first; the log is one click away."""
    if any(name in request.query_params for name in LOG_PARAMS):
        # Links made before the front page existed filtered the log at `/`.
        return RedirectResponse(f"/events?{request.url.query}", status.HTTP_307_TEMPORARY_REDIRECT)
    now = datetime.now(UTC)
    sources = catalog.all_sources(db_session)
    return render(
        request,
        "front.html",
        windows=overview.load_closing(db_session, now=now),
        health=overview.health_of(sources),
        authors=overview.known_authors(db_session)[:30],
        labels=overview.LABELS,
        now=now,
    )


@router.get("/events", response_class=HTMLResponse)
def event_log(
    request: Request,
    db_session: SessionDep,
    kind: Annotated[list[str] | None, Query()] = None,
    severity: str = "",
    source: str = "",
    subject: str = "",
    since: str = "",
    until: str = "",
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> HTMLResponse:
    """The event log, newest first, filtered and paged."""
    kinds = [k for k in kind or [] if k]
    error = ""
    events: list[Event] = []
    try:
        wanted = EventFilter(
            kinds=kinds,
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
        "severity": severity,
        "source": source,
        "subject": subject,
        "since": since,
        "until": until,
    }
    kept = [("kind", k) for k in kinds] + [(k, v) for k, v in filters.items() if v]
    older = None
    if len(events) > PAGE_SIZE:
        events = events[:PAGE_SIZE]
        older = "/events?" + urlencode([*kept, ("before", events[-1].id)])
    sources = catalog.all_sources(db_session)
    return render(
        request,
        "events.html",
        status_code=400 if error else 200,
        events=events,
        filters=filters | {"kinds": kinds},
        older=older,
        newer=bool(before),
        error=error,
        kinds=KINDS,
        families=FAMILIES,
        severities=SEVERITIES,
        sources=sources,
        names=_names(sources),
        health=overview.health_of(sources),
        filtered=bool(kept),
        latest_id=events[0].id if events and not before else 0,
    )


def _names(sources: list[Source]) -> dict[int, str]:
    return {s.id or 0: s.name or s.target for s in sources}


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
    author = event.subject.split("/")[0] if _is_repo(event.subject) else None
    return render(
        request,
        "event.html",
        event=event,
        words=overview.in_words(event),
        category=overview.LABELS.get(overview.category_of(event) or ""),
        author=author,
        data_json=json.dumps(event.data, indent=2, ensure_ascii=False),
        source=catalog.find_by_id(db_session, event.source_id),
    )


def _is_repo(subject: str) -> bool:
    return "/" in subject and "://" not in subject


@router.get("/subjects", response_class=HTMLResponse)
def subject_history(request: Request, db_session: SessionDep, subject: str = "") -> HTMLResponse:
    """Every event of one subject (a repo id, a post or page URL), on one timeline."""
    events = (
        query(db_session, EventFilter(subject=subject, exact_subject=True, limit=1000))
        if subject
        else []
    )
    sources = catalog.all_sources(db_session)
    return render(
        request,
        "subject.html",
        subject=subject,
        events=events,
        names=_names(sources),
        author=subject.split("/")[0] if _is_repo(subject) else None,
    )


@router.get("/labs", response_class=HTMLResponse)
def labs_page(request: Request, db_session: SessionDep) -> HTMLResponse:
    """Every Hub author the tracker knows, with a link to its page."""
    return render(request, "labs.html", authors=overview.known_authors(db_session))


@router.get("/labs/{author}", response_class=HTMLResponse)
def lab_page(
    request: Request,
    db_session: SessionDep,
    author: Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[\w.-]+$")],
) -> HTMLResponse:
    """An author's openness over time, recent events, releases, lineage and terms."""
    now = datetime.now(UTC)
    reports = openness_report(
        db_session, since=now - timedelta(days=365), now=now, author=author, points=12
    )
    report = next((r for r in reports if r.author.casefold() == author.casefold()), None)
    view = overview.lab_view(author, overview.load_lab_events(db_session, author), report)
    return render(
        request,
        "lab.html",
        lab=view,
        chart=openness_chart(report) if report else None,
        scores=score_chart(view.scores) if view.scores else None,
        legend=legend(),
        names=_names(catalog.all_sources(db_session)),
        labels=overview.LABELS,
    )


SOURCE_PAGE_SIZE = 50
SOURCE_STATES = ("ok", "failing", "never")


@router.get("/sources", response_class=HTMLResponse)
def sources_page(
    request: Request,
    db: DatabaseDep,
    q: str = "",
    state: str = "",
    kind: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    return _sources_view(request, db, view={"q": q, "state": state, "kind": kind, "page": page})


def _sources_view(
    request: Request,
    db: Database,
    *,
    form: dict | None = None,
    error: str = "",
    view: dict | None = None,
) -> HTMLResponse:
    """The sources page; with the refused form's values and its error after a bad post."""
    view = view or {"q": "", "state": "", "kind": "", "page": 1}
    with db.read() as db_session:
        every = catalog.all_sources(db_session)
    health = overview.health_of(every)
    shown = [s for s in every if _source_matches(s, view)]
    pages = max(1, -(-len(shown) // SOURCE_PAGE_SIZE))
    number = min(int(view["page"]), pages)
    start = (number - 1) * SOURCE_PAGE_SIZE
    listed = [SourcePublic.of(s) for s in shown[start : start + SOURCE_PAGE_SIZE]]
    outcomes = {s.id: s.last_outcome or {} for s in every}
    kept = {k: v for k, v in view.items() if v and k != "page"}
    return render(
        request,
        "sources.html",
        400 if error else 200,
        sources=listed,
        outcomes=outcomes,
        total=len(every),
        matching=len(shown),
        health=health,
        view=view,
        page=number,
        pages=pages,
        page_link=lambda n: "/sources?" + urlencode(kept | {"page": n}),
        form=form or {},
        error=error,
        error_field=_field_of(error),
    )


def _source_matches(source: Source, view: dict) -> bool:
    text = str(view.get("q") or "").casefold()
    if text and text not in f"{source.name or ''} {source.target}".casefold():
        return False
    if view.get("kind") and source.kind != view["kind"]:
        return False
    state = view.get("state")
    if state == "failing":
        return bool(source.last_error)
    if state == "never":
        return not source.last_error and source.last_polled_at is None
    if state == "ok":
        return not source.last_error and source.last_polled_at is not None
    return True


def _field_of(error: str) -> str:
    """Which field of the add form an error is about, so it is shown next to that field."""
    lowered = error.casefold()
    for words, name in (
        (("interval", "duration"), "every"),
        (("selector", "--links"), "links"),
        (("--types", "repo type", "types"), "types"),
        (("name too long",), "name"),
        (("unknown source kind", "kind"), "kind"),
    ):
        if any(w in lowered for w in words):
            return name
    return "target" if error else ""


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
    return back(request, "/sources", f"Added source {source.id}: {source.name or source.target}")


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
    return back(request, "/sources", f"Removed source {source_id}: {source.name or source.target}")


@router.post("/sources/{source_id}/poll")
def poll_source_form(
    request: Request,
    source_id: PathId,
    polls: PollsDep,
    guard: GuardDep,
    db_session: SessionDep,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Ask for a poll and answer at once; the page (app.js) shows the result when it lands."""
    guard.require_form(request, csrf)
    source = catalog.get(db_session, source_id)
    asked = polls.request([source_id])
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(
            {"source_id": source_id, "requested_at": asked.requested_at.isoformat()},
            status_code=status.HTTP_202_ACCEPTED,
        )
    name = source.name or source.target
    return back(request, "/sources", f"Polling {name}: its result shows here when it lands")


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
        empty=why_no_report(catalog.all_sources(db_session), author or None),
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
