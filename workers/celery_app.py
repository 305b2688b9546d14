"""The Celery application, configured from settings (never at import time)."""

from __future__ import annotations

from celery import Celery
from kombu import Queue

from schedules.beat import beat_schedule
from tracker.config import Settings
from workers.names import ALERT_QUEUE, DELIVER, POLL_QUEUE

__all__ = ["ALERT_QUEUE", "POLL_QUEUE", "create_celery"]


def create_celery(settings: Settings) -> Celery:
    """A Celery app on the configured broker with the tracker's tasks and beat schedule."""
    if not settings.broker_url:
        from tracker.errors import UserError

        raise UserError(
            "TRACKER_BROKER_URL is not set: distributed mode needs a broker, e.g. "
            "redis://127.0.0.1:6379/0 (or use `tracker run` for the embedded mode)"
        )
    app = Celery("release-tracker", broker=settings.broker_url)
    app.conf.update(
        # A task's message is acknowledged only when the task is done, and given back to
        # the queue if its worker dies: a killed worker loses no poll or delivery.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_soft_time_limit=settings.task_soft_time_limit,
        task_time_limit=settings.task_time_limit,
        task_ignore_result=True,
        task_default_queue=POLL_QUEUE,
        task_queues=(Queue(POLL_QUEUE), Queue(ALERT_QUEUE)),
        task_routes={
            DELIVER: {"queue": ALERT_QUEUE},
        },
        # Redis redelivers a message not acknowledged within this time.
        broker_transport_options={"visibility_timeout": max(settings.task_time_limit * 2, 600)},
        broker_connection_retry_on_startup=True,
        timezone="UTC",
        enable_utc=True,
        beat_schedule=beat_schedule(settings),
        beat_schedule_filename=str(settings.home / "celerybeat-schedule"),
        worker_hijack_root_logger=False,
    )
    from workers import tasks

    tasks.register(app, settings)
    return app
