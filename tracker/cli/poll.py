"""`tracker poll`: poll sources now, in this process."""

from __future__ import annotations

import sys
import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from sqlmodel import col, select

from tracker.alerts.deliver import DeliveryReport, deliver_due
from tracker.cli.context import app_context
from tracker.cli.output import change_text, console, print_json
from tracker.models import MAX_ID, Event
from tracker.poller import PollReport, poll_sources, select_sources

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
    state = app_context(ctx)
    sources = select_sources(state.db, source)
    started = time.monotonic()
    if sys.stdout.isatty() and not as_json and sources:
        with Progress(
            TextColumn("Polling"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("poll", total=len(sources), failed=0)
            failed = 0

            def advance(result) -> None:
                nonlocal failed
                failed += not result.ok
                progress.update(task, advance=1, failed=failed)

            report = poll_sources(state.db, sources, on_result=advance)
    else:
        report = poll_sources(state.db, sources)
    # Alerts of this poll go out before the command returns.
    alerts = deliver_due(state.db)
    elapsed = time.monotonic() - started
    if as_json:
        print_json(_as_json(report, alerts, elapsed))
    else:
        _print_summary(state, report, elapsed)
        _print_alerts(alerts)


def _as_json(report: PollReport, alerts: DeliveryReport, elapsed: float) -> dict:
    return {
        "sources": len(report.results),
        "ok": sum(r.ok for r in report.results),
        "failed": len(report.failed),
        "deferred": len(report.deferred),
        "unchanged": sum(r.unchanged for r in report.results),
        "events": len(report.event_ids),
        "event_ids": report.event_ids,
        "requests": report.requests,
        "hub_requests": report.hub_requests,
        "body_bytes": report.body_bytes,
        "duration_seconds": round(elapsed, 3),
        "alerts": {
            "messages_sent": alerts.messages_sent,
            "messages_failed": alerts.messages_failed,
            "delivered": alerts.delivered,
            "errors": alerts.failed,
        },
        "results": [
            {
                "source_id": r.source_id,
                "kind": r.kind,
                "name": r.name,
                "ok": r.ok,
                "error": r.error,
                "deferred": r.deferred,
                "unchanged": r.unchanged,
                "events": len(r.event_ids),
                "requests": r.requests,
            }
            for r in report.results
        ],
    }


def _print_summary(state, report: PollReport, elapsed: float) -> None:
    results = report.results
    if not results:
        console.print("No sources to poll. Add one with `tracker sources add feed URL`.")
        return
    ok = sum(r.ok for r in results)
    unchanged = sum(r.unchanged for r in results)
    deferred = f", {len(report.deferred)} deferred" if report.deferred else ""
    console.print(
        f"Polled {len(results)} source{'s' * (len(results) != 1)} in {elapsed:.1f}s: "
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
        with state.db.session() as session:
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
