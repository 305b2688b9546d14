"""Feed detection is pure: stored entry states + observed entries -> item states + events."""

from __future__ import annotations

from datetime import UTC, datetime

from tracker.detect.feed import detect_posts
from tracker.observations import FeedEntry


def entry(key: str, title: str = "T", link: str | None = None) -> FeedEntry:
    return FeedEntry(
        key=key,
        title=title,
        link=link or f"https://lab.example/{key}",
        published_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def test_before_baseline_entries_are_recorded_without_events() -> None:
    detection = detect_posts({}, [entry("a"), entry("b")], baselined=False)

    assert detection.events == []
    assert set(detection.upserts) == {"a", "b"}


def test_unknown_entry_after_baseline_is_a_post() -> None:
    previous = {"a": entry("a").state()}

    detection = detect_posts(previous, [entry("b", "New model"), entry("a")], baselined=True)

    (event,) = detection.events
    assert (event.kind, event.subject, event.title, event.fingerprint) == (
        "post.published",
        "https://lab.example/b",
        "New model",
        "b",
    )
    assert list(detection.upserts) == ["b"]


def test_known_unchanged_entries_write_nothing() -> None:
    previous = {"a": entry("a").state(), "b": entry("b").state()}

    detection = detect_posts(previous, [entry("b"), entry("a")], baselined=True)

    assert (detection.upserts, detection.events) == ({}, [])


def test_edited_title_updates_state_without_event() -> None:
    previous = {"a": entry("a", "Old").state()}

    detection = detect_posts(previous, [entry("a", "New")], baselined=True)

    assert detection.events == []
    assert detection.upserts == {"a": {"title": "New", "link": "https://lab.example/a"}}


def test_duplicate_entry_in_one_document_is_one_post() -> None:
    detection = detect_posts({}, [entry("a"), entry("a", "Again")], baselined=True)

    assert [e.fingerprint for e in detection.events] == ["a"]


def test_post_without_link_uses_entry_key_as_subject() -> None:
    linkless = FeedEntry(key="sha256:abc", title="Note", link=None, published_at=None)

    (event,) = detect_posts({}, [linkless], baselined=True).events

    assert (event.subject, event.url) == ("sha256:abc", None)


def test_event_key_is_stable_and_distinguishes_sources() -> None:
    (event,) = detect_posts({}, [entry("a")], baselined=True).events
    (again,) = detect_posts({}, [entry("a")], baselined=True).events

    assert event.key(1) == again.key(1)
    assert event.key(1) != event.key(2)
