"""Durations and times as users type them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracker.durations import format_duration, parse_duration, parse_since
from tracker.errors import UserError

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("1h", 3600), ("1d", 86400), ("2w", 1209600), ("1h30m", 5400)],
)
def test_parse_duration(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "15", "m", "15 minutes", "-5m", "0s", "1.5h", "soon"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(UserError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [30, 900, 3600, 5400, 86400, 90061])
def test_format_duration_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_since_accepts_durations_and_iso_times() -> None:
    assert parse_since("7d", now=NOW) == NOW - timedelta(days=7)
    assert parse_since("2026-11-01", now=NOW) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T10:00:00+02:00", now=NOW) == datetime(2026, 11, 1, 8, tzinfo=UTC)
    assert parse_since("2026-11-01T10:00:00Z", now=NOW) == datetime(2026, 11, 1, 10, tzinfo=UTC)


def test_since_refuses_nonsense() -> None:
    with pytest.raises(UserError, match="invalid time"):
        parse_since("last tuesday")
