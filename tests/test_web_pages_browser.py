"""Every page in Chromium at desktop and phone width, over a made-up world of two labs
(tests/demo_world.py): it renders without script errors or CSP blocks, fits a 390 px
screen without sideways scrolling, shows severity as a word, and is kept as a screenshot
in $TRACKER_TEST_ARTIFACTS (else the test's tmp dir)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracker.config import Settings
from tracker.db import Database
from tracker.web.app import create_app

from .demo_world import LAB, seed_demo
from .feeds import rss
from .sites import Site
from .test_web_browser import CHROMIUM, LAUNCH_ARGS, png_size
from .webserver import RunningServer, serve

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"browser tests need Debian's Chromium at {CHROMIUM}: "
    "install it with: apt-get install -y chromium",
)

if CHROMIUM.exists():
    from playwright.sync_api import Browser, Page, expect

TOKEN = "pages-token"
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def world(db: Database) -> dict[str, int]:
    return seed_demo(db)


@pytest.fixture
def server(settings: Settings, db: Database) -> Iterator[RunningServer]:
    with serve(create_app(settings, db=db, token=TOKEN)) as running:
        yield running


@pytest.fixture
def artifacts(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    configured = os.environ.get("TRACKER_TEST_ARTIFACTS")
    folder = request.config.invocation_params.dir / configured if configured else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(browser: Browser, server: RunningServer, width: str) -> tuple[Page, list[str]]:
    w, h = WIDTHS[width]
    context = browser.new_context(
        base_url=server.base_url, viewport={"width": w, "height": h}, device_scale_factor=1
    )
    context.set_default_timeout(20_000)  # a busy machine, not a slow page
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    tab.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    return tab, problems


def sign_in(page: Page) -> None:
    page.goto("/login?next=/sources")
    page.get_by_label("API token").fill(TOKEN)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def check_and_keep(page: Page, problems: list[str], folder: Path, name: str, width: str) -> Path:
    """No script error or CSP block, no sideways scrolling at phone width; a screenshot."""
    assert problems == [], problems
    overflow = page.evaluate("() => document.documentElement.scrollWidth")
    assert overflow <= WIDTHS[width][0], f"{name} at {width}: {overflow}px wide"
    shot = folder / f"{name}-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert png_size(shot)[0] == WIDTHS[width][0]
    return shot


PAGES = {
    "front": ("/", "What closed up"),
    "events": ("/events", "Event log"),
    "lab": (f"/labs/{LAB}", LAB),
    "labs": ("/labs", "Labs"),
    "openness": ("/openness", "How open is each lab?"),
    "subject": (f"/subjects?subject={LAB}/Aurora-7B", f"History of {LAB}/Aurora-7B"),
}


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("name", list(PAGES))
def test_each_page_renders_at_desktop_and_phone_width(
    browser: Browser,
    server: RunningServer,
    world: dict[str, int],
    artifacts: Path,
    name: str,
    width: str,
) -> None:
    path, heading = PAGES[name]
    page, problems = open_page(browser, server, width)
    page.goto(path)

    expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Sources")).to_be_visible()
    if name not in ("labs", "openness"):
        expect(page.locator(".badge.sev-warning").first).to_be_visible()  # a word, not a tint
    check_and_keep(page, problems, artifacts, name, width)
    page.context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
@pytest.mark.parametrize("which", ["terms", "lineage", "page", "regressed"])
def test_event_pages_put_the_change_first_and_fold_the_raw_data(
    browser: Browser,
    server: RunningServer,
    world: dict[str, int],
    artifacts: Path,
    which: str,
    width: str,
) -> None:
    page, problems = open_page(browser, server, width)
    page.goto(f"/events/{world[which]}")

    raw = page.locator("details.raw")
    expect(raw).to_have_count(1)
    expect(raw.locator("pre.data")).to_be_hidden()  # folded away
    expect(page.locator("ul.words li").first).to_be_visible()
    if which == "terms":
        expect(page.locator("ul.clauses")).to_contain_text("added: user cap")
        expect(page.locator("ul.words")).to_contain_text("now requires a separate license")
        expect(page.locator("pre.diff .add").first).to_contain_text("500 million")
    if which == "lineage":
        expect(page.locator("ul.words")).to_contain_text("212 repos built on it (140 fine-tunes")
    if which == "regressed":
        expect(page.locator("ul.words")).to_contain_text("disclosure score: 6 → 3")
    check_and_keep(page, problems, artifacts, f"event-{which}", width)
    raw.locator("summary").click()
    expect(raw.locator("pre.data")).to_be_visible()
    page.context.close()


@pytest.mark.parametrize("width", list(WIDTHS))
def test_sources_and_subscriptions_signed_in(
    browser: Browser,
    server: RunningServer,
    world: dict[str, int],
    artifacts: Path,
    width: str,
) -> None:
    page, problems = open_page(browser, server, width)
    sign_in(page)
    page.goto("/sources")

    stats = page.get_by_role("main").locator(".stat")
    expect(stats.nth(1)).to_contain_text("4")  # ok
    expect(stats.nth(2)).to_contain_text("1")  # failing
    expect(stats.nth(3)).to_contain_text("1")  # never polled
    expect(page.locator("table.sources")).to_contain_text("Northwind research feed")
    expect(page.locator("table.sources")).to_contain_text("6 h")
    expect(page.locator("table.sources")).to_contain_text("1 d")
    expect(page.locator("table.sources")).not_to_contain_text("#")
    expect(page.locator("#add-source")).to_be_visible()  # the add form where it is seen
    check_and_keep(page, problems, artifacts, "sources", width)

    page.goto("/subscriptions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Alerts")
    check_and_keep(page, problems, artifacts, "subscriptions", width)

    page.goto("/login")
    check_and_keep(page, problems, artifacts, "login", width)
    page.context.close()


def test_front_page_on_a_first_start_with_failing_sources_says_so(
    browser: Browser, server: RunningServer, db: Database, artifacts: Path
) -> None:
    from tracker.models import Source

    with db.session() as session:
        for n in range(3):
            session.add(
                Source(
                    kind="feed",
                    target=f"https://lab{n}.example/feed.xml",
                    every_seconds=900,
                    last_error="cannot resolve lab.example",
                    consecutive_failures=1,
                )
            )
    page, problems = open_page(browser, server, "desktop")
    page.goto("/")
    expect(page.get_by_role("alert")).to_contain_text("No source works yet")
    page.goto("/events")
    expect(page.get_by_role("alert")).to_contain_text("No source works yet")
    expect(page.locator("p.empty")).not_to_contain_text("No events match")
    check_and_keep(page, problems, artifacts, "first-start-failing", "desktop")
    page.context.close()


def test_an_add_form_error_sits_next_to_its_field_and_is_scrolled_into_view(
    browser: Browser, server: RunningServer, world: dict[str, int], artifacts: Path
) -> None:
    page, problems = open_page(browser, server, "phone")
    sign_in(page)
    page.goto("/sources")
    form = page.locator("form#add-source")
    form.get_by_label("Target").fill("https://lab.example/feed.xml")
    form.get_by_label("Every").fill("1s")
    form.get_by_role("button", name="Add source").click()

    error = page.locator("#err-every")
    expect(error).to_contain_text("use 30s to 30d")
    expect(error).to_be_in_viewport()
    expect(form.get_by_label("Every")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Every")).to_be_focused()
    # The refused form answers 400, which Chromium logs; nothing else may be.
    problems[:] = [p for p in problems if "status of 400" not in p]
    check_and_keep(page, problems, artifacts, "sources-form-error", "phone")
    page.context.close()


def test_removing_a_source_asks_first(
    browser: Browser, server: RunningServer, world: dict[str, int]
) -> None:
    page, problems = open_page(browser, server, "desktop")
    asked: list[str] = []
    answers = [False, True]  # first dismissed, then accepted
    page.on(
        "dialog",
        lambda d: (asked.append(d.message), d.accept() if answers.pop(0) else d.dismiss()),
    )
    sign_in(page)
    page.goto("/sources?q=research.northwind")
    page.get_by_role("button", name="Remove").click()

    expect(page.locator("table.sources tbody tr")).to_have_count(1)  # dismissed: still there
    assert asked and "Stop watching Northwind research feed?" in asked[0]
    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status")).to_contain_text("Removed source")
    assert problems == []
    page.context.close()


def test_poll_now_answers_at_once_and_shows_the_result_when_it_lands(
    browser: Browser, server: RunningServer, db: Database, site: Site
) -> None:
    from tracker import catalog
    from tracker.catalog import SourceSpec

    url = site.put("/feed.xml", rss(("a", "Alpha"), ("b", "Beta")))
    with db.session() as session:
        catalog.add(session, catalog.checked(SourceSpec("feed", url, "Lab blog"), db.settings))
    page, problems = open_page(browser, server, "desktop")
    sign_in(page)
    page.goto("/sources")
    started = time.monotonic()
    with page.expect_response(lambda r: r.url.endswith("/poll")) as answered:
        page.get_by_role("button", name="Poll now").click()
    assert answered.value.status == 202
    expect(page.locator("[data-outcome]").first).to_contain_text(
        re.compile(r"Polled just now: 1 new event"), timeout=20_000
    )
    expect(page.locator("[data-health] .badge").first).to_have_text("ok")
    assert time.monotonic() - started < 30
    assert problems == []
    page.context.close()
