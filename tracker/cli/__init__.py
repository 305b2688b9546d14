"""The `tracker` command line."""

from __future__ import annotations

import logging
import os
import sys

import typer

from tracker import logs
from tracker.cli import db, events, poll, report, run, serve, sources, subscriptions, workers
from tracker.cli.context import AppContext, load_settings
from tracker.cli.output import errors
from tracker.errors import UserError

app = typer.Typer(
    name="tracker",
    help="release-tracker: watch AI releases and their openness (Hub, feeds, pages).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(sources.app, name="sources")
app.add_typer(subscriptions.app, name="subscriptions")
app.add_typer(report.app, name="report")
app.add_typer(db.app, name="db")
app.command("deliveries")(subscriptions.deliveries)
app.command("deliver")(subscriptions.deliver)
app.command("events")(events.events)
app.command("poll")(poll.poll)
app.command("serve")(serve.serve)
app.command("run")(run.run)
app.command("worker", context_settings=workers.PASS_THROUGH)(workers.worker)
app.command("beat", context_settings=workers.PASS_THROUGH)(workers.beat)


@app.callback()
def root(ctx: typer.Context) -> None:
    """Read settings once; commands open the database when they need it."""
    ctx.obj = AppContext(load_settings())
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad input gets one line on stderr and exit code 2, never a traceback."""
    logs.configure(
        os.environ.get("TRACKER_LOG_LEVEL", "WARNING"), os.environ.get("TRACKER_LOG_FORMAT", "text")
    )
    # Apprise logs each failed send; the command reports failures itself, once.
    logging.getLogger("apprise").propagate = False
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="tracker", standalone_mode=False)
    except UserError as exc:
        _error(str(exc))
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        _error("interrupted")
        return 130
    except typer.TyperException as exc:
        # Usage errors of Typer's (vendored) Click: unknown options, bad values, ...
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group called bare: show its help
            errors.print(message, markup=False)
            return 2
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        _error(message + hint)
        return getattr(exc, "exit_code", 2)
    except Exception as exc:
        if os.environ.get("TRACKER_DEBUG"):
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (set TRACKER_DEBUG=1 for details)")
        return 1
    return result if isinstance(result, int) else 0


def _error(message: str) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "error"
    errors.print(f"tracker: error: {first}", markup=False)


def run() -> None:
    sys.exit(main())
