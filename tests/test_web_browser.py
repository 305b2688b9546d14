"""The web UI in a real browser: uvicorn on loopback, Debian's Chromium driven by Playwright.

Events come from feeds and pages on the local `site`, polled through `tracker.poller`, as in
production. Screenshots go to $TRACKER_TEST_ARTIFACTS (else the test's tmp dir).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

import pytest

from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.config import Settings
from tracker.db import Database
from tracker.poller import poll_sources, select_sources
from tracker.web.app import create_app

from .feeds import rss
from .sites import Site
from .webserver import RunningServer, serve

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TOKEN = "browser-token"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"browser tests need Debian's Chromium at {CHROMIUM}: "
    "install it with: apt-get install -y chromium",
)

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, expect


# ----------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def server(settings: Settings, db: Database) -> Iterator[RunningServer]:
    with serve(create_app(settings, db=db, token=TOKEN)) as running:
        yield running


@pytest.fixture
def dialogs() -> list[str]:
    """Messages of every alert/confirm/prompt the page opened (dismissed at once)."""
    return []


@pytest.fixture
def console() -> list[str]:
    """Every console message and uncaught page error."""
    return []


@pytest.fixture
def page(
    browser: Browser, server: RunningServer, dialogs: list[str], console: list[str]
) -> Iterator[Page]:
    context = browser.new_context(base_url=server.base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)  # a busy machine, not a slow page
    tab = context.new_page()
    tab.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    tab.on("console", lambda message: console.append(message.text))
    tab.on("pageerror", lambda error: console.append(f"pageerror: {error}"))
    yield tab
    context.close()


def add_source(db: Database, kind: str, target: str, **options: Any) -> int:
    spec = catalog.checked(SourceSpec(kind, target, **options), db.settings)
    with db.session() as session:
        return catalog.add(session, spec).id


def poll(db: Database) -> list[int]:
    report = poll_sources(db, select_sources(db, None))
    assert all(r.ok for r in report.results), [r.error for r in report.results]
    return report.event_ids


def feed_with_posts(db: Database, site: Site, count: int) -> list[int]:
    """A feed baselined empty, then `count` new entries: `count` posts (ids ascending)."""
    add_source(db, "feed", site.put("/feed.xml", rss()))
    poll(db)
    site.put("/feed.xml", rss(*[(f"p{i}", f"Post number {i}") for i in range(count)]))
    return poll(db)


def rows(page: Page) -> list[dict[str, str]]:
    """The event table as the reader sees it: kind, title and detail link of each row."""
    return page.eval_on_selector_all(
        "#events tbody tr",
        """rows => rows.map(row => ({
            kind: row.querySelector('.kind').textContent,
            title: row.querySelector('.change a').textContent,
            href: row.querySelector('.change a').getAttribute('href'),
        }))""",
    )


def artifacts_dir(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """$TRACKER_TEST_ARTIFACTS (relative to where pytest was started), else the tmp dir."""
    configured = os.environ.get("TRACKER_TEST_ARTIFACTS")
    if not configured:
        return tmp_path
    folder = request.config.invocation_params.dir / configured
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    return struct.unpack(">II", header[16:24])


# ----------------------------------------------------------------- the event log


def test_event_log_lists_events_and_filters_by_kind(
    page: Page, db: Database, site: Site, console: list[str]
) -> None:
    feed_with_posts(db, site, 3)

    page.goto("/events")

    listed = rows(page)
    assert [r["kind"] for r in listed] == ["post.published"] * 3 + ["source.baselined"]
    assert [r["title"] for r in listed[:3]] == ["Post number 2", "Post number 1", "Post number 0"]

    page.select_option("select[name=kind]", "source.baselined")
    page.get_by_role("button", name="Filter").click()

    expect(page).to_have_url(re.compile(r"[?&]kind=source\.baselined"))
    assert [r["kind"] for r in rows(page)] == ["source.baselined"]
    expect(page.locator("select[name=kind]")).to_have_value("source.baselined")

    page.select_option("select[name=kind]", "post.*")
    page.get_by_role("button", name="Filter").click()

    expect(page).to_have_url(re.compile(r"[?&]kind=post\.\*|kind=post\.%2A"))
    assert [r["kind"] for r in rows(page)] == ["post.published"] * 3

    page.select_option("select[name=kind]", "access.gated")
    page.get_by_role("button", name="Filter").click()

    expect(page.locator("#events")).to_have_count(0)
    expect(page.locator("p.empty")).to_contain_text("No events match")
    assert page.evaluate("() => getComputedStyle(document.body).margin") != "8px"  # styled
    assert console == []  # nothing blocked by the CSP, no script errors


def test_older_link_pages_through_more_than_fifty_events(
    page: Page, db: Database, site: Site
) -> None:
    posts = feed_with_posts(db, site, 60)
    assert len(posts) == 60

    page.goto("/events")
    first = [r["href"] for r in rows(page)]
    page.get_by_role("link", name="Older →").click()
    expect(page).to_have_url(re.compile(r"[?&]before=\d+"))
    second = [r["href"] for r in rows(page)]

    assert len(first) == 50 and len(second) == 11
    shown = [int(href.rsplit("/", 1)[1]) for href in first + second]
    assert shown == sorted(shown, reverse=True)
    assert len(set(shown)) == 61
    expect(page.get_by_role("link", name="Older →")).to_have_count(0)
    page.get_by_role("link", name="Newest").click()
    expect(page).to_have_url(re.compile(r"/events$"))
    assert [r["href"] for r in rows(page)] == first


def test_new_events_banner_appears_when_a_newer_event_arrives(
    page: Page, db: Database, site: Site
) -> None:
    add_source(db, "feed", site.put("/feed.xml", rss(("a", "Alpha"))))
    poll(db)
    page.clock.install()
    page.goto("/events")
    banner = page.locator("#new-events")
    expect(banner).to_be_hidden()

    # One check with nothing new: the banner stays hidden.
    with page.expect_response(lambda r: "/api/events" in r.url):
        page.clock.fast_forward(16_000)
    expect(banner).to_be_hidden()

    site.put("/feed.xml", rss(("b", "Beta arrives"), ("a", "Alpha")))
    assert poll(db)
    with page.expect_response(lambda r: "/api/events" in r.url):
        page.clock.fast_forward(16_000)

    expect(banner).to_be_visible()
    banner.get_by_role("link").click()
    expect(page.locator("#events tbody tr").first).to_contain_text("Beta arrives")


# ----------------------------------------------------------------- signing in, sources


def sign_in(page: Page, next_path: str = "/sources") -> None:
    page.goto(f"/login?next={next_path}")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_adding_a_source_with_the_form_as_served(page: Page, site: Site) -> None:
    url = site.put("/feed.xml", rss(("a", "Alpha")))
    sign_in(page)

    form = page.locator("form#add-source")
    form.get_by_label("Target").fill(url)
    form.get_by_role("button", name="Add source").click()

    expect(page.get_by_role("status")).to_contain_text("Added source 1", timeout=10_000)


def test_sign_in_add_a_source_and_screenshot_the_event_log(
    page: Page, site: Site, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = site.put("/feed.xml", rss(("a", "Alpha"), ("b", "Beta")))
    page.goto("/sources")
    expect(page.locator("form#add-source")).to_have_count(0)

    page.get_by_role("link", name="Sign in").first.click()
    page.get_by_label("API token").fill("not the token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That is not the API token.")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(r"/sources$"))
    form = page.locator("form#add-source")
    form.get_by_label("Target").fill(url)
    form.get_by_label("Name").fill("Lab blog")
    form.get_by_role("button", name="Add source").click()

    expect(page.get_by_role("status")).to_contain_text("Added source 1: Lab blog")
    expect(page.locator("table.sources tbody tr")).to_have_count(1)
    expect(page.locator("table.sources")).to_contain_text("Lab blog")
    expect(page.locator("table.sources")).to_contain_text(url)

    # "Poll now" answers at once; the row shows the result when the poll lands.
    page.get_by_role("button", name="Poll now").click()
    outcome = page.locator("table.sources [data-outcome]")
    expect(outcome).to_have_text("Polled just now: 1 new event", timeout=20_000)
    expect(page.locator("table.sources [data-health] .badge")).to_have_text("ok")
    site.put("/feed.xml", rss(("c", "Gamma: a new model card"), ("a", "Alpha"), ("b", "Beta")))
    page.reload()
    page.get_by_role("button", name="Poll now").click()
    expect(outcome).to_have_text("Polled just now: 1 new event", timeout=20_000)

    page.get_by_role("link", name="Event log", exact=True).click()
    expect(page.locator("#events tbody tr")).to_have_count(2)
    shot = artifacts_dir(request, tmp_path) / "event-log.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"event log screenshot: {shot}")

    assert shot.stat().st_size > 5_000
    width, height = png_size(shot)
    assert width >= 1000 and height >= 300


def test_an_invalid_source_shows_the_error_in_the_form(page: Page) -> None:
    sign_in(page)

    form = page.locator("form#add-source")
    form.get_by_label("Kind").select_option("hub")
    form.get_by_label("Target").fill("not a target!")
    form.get_by_role("button", name="Add source").click()

    expect(page.get_by_role("alert")).to_contain_text("invalid Hub target")
    expect(page.locator("form#add-source").get_by_label("Target")).to_have_value("not a target!")
    expect(page.locator("p.empty")).to_have_text("No sources yet.")


def test_signing_out_hides_the_forms(page: Page) -> None:
    sign_in(page)
    expect(page.locator("form#add-source")).to_have_count(1)

    page.get_by_role("button", name="Sign out").click()

    expect(page).to_have_url(re.compile(r"/$"))
    page.goto("/sources")
    expect(page.locator("form#add-source")).to_have_count(0)
    expect(page.get_by_role("link", name="Sign in").first).to_be_visible()
    assert page.context.cookies() == []


# ----------------------------------------------------------------- hostile content

PAYLOADS = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '"><svg onload=window.__pwned=1>',
    "'><iframe src=javascript:window.__pwned=1>",
    "{{7*7}} <a href=javascript:window.__pwned=1>click</a>",
]
HOSTILE_LINKS = [
    "javascript:window.__pwned=1",
    "data:text/html,<script>window.__pwned=1</script>",
    'https://lab.example/x"><script>window.__pwned=1</script>',
    " JaVaScRiPt:window.__pwned=1",
    "vbscript:window.__pwned=1",
]

CHECK_PAGE = """() => {
    const attrs = [...document.querySelectorAll('*')].flatMap(
        e => [...e.attributes].map(a => a.name).filter(n => n.startsWith('on')));
    return {
        pwned: typeof window.__pwned,
        scripts: [...document.scripts].map(s => s.getAttribute('src')),
        handlers: attrs,
        embedded: document.querySelectorAll('img, svg, iframe, object, embed, frame').length,
        hrefs: [...document.querySelectorAll('a[href]')].map(a => a.href),
        text: document.body.innerText,
    };
}"""


def hostile_world(db: Database, site: Site) -> list[int]:
    """A feed and a watched page whose new content is hostile; returns the new events' ids."""
    items = "".join(
        f"<item><title>{escape(title)}</title><guid isPermaLink='false'>h{i}</guid>"
        f"<link>{escape(link)}</link>"
        # Escaped twice: the summary's *text* is the payload (once: it is HTML, sanitised).
        f"<description>{escape(escape(title))}</description></item>"
        for i, (title, link) in enumerate(zip(PAYLOADS, HOSTILE_LINKS, strict=True))
    )
    feed = site.put("/feed.xml", rss(("a", "Alpha")))
    page = (
        "<html><head><title>Policy</title></head><body><main><h1>Policy</h1>{}</main></body></html>"
    )
    policy = site.put(
        "/policy", page.format("<p>We publish weights.</p>"), content_type="text/html"
    )
    add_source(db, "feed", feed)
    add_source(db, "page", policy)
    poll(db)
    site.put("/feed.xml", rss(("a", "Alpha")).replace("</channel>", items + "</channel>"))
    lines = "".join(f"<p>{escape(payload)}</p>" for payload in PAYLOADS)
    site.put("/policy", page.format(lines), content_type="text/html")
    return poll(db)


def assert_harmless(page: Page, dialogs: list[str], where: str) -> dict[str, Any]:
    found = page.evaluate(CHECK_PAGE)
    assert found["pwned"] == "undefined", where
    assert dialogs == [], where
    assert found["scripts"] == ["/static/app.js"], where
    assert found["handlers"] == [], where
    assert found["embedded"] == 0, where
    bad = [h for h in found["hrefs"] if not h.startswith(("http://", "https://"))]
    assert bad == [], where
    return found


def test_hostile_feed_and_page_content_stays_inert(
    page: Page, db: Database, site: Site, server: RunningServer, dialogs: list[str], console
) -> None:
    event_ids = hostile_world(db, site)
    with db.session() as session:
        from tracker.models import Event

        events = [session.get(Event, i) for i in event_ids]
    kinds = sorted({e.kind for e in events})
    assert "post.published" in kinds and "page.changed" in kinds

    page.goto("/")
    assert_harmless(page, dialogs, "front page")
    page.goto("/events")
    found = assert_harmless(page, dialogs, "event log")
    posts = [e for e in events if e.kind == "post.published"]
    assert len(posts) == len(PAYLOADS)
    for post in posts:
        assert post.title in found["text"]  # shown as text, not markup
    assert PAYLOADS[0] in found["text"]
    # Only http(s) URLs get an "open" link: one of the five posts, and the changed page.
    opened = page.locator("a", has_text="open ↗").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    assert sorted(opened) == sorted([HOSTILE_LINKS[2], site.url("/policy")])

    pages = [f"/events/{e.id}" for e in events]
    pages += sorted({"/subjects?subject=" + quote(e.subject, safe="") for e in events})
    for path in pages:
        page.goto(path)
        found = assert_harmless(page, dialogs, path)
        assert page.title()  # the <title> holds the escaped title, the page still renders
    # The page diff and the summaries show the payloads literally too.
    (changed,) = [e for e in events if e.kind == "page.changed"]
    page.goto(f"/events/{changed.id}")
    diff = page.locator("pre.diff").inner_text()
    for payload in PAYLOADS:
        assert f"+{payload}" in diff
    page.goto(f"/events/{posts[0].id}")
    expect(page.locator("h1")).to_have_text(PAYLOADS[0])
    expect(page.locator("pre.data")).to_contain_text(PAYLOADS[0])  # the summary
    assert not [m for m in console if "pwned" in m and "Content Security Policy" not in m]


def test_content_security_policy_blocks_inline_script(
    page: Page, server: RunningServer, console: list[str], dialogs: list[str]
) -> None:
    page.goto("/")

    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            """() => {
                const s = document.createElement('script');
                s.textContent = 'window.__pwned = "inline script"';
                document.body.append(s);
            }"""
        )
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            """() => {
                const b = document.createElement('button');
                b.setAttribute('onclick', 'window.__pwned = "inline handler"');
                document.body.append(b);
                b.click();
            }"""
        )
    with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
        page.evaluate(
            """() => {
                const a = document.createElement('a');
                a.href = 'javascript:window.__pwned="javascript url"';
                document.body.append(a);
                a.click();
            }"""
        )

    assert page.evaluate("() => typeof window.__pwned") == "undefined"
    assert dialogs == []
    assert sum("Content Security Policy" in m for m in console) >= 3
