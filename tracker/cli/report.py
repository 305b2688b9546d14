"""`tracker report openness`: how open each watched Hub author is, and how that moved."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.markup import escape

from tracker import catalog
from tracker.cli.context import app_context
from tracker.cli.output import console, print_json
from tracker.durations import parse_since
from tracker.overview import why_no_report
from tracker.report import Mix, as_json, openness_report

app = typer.Typer(help="Reports computed from the event log.", no_args_is_help=True)


@app.command("openness")
def openness(
    ctx: typer.Context,
    author: Annotated[
        str | None, typer.Option("--author", help="Only this Hub user or org.")
    ] = None,
    since: Annotated[
        str, typer.Option("--since", help="Window: 30d, 1y, or an ISO 8601 date.")
    ] = "1y",
    as_json_flag: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Per author: today's repos by license class and access, and how that moved."""
    state = app_context(ctx)
    now = datetime.now(UTC)
    start = parse_since(since, now=now)
    with state.db.read() as session:
        reports = openness_report(session, since=start, now=now, author=author)
    if as_json_flag:
        print_json(as_json(reports, since=start, now=now))
        return
    if not reports:
        with state.db.read() as session:
            reason = why_no_report(catalog.all_sources(session), author)
        console.print(escape(reason))
        return
    for report in reports:
        console.print(f"[bold]{escape(report.author)}[/]: {report.today.repos} repos")
        console.print(f"  license  {_counts(report.today.license)}")
        console.print(f"  access   {_counts(report.today.access)}")
        m = report.moves
        console.print(
            f"  since {start:%Y-%m-%d}: {m['closing']} closing, {m['opening']} opening; "
            f"{m['published']} published, {m['withdrawn']} withdrawn, {m['restored']} restored"
        )
        for at, mix in report.timeline:
            console.print(f"    {at:%Y-%m-%d}  {mix.repos:>5} repos  {_shares(mix)}")


def _counts(counts: dict[str, int]) -> str:
    return " · ".join(f"{name} {n}" for name, n in counts.items())


def _shares(mix: Mix) -> str:
    if not mix.repos:
        return ""
    open_share = mix.license["open"] / mix.repos
    public_share = mix.access["public"] / mix.repos
    return f"open license {open_share:>4.0%}  public {public_share:>4.0%}"
