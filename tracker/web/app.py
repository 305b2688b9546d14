"""The FastAPI application, built from settings (and a database, when one is shared)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from tracker import __version__
from tracker.alerts.sender import BackgroundSender
from tracker.config import Settings
from tracker.db import READ_ONLY, Database
from tracker.errors import NotFoundError, UserError
from tracker.metrics import registry_for
from tracker.service import LocalRunner, PollService
from tracker.web import api, atom, hooks, pages
from tracker.web.auth import Guard, api_token
from tracker.web.deps import TEMPLATES

STATIC = Path(__file__).parent / "static"
# Everything on a page comes from this site: no inline scripts or styles, no framing.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def create_app(
    settings: Settings,
    *,
    db: Database | None = None,
    token: str | None = None,
    polls: PollService | None = None,
) -> FastAPI:
    """The web app; `token` overrides the configured or generated API token, `polls` the
    service that runs the polls it asks for (`tracker run` passes its scheduler's)."""
    owned = polls is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:  # the service `tracker run` passes is its scheduler's to close
            await run_in_threadpool(app.state.polls.close)

    app = FastAPI(
        title="release-tracker",
        version=__version__,
        description="The event log of AI releases and their openness; sources; subscriptions.",
        # The interactive docs pages load scripts from a CDN; the OpenAPI document suffices.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.db = db or Database(settings)
    app.state.polls = polls or requested_polls(app.state.db)
    app.state.guard = Guard(
        token or api_token(settings)[0],
        home=Path(settings.home),
        trusted_proxies=settings.trusted_proxies,
        login_attempts_per_minute=settings.login_attempts_per_minute,
    )
    app.state.metrics = registry_for(app.state.db)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(atom.router)
    app.include_router(hooks.router)
    app.include_router(pages.router)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if settings.hsts_seconds and app.state.guard.is_https(request):
            response.headers.setdefault(
                "Strict-Transport-Security", f"max-age={settings.hsts_seconds}"
            )
        return response

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> Response:
        code = (
            status.HTTP_404_NOT_FOUND
            if isinstance(exc, NotFoundError)
            else status.HTTP_400_BAD_REQUEST
        )
        return _error(request, code, str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        headers = dict(exc.headers) if exc.headers else None
        return _error(request, exc.status_code, str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        return _error(
            request, 422, f"invalid {where or 'request'}: {first.get('msg', 'bad value')}"
        )

    @app.get("/healthz", tags=["ops"])
    def healthz() -> JSONResponse:
        """Up, and the database answers."""
        try:
            with app.state.db.engine.connect() as connection:
                connection = connection.execution_options(**{READ_ONLY: True})
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure makes the service unhealthy
            return JSONResponse({"status": "error", "database": str(exc).splitlines()[0]}, 503)
        return JSONResponse({"status": "ok", "database": "ok", "version": __version__})

    @app.get("/metrics", tags=["ops"])
    def metrics() -> Response:
        """Prometheus metrics: polls, failures, events by kind, deliveries by status."""
        return Response(generate_latest(app.state.metrics), media_type=CONTENT_TYPE_LATEST)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def requested_polls(db: Database) -> PollService:
    """Where the polls the web UI, the API and webhooks ask for run: Celery workers in the
    distributed mode, else threads of this process."""
    if db.settings.broker_url:
        from workers.celery_app import create_celery
        from workers.tasks import CeleryRunner, CelerySender

        celery = create_celery(db.settings)
        return PollService(
            db, sender=CelerySender(celery, db), runner=CeleryRunner(celery, db.settings)
        )
    service = PollService(db, sender=BackgroundSender(db))
    service.runner = LocalRunner(service)
    return service


def _openapi(app: FastAPI) -> dict:
    """FastAPI's document, saying what the server really answers: the bearer scheme on
    what needs it, 401 and 404 where they happen, and the 422 body as `{"detail": text}`."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "The API token (TRACKER_API_TOKEN, or the one `tracker serve` prints)",
    }
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = {
        "type": "object",
        "properties": {"detail": {"type": "string", "title": "Detail"}},
        "required": ["detail"],
        "title": "Error",
    }
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if "422" in responses or operation.get("parameters") or "requestBody" in operation:
                responses["422"] = {"description": "Invalid request", "content": error}
            needs_token = path.startswith("/api/subscriptions") or method != "get"
            if path.startswith("/api/") and needs_token:
                operation["security"] = [{"bearer": []}]
                responses["401"] = {"description": "No valid API token", "content": error}
            if "{" in path:
                responses["404"] = {"description": "No such item", "content": error}
            if method != "get" and path.startswith("/api/"):
                responses.setdefault("400", {"description": "Refused input", "content": error})
    app.openapi_schema = schema
    return schema


def _error(request: Request, code: int, message: str, headers: dict | None = None) -> Response:
    wants_html = "text/html" in request.headers.get(
        "accept", ""
    ) and not request.url.path.startswith("/api/")
    if wants_html:
        guard = request.app.state.guard
        context = {
            "request": request,
            "code": code,
            "detail": message,
            "signed_in": guard.signed_in(request),
            "csrf": guard.csrf_token(request),
            "message": "",
        }
        return TEMPLATES.TemplateResponse(
            request, "error.html", context, status_code=code, headers=headers
        )
    return JSONResponse({"detail": message}, status_code=code, headers=headers)
