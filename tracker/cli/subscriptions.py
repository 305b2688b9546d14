"""`tracker subscriptions ...` and `tracker deliveries`: who gets alerted, and how it went."""

from __future__ import annotations

from typing import Annotated

import typer

from tracker.cli.context import app_context
from tracker.cli.output import KindOption, ago, console, errors, escape, plural, print_json
from tracker.errors import UserError
from tracker.events import SEVERITIES
from tracker.ids import MAX_ID

DELIVERY_STATUSES = ("pending", "sent", "failed")

app = typer.Typer(
    help="Subscribe apprise URLs to events; list, remove, test.", no_args_is_help=True
)

Id = Annotated[int, typer.Argument(metavar="ID", min=1, max=MAX_ID, help="The subscription's id.")]


@app.command("add")
def add(
    ctx: typer.Context,
    url: Annotated[
        str, typer.Argument(metavar="APPRISE_URL", help="slack://…, mailto://…, any apprise URL.")
    ],
    kind: KindOption = None,
    source: Annotated[
        list[int] | None,
        typer.Option(
            "--source",
            metavar="ID",
            min=1,
            max=MAX_ID,
            help="Only events of this source (repeatable).",
        ),
    ] = None,
    min_severity: Annotated[
        str,
        typer.Option(
            "--min-severity", help=f"Only events at least this severe: {', '.join(SEVERITIES)}."
        ),
    ] = "info",
    match: Annotated[
        str | None,
        typer.Option(
            "--match", help="Only events whose title, subject or link contains this text."
        ),
    ] = None,
    digest: Annotated[
        str | None,
        typer.Option("--digest", help="hourly or daily: one summary message per period."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="A display name.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the subscription as JSON.")
    ] = False,
) -> None:
    """Subscribe an apprise URL to the events that pass its filters."""
    from tracker.alerts import subscriptions
    from tracker.alerts.subscriptions import SubscriptionSpec

    state = app_context(ctx)
    spec = SubscriptionSpec(
        url=url,
        kinds=kind or (),
        source_ids=source or (),
        min_severity=min_severity,
        match=match,
        digest=digest,
        name=name,
    )
    with state.db.session() as session:
        public = subscriptions.public(session, subscriptions.add(session, spec, state.settings))
    if as_json:
        print_json(public)
    else:
        mode = f"{public.digest} digest" if public.digest else "instant"
        console.print(
            f"Added subscription {public.id}: {escape(public.service)} ({mode}) "
            + escape(public.url)
        )


@app.command("list")
def list_subscriptions(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List subscriptions; credentials in URLs are masked."""
    from rich.table import Table

    from tracker.alerts import subscriptions

    state = app_context(ctx)
    with state.db.read() as session:
        found = [subscriptions.public(session, s) for s in subscriptions.all_subscriptions(session)]
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("No subscriptions yet. Add one with `tracker subscriptions add APPRISE_URL`.")
        return
    table = Table(box=None, pad_edge=False)
    for column in ("ID", "SERVICE", "URL", "FILTERS", "MODE", "LAST DELIVERY"):
        table.add_column(column)
    for s in found:
        filters = [*(s.kinds or []), *(f"source {i}" for i in s.source_ids)]
        if s.min_severity != "info":
            filters.append(f"≥ {s.min_severity}")
        if s.match:
            filters.append(f"matching {s.match!r}")
        table.add_row(
            str(s.id),
            escape(s.name or s.service),
            escape(s.url),
            escape(", ".join(filters) or "everything"),
            s.digest or "instant",
            s.last_delivery_status or "none yet",
        )
    console.print(table)


@app.command("remove")
def remove(ctx: typer.Context, subscription_id: Id) -> None:
    """Delete a subscription and its pending deliveries."""
    from tracker.alerts import subscriptions

    state = app_context(ctx)
    with state.db.session() as session:
        subscriptions.remove(session, subscription_id)
    console.print(f"Removed subscription {subscription_id}.")


@app.command("test")
def test(ctx: typer.Context, subscription_id: Id) -> None:
    """Send one test alert now and report whether it arrived."""
    from tracker.alerts.deliver import send_test

    state = app_context(ctx)
    outcome = send_test(state.db, subscription_id)
    if outcome.ok:
        console.print(f"Test alert sent to subscription {subscription_id}.")
        return
    errors.print(
        f"[red]Test alert to subscription {subscription_id} failed:[/] "
        + escape(outcome.error or "")
    )
    raise typer.Exit(1)


def deliveries(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", help="pending, sent or failed.")] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=10_000, help="At most this many.")
    ] = 50,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list, newest first.")
    ] = False,
) -> None:
    """Show alert deliveries, newest first, with their status and last error."""
    from sqlmodel import col, select

    from tracker.models import Delivery, DeliveryPublic, Event, Subscription

    if status is not None and status not in DELIVERY_STATUSES:
        raise UserError(f"unknown delivery status {status!r}: use {', '.join(DELIVERY_STATUSES)}")
    state = app_context(ctx)
    statement = (
        select(Delivery, Event, Subscription)
        .join(Event, col(Event.id) == col(Delivery.event_id))
        .join(Subscription, col(Subscription.id) == col(Delivery.subscription_id))
        .order_by(col(Delivery.id).desc())
        .limit(limit)
    )
    if status:
        statement = statement.where(Delivery.status == status)
    with state.db.read() as session:
        found = [
            DeliveryPublic.model_validate(
                d.model_dump()
                | {"event_kind": e.kind, "event_title": e.title, "subscription_name": sub.name}
            )
            for d, e, sub in session.exec(statement)
        ]
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("No deliveries match.")
        return
    for d in found:
        style = {"sent": "green", "failed": "red"}.get(d.status, "yellow")
        detail = (
            f" after {plural(d.attempts, 'attempt')}: {escape(d.last_error or '')}"
            if d.last_error
            else ""
        )
        when = f" {ago(d.sent_at)}" if d.sent_at else ""
        to = escape(d.subscription_name or f"subscription {d.subscription_id}")
        console.print(
            f"{d.id:>6}  [{style}]{d.status:<7}[/]{when} to {to} (#{d.subscription_id})  "
            f"{d.event_kind} {escape(d.event_title)}{detail}"
        )


def deliver(ctx: typer.Context) -> None:
    """Send every alert that is due now (retries and finished digest periods included)."""
    from tracker.alerts.deliver import deliver_due

    state = app_context(ctx)
    report = deliver_due(state.db)
    console.print(
        f"Sent {report.messages_sent} message{'s' * (report.messages_sent != 1)} "
        f"({report.delivered} deliveries), {report.messages_failed} failed."
    )
    for line in report.failed:
        console.print(f"  [red]failed[/] {escape(line)}")
