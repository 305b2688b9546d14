"""`tracker run`: the all-in-one embedded mode: scheduler, workers and web UI in one process."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from tracker.cli.context import app_context
from tracker.cli.output import console, plural, strip_controls
from tracker.cli.serve import announce_token, follow_port, listening_socket, run_server
from tracker.events import severity_rank

if TYPE_CHECKING:
    from tracker.db import Database
    from tracker.results import SourceResult

# New events at least this severe get a line of their own while `tracker run` runs.
SHOWN_SEVERITY = "warning"


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
    from tracker.embedded import Scheduler
    from tracker.web import create_app
    from tracker.web.auth import api_token

    state = app_context(ctx)
    # A taken port or a wrong host is said in one line before anything starts.
    listener = listening_socket(host, port)
    follow_port(state.settings, host, port)
    _offer_watchlist(ctx, watchlist)
    token, _new = api_token(state.settings)
    scheduler = Scheduler(
        state.db, workers=workers, on_round=lambda results: report_round(state.db, results)
    )
    app = create_app(state.settings, db=state.db, token=token, polls=scheduler.service)
    scheduler.start()
    announce_token(state.settings, token)
    console.print(
        f"release-tracker running: web UI on {state.settings.public_url}/, polling due "
        f"sources with {workers} workers (Ctrl-C stops)",
        markup=False,
    )
    try:
        run_server(app, listener)
    except KeyboardInterrupt:
        pass  # Ctrl-C or SIGTERM (systemd, Docker): uvicorn has stopped serving; drain
    finally:
        console.print("Stopping: letting the polls in flight finish…", markup=False)
        scheduler.stop()
        console.print("Stopped.", markup=False)


def _offer_watchlist(ctx: typer.Context, wanted: bool | None) -> None:
    from sqlmodel import select

    from schedules import watchlist_path
    from tracker.cli.sources import import_file
    from tracker.models import Source

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


def report_round(db: Database, results: list[SourceResult]) -> None:
    """One line for a round of polls that found something or failed, then one line per
    new warning (or worse) event; quiet rounds print nothing."""
    for line in round_lines(db, results, now=datetime.now()):
        console.print(line, markup=False)


def round_lines(db: Database, results: list[SourceResult], *, now: datetime) -> list[str]:
    from sqlmodel import col, select

    from tracker.models import Event

    new = [event_id for r in results for event_id in r.event_ids]
    failed = [r for r in results if not r.ok and not r.deferred and not r.moot]
    if not new and not failed:
        return []
    summary = f"{now:%H:%M:%S} polled {plural(len(results), 'source')}: "
    summary += f"{plural(len(new), 'new event')}, {len(failed)} failed"
    if failed:
        summary += " (" + "; ".join(f"{r.name}: {r.error}" for r in failed[:3])
        summary += f"; {len(failed) - 3} more)" if len(failed) > 3 else ")"
    lines = [summary]
    if new:
        with db.read() as session:
            events = session.exec(
                select(Event).where(col(Event.id).in_(new)).order_by(col(Event.id))
            )
            for event in events:
                if severity_rank(event.severity) >= severity_rank(SHOWN_SEVERITY):
                    lines.append(f"  {event.severity} {event.kind}: {event.title}")
    return [strip_controls(line) for line in lines]
