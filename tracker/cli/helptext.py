"""Help pages in words: `--since WHEN` rather than `--since <str>`, no `[1<=x<=2147483647]`,
and command summaries that are not cut off mid-sentence."""

from __future__ import annotations

import re
from typing import Any

from tracker.ids import MAX_ID

_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)\.\s")
# What to call an option's value where the command does not say; else its name in capitals.
METAVARS = {
    "since": "WHEN",
    "limit": "N",
    "every": "DURATION",
    "min_severity": "LEVEL",
    "digest": "hourly|daily",
    "status": "pending|sent|failed",
    "format": "toml|opml",
    "host": "ADDRESS",
    "port": "PORT",
    "workers": "N",
    "author": "AUTHOR",
    "kind": "KIND",
    "match": "TEXT",
    "name": "TEXT",
}


def tidy(command: Any) -> Any:
    """The same command tree with readable help (changed in place)."""
    if command.help and not command.short_help:
        command.short_help = _first_sentence(command.help)
    for param in command.params:
        _tidy_param(param)
    # Typer vendors its own Click: its classes are not the `click` package's.
    if hasattr(command, "commands"):
        for sub in command.commands.values():
            tidy(sub)
    return command


def _tidy_param(param: Any) -> None:
    shown = param.metavar or METAVARS.get(param.name or "", (param.name or "VALUE").upper())
    if param.param_type_name == "argument":
        _override(param, "display_type_rich", lambda ctx: "")
    elif not getattr(param, "is_flag", False):
        _override(param, "display_type_rich", lambda ctx: shown)
    low = getattr(param, "min", None)
    high = getattr(param, "max", None)
    if low is not None or high is not None:
        _override(param, "_get_number_range_help_str", lambda: _range(low, high))


def _override(param: Any, name: str, function: Any) -> None:
    # An attribute of the instance shadows Typer's method of the same name.
    if hasattr(param, name):
        setattr(param, name, function)


def _range(low: int | None, high: int | None) -> str | None:
    if high is None or high >= MAX_ID:
        return f"at least {low}" if low not in (None, 0, 1) else None
    return f"{low if low is not None else 0} to {high}"


def _first_sentence(text: str) -> str:
    first = text.strip().split("\n\n")[0].replace("\n", " ")
    return _SENTENCE_END.split(first)[0].rstrip(".") + "."
