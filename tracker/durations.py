"""Parsing of the durations and times users type: `30s`, `15m`, `1h`, `1d`, ISO 8601."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tracker.errors import UserError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 365 * 86400}
_PART = re.compile(r"(\d+)\s*([smhdwy])")
_WHOLE = re.compile(r"(?:\d+\s*[smhdwy]\s*)+")
# Far beyond any sensible interval, well within what datetimes and databases can hold.
MAX_SECONDS = 100 * 365 * 86400


# How often a source may be polled: one range, one message, wherever an interval is typed.
MIN_INTERVAL = 30
MAX_INTERVAL = 30 * 86400


def _seconds(text: str) -> int:
    cleaned = text.strip().lower()
    if not _WHOLE.fullmatch(cleaned):
        raise UserError(
            f"invalid duration {text!r}: use a number and a unit, e.g. 30s, 15m, 1h, 1d"
        )
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(cleaned))
    if seconds <= 0:
        raise UserError(f"invalid duration {text!r}: must be more than zero")
    return seconds


def parse_duration(text: str) -> int:
    """Seconds in `30s`, `15m`, `1h`, `1d`, `2w`, `1y` or a combination such as `1h30m`."""
    seconds = _seconds(text)
    if seconds > MAX_SECONDS:
        raise UserError(f"invalid duration {text!r}: at most 100 years")
    return seconds


def parse_interval(text: str) -> int:
    """A poll interval (`--every`): a duration from 30s to 30d."""
    return check_interval(_seconds(text), text)


def check_interval(seconds: int, text: str | None = None) -> int:
    """The seconds, or UserError saying the one allowed range."""
    if MIN_INTERVAL <= seconds <= MAX_INTERVAL:
        return seconds
    shown = repr(text) if text is not None else format_duration(seconds)
    raise UserError(f"invalid interval {shown}: use 30s to 30d")


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """A point in time: a duration ago (`7d`) or an ISO 8601 date or datetime (UTC if naive)."""
    now = now or datetime.now(UTC)
    cleaned = text.strip()
    if _WHOLE.fullmatch(cleaned.lower()):
        try:
            return now - timedelta(seconds=parse_duration(cleaned))
        except OverflowError:
            raise UserError(f"invalid time {text!r}: too far in the past") from None
    try:
        moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"invalid time {text!r}: use a duration such as 7d or an ISO 8601 date/time"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_duration(seconds: int) -> str:
    """The shortest exact spelling: 900 -> `15m`, 5400 -> `1h30m`."""
    parts = []
    for unit in ("y", "d", "h", "m", "s"):
        count, seconds = divmod(seconds, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
