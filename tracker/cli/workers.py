"""`tracker worker` and `tracker beat`: the distributed mode (Celery on TRACKER_BROKER_URL)."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

import typer

from tracker import logs
from tracker.cli.context import app_context

if TYPE_CHECKING:
    from tracker.config import Settings

PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def worker(ctx: typer.Context) -> None:
    """Start a Celery worker (options after the command go to Celery, e.g. --concurrency 8)."""
    from celery.signals import celeryd_init, worker_init

    from tracker import kinds
    from tracker.db import upgrade
    from workers.celery_app import create_celery

    state = app_context(ctx)
    _log_at_info(state.settings)
    upgrade(state.db.engine)  # the schema is ready before the first task needs it
    app = create_celery(state.settings)
    started: list[object] = []

    def remember(instance: object = None, **_: object) -> None:
        started.append(instance)

    celeryd_init.connect(remember, weak=False)
    # What a poll imports lazily (the source kinds, their parsers) is imported here, once,
    # and frozen with the rest before the pool is forked: the pool processes share those
    # pages instead of each importing its own copy, or copying the shared ones when the
    # garbage collector touches their objects.
    for name in kinds.NAMES:
        kinds.kind_of(name)
    worker_init.connect(_freeze_before_fork, weak=False)
    try:
        app.worker_main(["worker", "--loglevel", "INFO", *ctx.args])
    finally:
        celeryd_init.disconnect(remember)
        worker_init.disconnect(_freeze_before_fork)
    # Celery stops a worker on an error it cannot recover from with status 1 (after a
    # broker loss with tasks in flight, kombu fails to give their messages back), but
    # `worker_main` drops that status: the process exited 0, and a service manager that
    # restarts only on failure left it down.
    status = getattr(started[-1], "exitcode", None) if started else None
    if status:
        raise typer.Exit(int(status))


def _freeze_before_fork(**_: object) -> None:
    """Celery's `worker_init`, in the main process before the pool starts."""
    gc.collect()
    gc.freeze()


def beat(ctx: typer.Context) -> None:
    """Start the Celery beat: dispatches due sources, sweeps deliveries, sends digests."""
    from tracker.db import upgrade
    from workers.celery_app import create_celery

    state = app_context(ctx)
    _log_at_info(state.settings)
    upgrade(state.db.engine)
    state.settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)  # the beat keeps its state
    app = create_celery(state.settings)
    app.start(["beat", "--loglevel", "INFO", *ctx.args])


def _log_at_info(settings: Settings) -> None:
    """Long-running processes say what they do (unless TRACKER_LOG_LEVEL says otherwise)."""
    logs.configure(settings.log_level or "INFO", settings.log_format)
