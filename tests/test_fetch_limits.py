"""What a hostile or broken server can do to a fetch, and how each ends: one deadline per
fetch (headers included), a size cap at every decoding layer, clear errors for addresses
httpx cannot use, bounded parsing, and feeds whose characters or ids are wrong."""

from __future__ import annotations

import gzip
import os
import signal
import tracemalloc

import pytest
from sqlmodel import select

from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.clients import Clients
from tracker.config import Settings
from tracker.db import Database
from tracker.decoding import PIECE, TooLargeError, decode
from tracker.http import Fetcher, FetchError
from tracker.models import Event, Item, Source
from tracker.poller import poll_sources, select_sources

from .feeds import rss
from .rawserver import dripping_headers, fixed_response, raw_server
from .sites import Site


def add_feed(db: Database, url: str) -> int:
    with db.session() as session:
        source = catalog.add(session, catalog.checked(SourceSpec("feed", url), db.settings))
        assert source.id is not None
        return source.id


def poll_all(db: Database):  # type: ignore[no-untyped-def]
    return poll_sources(db, select_sources(db, None))


def source_row(db: Database, source_id: int) -> Source:
    with db.read() as session:
        source = session.get(Source, source_id)
        assert source is not None
        return source


def kinds(db: Database) -> list[str]:
    with db.read() as session:
        return [e.kind for e in session.exec(select(Event).order_by(Event.id))]


# --- one deadline per fetch ----------------------------------------------------------------


def test_headers_dripped_a_line_at_a_time_end_at_the_fetch_deadline(settings: Settings) -> None:
    # Each header line comes well within the read timeout; all of them take 12 s. With a
    # 1 s timeout the whole fetch has 3 s.
    quick = settings.model_copy(update={"http_timeout_seconds": 1.0})
    with (
        raw_server(dripping_headers(lines=40, every=0.3)) as base,
        Fetcher(quick) as fetcher,
        pytest.raises(FetchError, match="took too long"),
    ):
        fetcher.get(base + "/feed.xml")


def test_a_fetch_within_its_deadline_is_read(settings: Settings) -> None:
    with raw_server(dripping_headers(lines=3, every=0.05)) as base, Fetcher(settings) as fetcher:
        response = fetcher.get(base + "/feed.xml")

    assert response.status == 200 and b"<rss" in response.body


# --- the size cap at every decoding layer --------------------------------------------------


def stacked_bomb(size: int) -> bytes:
    return gzip.compress(gzip.compress(b"\0" * size))


def test_stacked_gzip_layers_never_hold_more_than_a_piece_at_once() -> None:
    bomb = stacked_bomb(64 * 1024 * 1024)
    assert len(bomb) < 100_000
    pieces: list[int] = []

    def read_all() -> None:
        for piece in decode([bomb], "gzip, gzip", cap=1024 * 1024):
            pieces.append(len(piece))

    with pytest.raises(TooLargeError, match="larger than 1 MiB"):
        read_all()

    assert max(pieces) <= PIECE
    assert sum(pieces) <= 1024 * 1024


def test_a_stacked_gzip_bomb_is_refused_without_expanding_it(settings: Settings) -> None:
    bomb = stacked_bomb(256 * 1024 * 1024)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
        b"Content-Encoding: gzip, gzip\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
    )
    tracemalloc.start()
    try:
        with (
            raw_server(fixed_response(head % len(bomb) + bomb)) as base,
            Fetcher(settings) as f,
            pytest.raises(FetchError, match="larger than 10 MiB"),
        ):
            f.get(base + "/feed.xml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # Decoding stops at the cap: what was held is of the order of the cap, not 256 MiB.
    assert peak < 48 * 1024 * 1024


def test_deflate_and_identity_layers_are_read(settings: Settings) -> None:
    import zlib

    body = rss(("a", "Alpha")).encode()
    packed = zlib.compress(body)
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
        b"Content-Encoding: identity, deflate\r\nContent-Length: %d\r\n\r\n"
    )
    with raw_server(fixed_response(head % len(packed) + packed)) as base, Fetcher(settings) as f:
        assert f.get(base + "/feed.xml").body == body


def test_an_unknown_content_encoding_is_a_clear_error(settings: Settings) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 3\r\n\r\nabc"
    with (
        raw_server(fixed_response(head)) as base,
        Fetcher(settings) as f,
        pytest.raises(FetchError, match="unsupported Content-Encoding: br"),
    ):
        f.get(base + "/feed.xml")


# --- addresses and answers that are the server's fault -------------------------------------


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        ("javascript:alert(1)", "invalid URL"),
        ("http://0177.0.0.1:9/feed.xml", "invalid URL"),
        ("ftp://files.example/feed.xml", "non-HTTP URL"),
    ],
)
def test_a_redirect_to_an_unusable_address_fails_the_source_clearly(
    db: Database, site: Site, location: str, problem: str
) -> None:
    source_id = add_feed(db, site.redirect("/moved.xml", location))

    (result,) = poll_all(db).results

    assert not result.ok
    assert problem.lower() in (result.error or "").lower()
    assert not (result.error or "").startswith("internal error")
    assert source_row(db, source_id).consecutive_failures == 1


def test_a_304_to_a_request_that_was_not_conditional_is_a_failure(db: Database, site: Site) -> None:
    source_id = add_feed(db, site.put("/feed.xml", "", status=304, etag=False, last_modified=False))

    (result,) = poll_all(db).results

    assert not result.ok and "304" in (result.error or "")
    assert source_row(db, source_id).baselined_at is None
    assert kinds(db) == []


def test_a_huge_retry_after_is_reported_as_the_wait_that_applies(db: Database, site: Site) -> None:
    add_feed(db, site.put("/feed.xml", "busy", status=429, headers={"Retry-After": "999999999999"}))

    (result,) = poll_all(db).results

    assert result.deferred
    assert "retrying in 86400s" in (result.error or "")


def test_a_source_put_off_poll_after_poll_becomes_failing(db: Database, site: Site) -> None:
    source_id = add_feed(
        db, site.put("/feed.xml", "busy", status=429, headers={"Retry-After": "5"})
    )
    outcomes = [poll_all(db).results[0] for _ in range(8)]

    # Twice the failing threshold of deferrals, then each further one counts as failed.
    assert [r.status for r in outcomes] == ["deferred"] * 5 + ["failed"] * 3
    assert "still put off after 6 polls" in (outcomes[5].error or "")
    assert kinds(db) == ["source.failing"]
    assert source_row(db, source_id).consecutive_failures == 3


# --- parsing: bounded, and robust to broken characters -------------------------------------


def test_an_element_with_thousands_of_attributes_fails_the_source_at_once(
    db: Database, site: Site
) -> None:
    # feedparser's cost grows with the square of an element's attributes: 20,000 take
    # seconds, 100,000 minutes.
    attributes = " ".join(f'a{n}="v"' for n in range(20_000))
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<item {attributes}><title>x</title><guid>x</guid></item></channel></rss>"
    )
    add_feed(db, site.put("/feed.xml", body))

    (result,) = poll_all(db).results

    assert not result.ok
    assert "more than 1,000 attributes" in (result.error or "")


def test_surrogate_character_references_are_repaired_not_fatal(db: Database, site: Site) -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>Launch &#55357;&#56832; day</title><guid>a</guid></item>"
        "<item><title>Broken &#xD800; half</title><guid>b</guid></item>"
        "<item><title>Plain</title><guid>c</guid></item></channel></rss>"
    )
    add_feed(db, site.put("/feed.xml", body))

    (result,) = poll_all(db).results

    assert result.ok, result.error
    with db.read() as session:
        titles = sorted(item.data["title"] for item in session.exec(select(Item)))
    assert titles == ["Broken \ufffd half", "Launch \U0001f600 day", "Plain"]


def test_a_dead_parser_process_is_replaced_and_the_document_parsed(settings: Settings) -> None:
    body = rss(("a", "Alpha"), ("b", "Beta")).encode()
    with Clients(settings, parallel_parsing=True) as clients:
        if not clients._parallel:
            pytest.skip("parsing in worker processes needs more than one core")
        clients.parse_feed(body, url="https://lab.example/feed.xml", content_type=None)
        pool = clients._parser_pool()
        for process in list(pool._processes.values()):  # the OOM killer strikes
            os.kill(process.pid, signal.SIGKILL)
            process.join(5)

        parsed = clients.parse_feed(body, url="https://lab.example/feed.xml", content_type=None)

    assert [e.title for e in parsed.entries] == ["Alpha", "Beta"]


def test_nul_characters_from_a_feed_are_not_stored(db: Database, site: Site) -> None:
    # feedparser passes `&#0;` through; PostgreSQL refuses NUL in text and JSON, and a feed
    # carrying one must still be recorded.
    def feed(*items: str) -> str:
        body = "".join(f"<item><title>{t}&#0; post</title><guid>{t}</guid></item>" for t in items)
        head = '<?xml version="1.0"?><rss version="2.0"><channel><title>Lab&#0; blog</title>'
        return f"{head}{body}</channel></rss>"

    source_id = add_feed(db, site.put("/feed.xml", feed("First")))
    poll_all(db)
    site.put("/feed.xml", feed("Second", "First"))

    report = poll_all(db)

    assert report.results[0].ok, report.results[0].error
    assert source_row(db, source_id).name == "Lab blog"
    with db.read() as session:
        (post,) = session.exec(select(Event).where(Event.kind == "post.published"))
    assert post.title == "Second post"
