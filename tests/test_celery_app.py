"""The Celery application as `tracker worker` and `tracker beat` build it (no broker needed:
nothing here connects)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.config import Settings
from tracker.errors import UserError
from workers.celery_app import ALERT_QUEUE, POLL_QUEUE, create_celery


def app_for(tmp_path: Path, **values: object):
    settings = Settings(
        _env_file=None,
        home=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'tracker.db'}",
        broker_url="redis://127.0.0.1:6379/15",
        **values,
    )
    return create_celery(settings)


def queue_of(app, task: str) -> str:
    return app.amqp.router.route({}, task)["queue"].name


def test_alerts_travel_on_their_own_queue_and_everything_else_on_the_poll_queue(tmp_path):
    app = app_for(tmp_path)
    assert queue_of(app, "tracker.deliver") == ALERT_QUEUE
    for task in ("tracker.dispatch_due", "tracker.poll_source", "tracker.sweep"):
        assert queue_of(app, task) == POLL_QUEUE
    # A worker started without -Q consumes every declared queue.
    assert set(app.amqp.queues) == {POLL_QUEUE, ALERT_QUEUE}


def test_the_beat_schedule_names_registered_tasks(tmp_path):
    app = app_for(tmp_path, dispatch_every_seconds=7)
    schedule = app.conf.beat_schedule
    assert {entry["task"] for entry in schedule.values()} <= set(app.tasks)
    assert schedule["dispatch-due-sources"]["schedule"] == 7


def test_messages_are_acknowledged_late_and_given_back_when_a_worker_is_lost(tmp_path):
    app = app_for(tmp_path, task_soft_time_limit=50, task_time_limit=60)
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert (app.conf.task_soft_time_limit, app.conf.task_time_limit) == (50, 60)
    # Redis must not redeliver a task that is still within its time limit.
    assert app.conf.broker_transport_options["visibility_timeout"] >= 60


def test_no_broker_is_a_usage_error_naming_the_variable(tmp_path):
    settings = Settings(_env_file=None, home=tmp_path, broker_url=None)
    with pytest.raises(UserError, match="TRACKER_BROKER_URL"):
        create_celery(settings)


# The suite runs as root in CI containers; Celery warns about that when building a worker.
@pytest.mark.filterwarnings("ignore:You're running the worker with superuser privileges")
def test_worker_ending_on_an_error_makes_tracker_worker_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # Celery's command line builds the worker and exits with its status; only the run is
    # replaced by what Celery does on an unrecoverable error (a broker lost while tasks
    # were in flight ends the worker so). The fault suite runs a real one.
    from celery.apps.worker import Worker

    from tracker.cli import main

    started: list[Worker] = []

    def fail(self: Worker) -> None:
        started.append(self)
        self.exitcode = 1

    monkeypatch.setattr(Worker, "start", fail)
    monkeypatch.setenv("TRACKER_HOME", str(tmp_path))
    monkeypatch.setenv("TRACKER_DATABASE_URL", f"sqlite:///{tmp_path / 'tracker.db'}")
    monkeypatch.setenv("TRACKER_BROKER_URL", "redis://127.0.0.1:6379/15")

    assert main(["worker", "--concurrency", "1", "--pool", "solo"]) == 1
    assert len(started) == 1
