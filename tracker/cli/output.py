"""Printing: one JSON document for `--json`, readable text otherwise."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from tracker.events import KINDS

if TYPE_CHECKING:
    from rich.console import Console

# Piped output is for grep and scripts: never wrap or cut lines to a guessed width.
# The `--kind` filter of `events` and `subscriptions add`.
KindOption = Annotated[
    list[str] | None,
    typer.Option(
        "--kind",
        help=f"Only this kind (repeatable; `access.*` for a family): {', '.join(KINDS)}.",
    ),
]

# Control characters (ESC sequences that clear the screen, recolour it or plant OSC 8
# hyperlinks; NUL, backspace, carriage return) and bidirectional overrides, which make
# text read differently from what it is. Tabs and newlines stay.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_controls(text: str) -> str:
    """Text from outside, safe to print on a terminal."""
    return _CONTROL.sub("", text)


def _clean_console(**options: Any) -> Console:
    """A console that strips control characters from every string it renders (plain
    prints and table cells alike) before its own styling is applied."""
    from rich.console import Console

    class CleanConsole(Console):
        def render_str(self, text: str, **kwargs: Any) -> Any:
            return super().render_str(strip_controls(text), **kwargs)

    return CleanConsole(**options)


class _OnFirstUse:
    """Stands for a console made (importing rich) when it is first used: `--json` output
    and `--help` need no rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            options = self._options
            if "width" in options and callable(options["width"]):
                options = {**options, "width": options["width"]()}
            self._console = _clean_console(**options)
        return getattr(self._console, name)


def _piped_width() -> int | None:
    return None if sys.stdout.isatty() else 1000


console = cast("Console", _OnFirstUse(highlight=False, soft_wrap=True, width=_piped_width))
errors = cast("Console", _OnFirstUse(stderr=True, highlight=False, soft_wrap=True))


def print_json(value: Any) -> None:
    """Exactly one JSON document on stdout."""
    text = json.dumps(_plain(value), indent=2, ensure_ascii=False)
    # json escapes C0 controls; C1 and bidirectional controls would reach the terminal raw.
    text = re.sub(
        "[\x7f-\x9f\u202a-\u202e\u2066-\u2069]", lambda m: f"\\u{ord(m.group()):04x}", text
    )
    sys.stdout.write(text + "\n")


_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:  # most values: asking pydantic's metaclass costs more
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    # Without pydantic imported there is no model to dump.
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json")
    return value


def escape(text: str) -> str:
    """Text with rich's markup escaped (rich imported when first needed)."""
    from rich.markup import escape as escape_markup

    return escape_markup(text)


def plural(count: int, noun: str) -> str:
    """`1 attempt`, `3 attempts`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


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
    from tracker.alerts.messages import change_lines

    return "; ".join(change_lines(before, after))
