"""The beat schedule: dispatch due sources every few seconds, sweep, send digests hourly."""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab

from tracker.config import Settings
from workers.names import DISPATCH_DUE, SEND_DIGESTS, SWEEP


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "dispatch-due-sources": {
            "task": DISPATCH_DUE,
            "schedule": settings.dispatch_every_seconds,
            "options": {"expires": settings.dispatch_every_seconds * 2},
        },
        "sweep-deliveries": {
            "task": SWEEP,
            "schedule": settings.sweep_every_seconds,
            "options": {"expires": settings.sweep_every_seconds * 2},
        },
        "send-digests": {"task": SEND_DIGESTS, "schedule": crontab(minute=0)},
    }
