"""`tracker events`: read the event log."""

from __future__ import annotations

from typing import Annotated

import typer

from tracker import eventlog
from tracker.cli.context import app_context
from tracker.cli.output import KindOption, change_text, console, print_json, when
from tracker.dbread import Reader, event_public
from tracker.durations import parse_since
from tracker.errors import NotFoundError
from tracker.eventlog import EventFilter
from tracker.ids import MAX_ID

SEVERITY_STYLE = {"info": "dim", "notice": "cyan", "warning": "yellow", "critical": "bold red"}


def events(
    ctx: typer.Context,
    kind: KindOption = None,
    source: Annotated[
        int | None,
        typer.Option("--source", metavar="ID", min=1, max=MAX_ID, help="Only this source."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only events since: 7d, 12h, or an ISO 8601 time.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="At most this many events.")
    ] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list, newest first.")
    ] = False,
) -> None:
    """Show the event log, newest first."""
    state = app_context(ctx)
    wanted = EventFilter(
        kinds=kind or (),
        source_id=source,
        since=parse_since(since) if since else None,
        limit=limit,
    )
    with state.reading() as reader:
        if source is not None:
            require_known_source(reader, source)
        found = eventlog.read(reader, wanted)
    if as_json:
        print_json([event_public(e) for e in found])
        return
    if not found:
        console.print("No events match.")
        return
    from rich.markup import escape

    for event in found:
        style = SEVERITY_STYLE.get(event["severity"], "")
        change = change_text(event["before"], event["after"])
        console.print(
            f"[dim]{event['id']:>6}  {when(event['detected_at'])}[/]  "
            f"[{style}]{event['kind']:<19}[/] "
            + escape(event["title"])
            + (f" ({escape(change)})" if change else "")
            + (f"  [dim]{escape(event['url'])}[/]" if event["url"] else "")
        )


def require_known_source(reader: Reader, source_id: int) -> None:
    """NotFoundError (exit 2, as `poll --source` does) for an id that is neither a watched
    source nor the source of a logged event (a removed source's events stay)."""
    if not reader.source_exists(source_id):
        raise NotFoundError(f"no source with id {source_id}")
