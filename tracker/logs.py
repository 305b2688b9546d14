"""Logging: every line says which source and which task it is about.

`source_id` and `task_id` live in context variables set by the poller and the Celery
tasks; a filter copies them onto each record. TRACKER_LOG_FORMAT=json prints one JSON
object per line for log shippers.

Every line is redacted before it is written, whichever logger made it (urllib3, httpx,
apprise, huggingface_hub, ours): at DEBUG those log request lines, and alert URLs carry
their credentials in query strings (`?token=`, `?pushkey=`), in the user part and in
webhook paths.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import Any

SOURCE_ID: ContextVar[int | None] = ContextVar("source_id", default=None)
TASK_ID: ContextVar[str | None] = ContextVar("task_id", default=None)
TEXT_FORMAT = (
    "%(asctime)s %(levelname)s %(name)s [source=%(source_id)s task=%(task_id)s] %(message)s"
)


# `name=value` where the name says credential: ?token=, &apikey=, pushkey=, sig=, ...
_SECRET_PARAM = re.compile(
    r"(?P<lead>[?&;\s\"'(]|^)(?P<name>[\w.+-]*(?:token|key|secret|pass|auth(?!or)|sig|session)"
    r"[\w.-]*)=(?P<value>[^&\s\"'#;)]+)",
    re.IGNORECASE,
)
# The password of a URL's user part.
_USERINFO = re.compile(r"(?P<lead>[a-z][\w+.-]*://[^/\s:@]*):[^@/\s]+@", re.IGNORECASE)
# Webhook paths: every segment after a marker is a credential.
_HOOK_PATH = re.compile(
    r"(?P<lead>/(?:hooks?|webhooks?|services|catch|triggers?|incoming|bot|message/push)"
    r"(?=[/\d]))(?P<rest>(?:/?[^\s/?#\"']+)+)",
    re.IGNORECASE,
)
# Telegram puts the bot token in the path: /bot123456:ABC.../sendMessage
_BOT_TOKEN = re.compile(r"/bot\d+:[\w-]+")
# A long random-looking path segment (a token, not a word).
_LONG_TOKEN = re.compile(r"(?<=/)(?=[\w-]{24,})(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[\w-]+")


def redact(text: str) -> str:
    """Text with the credentials of any URL in it replaced by `****`."""
    text = _USERINFO.sub(lambda m: m.group("lead") + ":****@", text)
    text = _SECRET_PARAM.sub(lambda m: f"{m.group('lead')}{m.group('name')}=****", text)
    text = _BOT_TOKEN.sub("/bot****", text)
    text = _HOOK_PATH.sub(lambda m: m.group("lead") + "/****", text)
    return _LONG_TOKEN.sub("****", text)


class RedactFilter(logging.Filter):
    """Rewrites each record's message with its credentials masked (on the handler, so
    every logger's records pass through it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


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
    handler.addFilter(RedactFilter())
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
