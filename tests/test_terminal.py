"""Text from outside never drives the terminal: control characters are stripped from what
`tracker poll`, `tracker events` and `tracker sources list` print."""

from __future__ import annotations

from datetime import UTC, datetime

from tracker.db import Database
from tracker.models import Event, Source

from .feeds import rss
from .sites import Site

# Clear the screen, turn the text red, a fake OSC 8 hyperlink, a NUL, a right-to-left override.
HOSTILE = "\x1b[2J\x1b[31mred\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\x00nul\u202etxt"
CONTROLS = ("\x1b", "\x07", "\x00", "\u202e")


def clean(output: str) -> bool:
    return not any(c in output for c in CONTROLS)


def test_events_and_sources_print_no_control_characters(cli, db: Database) -> None:
    # PostgreSQL cannot store a NUL at all (the tracker strips them before storing).
    hostile = HOSTILE if db.engine.dialect.name == "sqlite" else HOSTILE.replace("\x00", "")
    with db.session() as session:
        source = Source(
            kind="feed",
            target="https://lab.example/feed.xml",
            name="Lab " + hostile,
            every_seconds=900,
        )
        source.last_error = "HTTP 500 " + hostile
        source.consecutive_failures = 3
        session.add(source)
        session.flush()
        session.add(
            Event(
                key="k1",
                kind="post.published",
                severity="notice",
                source_id=source.id,
                subject="https://lab.example/p",
                title="Post " + hostile,
                url="https://lab.example/p",
                detected_at=datetime.now(UTC),
                data={},
            )
        )

    events, sources = cli("events"), cli("sources", "list")

    assert events.code == 0 and sources.code == 0
    assert "Post" in events.stdout and "click" in events.stdout
    assert "Lab" in sources.stdout
    assert clean(events.stdout) and clean(sources.stdout), (events.stdout, sources.stdout)


def test_poll_prints_no_control_characters(cli, site: Site) -> None:
    url = site.put("/feed.xml", rss(("a", "Alpha")))
    cli("sources", "add", "feed", url)
    cli("poll")
    title = "New &#x202e;txt post"  # a character reference XML allows
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")).replace("Beta", title))

    result = cli("poll")

    assert result.code == 0
    assert "post" in result.stdout
    assert clean(result.stdout), result.stdout


def test_json_output_escapes_what_a_terminal_would_obey(cli, db: Database) -> None:
    with db.session() as session:
        session.add(
            Source(
                kind="feed",
                target="https://lab.example/f",
                name="A\x9b31mB\u202e",
                every_seconds=900,
            )
        )

    result = cli("sources", "list", "--json")

    assert result.code == 0
    assert clean(result.stdout) and "\x9b" not in result.stdout
    assert "\\u009b31mB\\u202e" in result.stdout
