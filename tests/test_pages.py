"""Page sources: new links matching a selector, and main-text changes with a diff."""

from __future__ import annotations

import json

import pytest

from tracker.db import Database
from tracker.poller import poll_sources, select_sources
from tracker.sources.page import clean_url, extract_links, extract_text

from .conftest import FIXTURES
from .polling import add_source, events_of, poll
from .sites import Site

PAGES = FIXTURES / "pages"
POSTS = "li.post-card a.post-link"


def page(name: str) -> str:
    return (PAGES / name).read_text()


def add_page(db: Database, url: str, links: str | None = None) -> int:
    return add_source(db, "page", url, links=links)


def test_links_are_absolute_clean_and_distinct() -> None:
    entries = extract_links(
        page("blog_v1.html"), base_url="https://lab.example/news", selector=POSTS
    )

    assert [(e.key, e.title) for e in entries] == [
        (
            "https://lab.example/news/open-weights-7b",
            "Introducing Example-7B, open weights under Apache 2.0",
        ),
        ("https://lab.example/news/safety-framework", "Our updated safety framework"),
        ("https://lab.example/news/eval-suite", "A new evaluation suite for long context"),
    ]


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://Lab.Example/a?utm_source=x&id=3#frag", "https://lab.example/a?id=3"),
        ("https://lab.example/a?fbclid=1&gclid=2&ref=home", "https://lab.example/a"),
        ("javascript:alert(1)", None),
        ("mailto:press@lab.example", None),
    ],
)
def test_clean_url(url: str, clean: str | None) -> None:
    assert clean_url(url) == clean


def test_cosmetic_changes_leave_the_text_unchanged() -> None:
    assert extract_text(page("policy_v1.html")) == extract_text(page("policy_v2_cosmetic.html"))


def test_main_text_has_no_navigation_footer_or_scripts() -> None:
    text = "\n".join(extract_text(page("policy_v1.html")).lines)

    assert "Example Model License" in text
    assert "Effective date: March 1, 2026" in text
    for boilerplate in ("Policies", "cookies", "Last updated", "csrf", "© 2026"):
        assert boilerplate not in text


def test_only_the_new_matching_link_is_a_post(db: Database, site: Site) -> None:
    add_page(db, site.put("/news", page("blog_v1.html"), content_type="text/html"), links=POSTS)
    poll(db)
    site.put("/news", page("blog_v2.html"), content_type="text/html")

    (post,) = events_of(db, poll(db))

    assert post.kind == "post.published"
    assert post.title == "Frontier-1 technical report"
    assert post.url == site.url("/news/frontier-model-report")


def test_cosmetic_page_change_emits_nothing(db: Database, site: Site) -> None:
    add_page(db, site.put("/license", page("policy_v1.html"), content_type="text/html"))
    poll(db)
    site.put("/license", page("policy_v2_cosmetic.html"), content_type="text/html")

    report = poll(db)

    assert report.event_ids == []
    assert not report.results[0].unchanged  # it was fetched and compared, not skipped


def test_revised_policy_is_a_page_change_with_its_lines(db: Database, site: Site) -> None:
    url = site.put("/license", page("policy_v2_cosmetic.html"), content_type="text/html")
    add_page(db, url)
    poll(db)
    site.put("/license", page("policy_v3_revised.html"), content_type="text/html")

    changed = next(e for e in events_of(db, poll(db)) if e.kind == "page.changed")

    assert changed.subject == url
    assert changed.title == "Page changed: Model License and Acceptable Use | Example AI Lab"
    assert (
        "You may use and reproduce the model weights for non-commercial research purposes only."
        in changed.data["added"]
    )
    assert "Effective date: December 1, 2026" in changed.data["added"]
    assert "Effective date: March 1, 2026" in changed.data["removed"]
    assert changed.data["diff"].startswith("--- before\n+++ after\n@@")
    assert "-Effective date: March 1, 2026" in changed.data["diff"]
    assert changed.before["sha256"] != changed.after["sha256"]


def test_reordered_paragraphs_are_not_a_change(db: Database, site: Site) -> None:
    add_page(db, site.put("/p", "<main><p>Alpha.</p><p>Beta.</p></main>", content_type="text/html"))
    poll(db)
    site.put("/p", "<main><p>Beta.</p><p>Alpha.</p></main>", content_type="text/html")

    assert poll(db).event_ids == []


def test_a_response_that_is_neither_page_nor_document_is_a_failure(
    db: Database, site: Site
) -> None:
    add_page(db, site.put("/logo.png", b"\x89PNG\r\n\x1a\n", content_type="image/png"))

    (result,) = poll_sources(db, select_sources(db, None)).results

    assert result.error == "not a web page: the server sent image/png"


def test_cli_adds_pages_and_refuses_bad_selectors(cli, site: Site) -> None:
    url = site.put("/news", page("blog_v1.html"), content_type="text/html")

    added = cli("sources", "add", "page", url, "--links", POSTS, "--json")
    bad = cli("sources", "add", "page", url + "?x", "--links", "li[[")
    on_feed = cli("sources", "add", "feed", url, "--links", "a")

    assert json.loads(added.stdout)["links"] == POSTS
    assert bad.code == 2
    assert "invalid CSS selector" in bad.stderr
    assert on_feed.code == 2


def test_text_and_links_of_one_page_are_two_sources(cli, site: Site) -> None:
    url = site.put("/news", page("blog_v1.html"), content_type="text/html")

    assert cli("sources", "add", "page", url).code == 0
    assert cli("sources", "add", "page", url, "--links", POSTS).code == 0
    assert cli("sources", "add", "page", url).code == 2
