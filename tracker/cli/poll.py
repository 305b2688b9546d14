"""`tracker poll`: poll sources now, in this process.

Light to import (the command line registers it with the rest); the poll path (httpx, the
parsers, the ORM) is imported when the command runs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tracker.cli.context import AppContext, app_context
from tracker.cli.output import change_text, console, escape, print_json
from tracker.ids import MAX_ID

if TYPE_CHECKING:
    from tracker.alerts.deliver import DeliveryReport
    from tracker.results import PollReport

SHOWN_EVENTS = 20


def poll(
    ctx: typer.Context,
    source: Annotated[
        list[int] | None,
        typer.Option(
            "--source", metavar="ID", min=1, max=MAX_ID, help="Only this source (repeatable)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Poll every enabled source (or the given ones) now and record what changed."""
    from tracker import collector
    from tracker.bulk import collector_paused

    with collector_paused():  # what is imported here lives until the command ends
        from tracker.alerts.deliver import DeliveryReport
        from tracker.alerts.sender import BackgroundSender
        from tracker.poller import select_sources
        from tracker.service import PollService

    state = app_context(ctx)
    sender = BackgroundSender(state.db)
    service = PollService(state.db, sender=sender)
    sources = select_sources(state.db, source)
    show_progress = sys.stdout.isatty() and not as_json and bool(sources)
    with collector.kept(), _progress(show_progress, "Polling", len(sources)) as advance:
        report = service.poll(sources=sources, on_result=advance)
    if report.interrupted:
        # What was recorded stays; its alerts wait in the outbox for `tracker deliver`.
        if as_json:
            print_json(report.as_dict() | {"alerts": DeliveryReport().as_dict()})
        else:
            _print_summary(state, report)
            unfinished = report.unfinished
            console.print(
                f"Interrupted: {len(unfinished)} source{'s' * (len(unfinished) != 1)} not "
                f"finished, nothing recorded for {'them' if len(unfinished) != 1 else 'it'}:"
            )
            for r in unfinished:
                console.print(f"  [yellow]not finished[/] {r.source_id} {escape(r.name)}")
            console.print(
                "Alerts of what was recorded are sent by `tracker deliver` or the next poll."
            )
        raise typer.Exit(130)
    if not as_json:
        _print_summary(state, report)
    # Alerts went out beside the polls; the command returns once they are all sent.
    with _progress(show_progress, "Sending alerts", None) as counted:
        alerts = sender.finish(on_message=counted)
    if as_json:
        print_json(report.as_dict() | {"alerts": alerts.as_dict()})
    else:
        _print_alerts(alerts)


@contextmanager
def _progress(shown: bool, label: str, total: int | None) -> Iterator[Callable[[Any], None]]:
    """A transient progress bar on a terminal; the callable advances it by one."""
    if not shown:
        yield lambda _result: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    if total is None:
        columns = [TextColumn(label), TextColumn("{task.completed} sent"), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda _result: progress.update(task, advance=1)


def _print_summary(state: AppContext, report: PollReport) -> None:
    from sqlmodel import col, select

    from tracker.models import Event
    from tracker.results import INTERRUPTED

    if not report.results:
        console.print("No sources to poll. Add one with `tracker sources add feed URL`.")
        return
    # An interrupted poll counts what it finished; the rest is listed apart.
    results = [r for r in report.results if r.status != INTERRUPTED]
    ok = sum(r.ok for r in results)
    unchanged = sum(r.unchanged for r in results)
    deferred = f", {len(report.deferred)} deferred" if report.deferred else ""
    console.print(
        f"Polled {len(results)} source{'s' * (len(results) != 1)} in "
        f"{report.duration_seconds:.1f}s: "
        f"{ok} ok ({unchanged} unchanged), {len(report.failed)} failed{deferred}; "
        f"{len(report.event_ids)} new event{'s' * (len(report.event_ids) != 1)}."
    )
    for r in report.failed:
        console.print(f"  [red]failed[/] {r.source_id} {escape(r.name)}: {escape(r.error or '')}")
    for r in report.deferred:
        console.print(
            f"  [yellow]deferred[/] {r.source_id} {escape(r.name)}: {escape(r.error or '')}"
        )
    if report.event_ids:
        with state.db.read() as session:
            shown = session.exec(
                select(Event)
                .where(col(Event.id).in_(report.event_ids[:SHOWN_EVENTS]))
                .order_by(col(Event.id))
            ).all()
        for event in shown:
            change = change_text(event.before, event.after)
            console.print(
                f"  [cyan]{event.kind}[/] {escape(event.title)}"
                + (f" [dim]({escape(change)})[/]" if change else "")
            )
        if len(report.event_ids) > SHOWN_EVENTS:
            console.print(f"  … and {len(report.event_ids) - SHOWN_EVENTS} more: `tracker events`")


def _print_alerts(alerts: DeliveryReport) -> None:
    if alerts.messages_sent or alerts.messages_failed:
        console.print(
            f"Alerts: {alerts.messages_sent} sent, {alerts.messages_failed} failed"
            + (" (retried later; see `tracker deliveries`)" if alerts.messages_failed else "")
            + "."
        )
    for line in alerts.failed:
        console.print(f"  [red]alert failed[/] {escape(line)}")
