"""Source lifecycle rules: failing once per streak at the threshold, recovered after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tracker.detect.lifecycle import Health, on_failure, on_success

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
HEALTHY = Health("https://lab.example/feed", "Lab", 0, None)


def fail_times(n: int) -> tuple[Health, list[str]]:
    health, kinds = HEALTHY, []
    for i in range(n):
        health, event = on_failure(health, "HTTP 500", now=NOW + timedelta(minutes=i), threshold=3)
        if event:
            kinds.append(event.kind)
    return health, kinds


def test_failing_fires_on_the_threshold_failure_only() -> None:
    health, kinds = fail_times(6)

    assert kinds == ["source.failing"]
    assert health.consecutive_failures == 6


def test_streak_start_is_the_first_failure() -> None:
    health, _ = fail_times(4)

    assert health.failing_since == NOW


def test_no_failing_event_below_threshold() -> None:
    assert fail_times(2)[1] == []


def test_recovered_only_after_failing_was_reported() -> None:
    below, _ = fail_times(2)
    reported, _ = fail_times(3)

    assert on_success(below, threshold=3) is None
    recovered = on_success(reported, threshold=3)
    assert recovered is not None
    assert recovered.kind == "source.recovered"


def test_failing_and_recovered_of_one_streak_share_a_fingerprint() -> None:
    health, _ = fail_times(2)
    health, failing = on_failure(health, "HTTP 500", now=NOW + timedelta(hours=1), threshold=3)
    recovered = on_success(health, threshold=3)

    assert failing is not None and recovered is not None
    assert failing.fingerprint == recovered.fingerprint == NOW.isoformat()
    assert failing.data["error"] == "HTTP 500"
