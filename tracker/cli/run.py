"""`tracker run`: the all-in-one embedded mode: scheduler, workers and web UI in one process."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlmodel import select

from tracker.cli.context import app_context
from tracker.cli.output import console
from tracker.cli.serve import announce_token
from tracker.models import Source


def run(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address of the web UI.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port of the web UI.")
    ] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=256, help="Sources polled at once.")
    ] = 16,
    watchlist: Annotated[
        bool | None,
        typer.Option(
            "--watchlist/--no-watchlist",
            help="Import the curated watch list when there are no sources (asked when unset).",
        ),
    ] = None,
) -> None:
    """Run everything in this process on SQLite: the scheduler, the pollers, the web UI."""
    import uvicorn

    from tracker.embedded import Scheduler
    from tracker.web import create_app
    from tracker.web.auth import api_token

    state = app_context(ctx)
    _offer_watchlist(ctx, watchlist)
    token, _new = api_token(state.settings)
    scheduler = Scheduler(state.db, workers=workers)
    app = create_app(state.settings, db=state.db, token=token, polls=scheduler.service)
    scheduler.start()
    announce_token(state.settings, token)
    console.print(
        f"release-tracker running: web UI on http://{host}:{port}/, polling due sources "
        f"with {workers} workers (Ctrl-C stops)",
        markup=False,
    )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except KeyboardInterrupt:
        pass  # Ctrl-C or SIGTERM (systemd, Docker): uvicorn has stopped serving; drain
    finally:
        console.print("Stopping: letting the polls in flight finish…", markup=False)
        scheduler.stop()
        console.print("Stopped.", markup=False)


def _offer_watchlist(ctx: typer.Context, wanted: bool | None) -> None:
    from schedules import watchlist_path
    from tracker.cli.sources import import_file

    state = app_context(ctx)
    with state.db.session() as session:
        if session.exec(select(Source.id).limit(1)).first() is not None:
            return
    path = watchlist_path()
    if wanted is None and sys.stdin.isatty():
        wanted = typer.confirm(
            "No sources yet. Import the curated watch list (AI labs' Hub orgs, blogs and "
            "policy pages)?",
            default=True,
        )
    if wanted:
        added, _existing = import_file(state, path)
        console.print(f"Imported {len(added)} sources from the curated watch list.", markup=False)
    else:
        console.print(
            f"No sources yet: add some with `tracker sources add …`, or import the curated "
            f"watch list with `tracker sources import {path}`.",
            markup=False,
        )
