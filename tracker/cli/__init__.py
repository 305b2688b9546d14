"""The `tracker` command line.

Each command imports what it uses when it runs: `tracker --help` imports no database
layer, and the commands that only read reach the database without SQLAlchemy
(`tracker.dbread`), so a call from a script answers at once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Annotated

import typer

from tracker import __version__, collector, logs, quicksettings
from tracker.cli import db, events, poll, report, serve, sources, subscriptions, workers
from tracker.cli import run as run_command
from tracker.cli.context import AppContext, load_settings
from tracker.cli.helptext import tidy
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
app.command("run")(run_command.run)
app.command("worker", context_settings=workers.PASS_THROUGH)(workers.worker)
app.command("beat", context_settings=workers.PASS_THROUGH)(workers.beat)


# Whether TRACKER_DEBUG is on, once the settings are read.
_loaded: list[bool] = []


def _print_version(wanted: bool) -> None:
    if wanted:
        typer.echo(f"release-tracker {__version__}")
        raise typer.Exit(0)


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_print_version, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Read settings once; commands open the database when they need it."""
    quick = quicksettings.read()
    state = AppContext(quick=quick) if quick else AppContext(_settings=load_settings())
    first = quick or state.settings
    _loaded[:] = [first.debug]
    logs.configure(first.log_level or "WARNING", first.log_format)
    ctx.obj = state
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad input gets one line on stderr and exit code 2, never a traceback."""
    _loaded.clear()
    # Apprise logs each failed send; the command reports failures itself, once.
    logging.getLogger("apprise").propagate = False
    # systemd and Docker stop a process with SIGTERM: stop the way Ctrl-C does.
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _main(argv: list[str] | None) -> int:
    command = tidy(typer.main.get_command(app))
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
        if _debugging():
            raise
        _error(f"internal error: {type(exc).__name__}: {exc} (set TRACKER_DEBUG=1 for details)")
        return 1
    return result if isinstance(result, int) else 0


def _debugging() -> bool:
    if _loaded:
        return _loaded[0]
    return os.environ.get("TRACKER_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


def _error(message: str) -> None:
    first = message.strip().splitlines()[0] if message.strip() else "error"
    errors.print(f"tracker: error: {first}", markup=False)


def run() -> None:
    code = main()
    collector.exiting()
    sys.exit(code)
