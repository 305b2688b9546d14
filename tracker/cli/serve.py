"""`tracker serve`: the web UI, the JSON API, the Atom feed and the webhook receiver."""

from __future__ import annotations

from typing import Annotated

import typer

from tracker.cli.context import app_context
from tracker.cli.output import console
from tracker.config import Settings


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")
    ] = 8000,
) -> None:
    """Serve the web UI and API (the event log, sources, subscriptions, openness)."""
    import uvicorn

    from tracker.web import create_app
    from tracker.web.auth import api_token

    state = app_context(ctx)
    token, _new = api_token(state.settings)
    app = create_app(state.settings, db=state.db, token=token)
    announce_token(state.settings, token)
    console.print(f"release-tracker on http://{host}:{port}/ (Ctrl-C stops)", markup=False)
    uvicorn.run(app, host=host, port=port, log_level="warning")


def announce_token(settings: Settings, token: str) -> None:
    where = "TRACKER_API_TOKEN" if settings.api_token else f"{settings.home / 'api-token'}"
    console.print(f"API token (for writes, from {where}): {token}", markup=False)
