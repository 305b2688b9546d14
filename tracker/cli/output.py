"""Printing: one JSON document for `--json`, readable text otherwise."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console

from tracker.alerts.messages import change_lines
from tracker.events import KINDS

# Piped output is for grep and scripts: never wrap or cut lines to a guessed width.
# The `--kind` filter of `events` and `subscriptions add`.
KindOption = Annotated[
    list[str] | None,
    typer.Option(
        "--kind",
        help=f"Only this kind (repeatable; `access.*` for a family): {', '.join(KINDS)}.",
    ),
]

console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 1000)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(value: Any) -> None:
    """Exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(_plain(value), indent=2, ensure_ascii=False) + "\n")


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def when(moment: datetime | None) -> str:
    """A short local-time rendering for people."""
    if moment is None:
        return "never"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


def ago(moment: datetime | None, *, now: datetime | None = None) -> str:
    if moment is None:
        return "never"
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now" if seconds < 5 else f"{seconds}s ago"


def change_text(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """`gated: false → manual`; empty when nothing changed in place."""
    return "; ".join(change_lines(before, after))
