"""The beat schedule: dispatch due sources every few seconds, sweep, send digests hourly."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from tracker.config import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "dispatch-due-sources": {
            "task": "tracker.dispatch_due",
            "schedule": settings.dispatch_every_seconds,
            "options": {"expires": settings.dispatch_every_seconds * 2},
        },
        "sweep-deliveries": {
            "task": "tracker.sweep",
            "schedule": settings.sweep_every_seconds,
            "options": {"expires": settings.sweep_every_seconds * 2},
        },
        "send-digests": {"task": "tracker.send_digests", "schedule": crontab(minute=0)},
    }
