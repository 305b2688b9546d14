"""Logging: every line says which source and which task it is about.

`source_id` and `task_id` live in context variables set by the poller and the Celery
tasks; a filter copies them onto each record. TRACKER_LOG_FORMAT=json prints one JSON
object per line for log shippers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

SOURCE_ID: ContextVar[int | None] = ContextVar("source_id", default=None)
TASK_ID: ContextVar[str | None] = ContextVar("task_id", default=None)
TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [source=%(source_id)s task=%(task_id)s] %(message)s"
)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.source_id = SOURCE_ID.get() or "-"
        record.task_id = TASK_ID.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "source_id": getattr(record, "source_id", "-"),
            "task_id": getattr(record, "task_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "WARNING", fmt: str = "text") -> None:
    """Root logging for a tracker process (CLI, web, workers)."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "tracker", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler()
    handler.tracker = True  # type: ignore[attr-defined]
    handler.setLevel(level.upper())  # libraries that set their own logger levels stay quiet
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root.addHandler(handler)
    root.setLevel(level.upper())


@contextmanager
def about(*, source_id: int | None = None, task_id: str | None = None) -> Iterator[None]:
    """Log lines inside the block name this source and task."""
    tokens: list[tuple[ContextVar[Any], Token[Any]]] = []
    if source_id is not None:
        tokens.append((SOURCE_ID, SOURCE_ID.set(source_id)))
    if task_id is not None:
        tokens.append((TASK_ID, TASK_ID.set(task_id)))
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)
