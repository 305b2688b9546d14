"""A watched policy or license page's terms: a clause gained is `license.terms_changed`
(warning), a clause lost is one too (notice), and cosmetic edits say nothing."""

from __future__ import annotations

import pytest
from sqlmodel import select

from tracker.db import Database
from tracker.detect.page import TEXT_KEY, detect_text_change
from tracker.detect.terms import terms_of
from tracker.models import Item
from tracker.observations import PageText

from .pdfs import pdf
from .polling import add_source, events_of, kinds, poll
from .sites import Site

URL = "https://lab.example/terms"

GRANT = "Example Lab grants you a licence to use, copy and modify the Example models."
OUTPUTS = (
    "You may not use the outputs of the Example models to train or improve any other "
    "large language model."
)
NON_COMMERCIAL = "You may use the Example models for non-commercial purposes only."
CHANGES = "Example Lab may update these terms at any time without notice."
WARRANTY = "The models are provided as is, without warranty of any kind."


def policy(*paragraphs: str, date: str = "March 1, 2026", footer: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        "<html><head><title>Example Model Terms</title></head><body>"
        "<nav><a href='/'>Home</a> <a href='/blog'>Blog</a></nav>"
        f"<main><h1>Example Model Terms</h1><p>Last revised: {date}.</p>{body}</main>"
        f"<footer>{footer or '© Example Lab'}</footer></body></html>"
    )


def add_page(db: Database, url: str) -> int:
    return add_source(db, "page", url)


def serve(site: Site, document: str) -> str:
    return site.put("/terms", document, content_type="text/html; charset=utf-8")


@pytest.fixture
def watched(db: Database, site: Site) -> str:
    """A policy page with two clauses (outputs, changes), polled once (its baseline)."""
    url = serve(site, policy(GRANT, OUTPUTS, CHANGES, WARRANTY))
    add_page(db, url)
    assert kinds(db, poll(db)) == ["source.baselined"]
    return url


def test_the_baseline_records_the_clauses_and_says_nothing_of_them(
    db: Database, watched: str
) -> None:
    with db.session() as session:
        (item,) = session.exec(select(Item).where(Item.key == TEXT_KEY))

    assert item.data["terms"]["clauses"] == ["output_restriction", "unilateral_changes"]
    assert item.data["form"] == "html"


def test_a_clause_added_is_a_warning_naming_exactly_that_clause(
    db: Database, site: Site, watched: str
) -> None:
    serve(site, policy(GRANT, NON_COMMERCIAL, OUTPUTS, CHANGES, WARRANTY))

    # Non-commercial use only is also a withheld detail (the weights are not open).
    changed, withheld, terms = events_of(db, poll(db))

    assert changed.kind == "page.changed"
    assert withheld.kind == "disclosure.withheld"
    assert changed.data["added"] == [NON_COMMERCIAL]
    assert terms.kind == "license.terms_changed"
    assert terms.severity == "warning"
    assert terms.subject == watched and terms.url == watched
    assert terms.data["clauses_added"] == ["non_commercial"]
    assert terms.data["clauses_removed"] == []
    assert terms.before == {"clauses": ["output_restriction", "unilateral_changes"]}
    assert terms.after == {
        "clauses": ["non_commercial", "output_restriction", "unilateral_changes"]
    }
    assert terms.data["diff"] == f"--- before\n+++ after\n@@ -4,0 +4,1 @@\n+{NON_COMMERCIAL}"
    assert terms.title.startswith("License terms stricter: Example Model Terms: now forbids")


def test_a_clause_removed_is_a_notice(db: Database, site: Site, watched: str) -> None:
    serve(site, policy(GRANT, CHANGES, WARRANTY))

    changed, terms = events_of(db, poll(db))

    assert changed.kind == "page.changed" and changed.data["removed"] == [OUTPUTS]
    assert terms.kind == "license.terms_changed"
    assert terms.severity == "notice"
    assert terms.data["clauses_added"] == []
    assert terms.data["clauses_removed"] == ["output_restriction"]
    assert terms.after == {"clauses": ["unilateral_changes"]}


def test_whitespace_reordering_and_a_new_footer_yield_nothing(
    db: Database, site: Site, watched: str
) -> None:
    spaced = policy(
        WARRANTY, CHANGES.replace(" ", "  \n "), GRANT, OUTPUTS, footer="Cookies · Careers"
    )
    serve(site, spaced)

    assert poll(db).event_ids == []


def test_a_new_date_is_a_page_change_but_not_a_terms_change(
    db: Database, site: Site, watched: str
) -> None:
    serve(site, policy(GRANT, OUTPUTS, CHANGES, WARRANTY, date="June 9, 2026"))

    (changed,) = events_of(db, poll(db))

    assert changed.kind == "page.changed"
    assert changed.data["added"] == ["Last revised: June 9, 2026."]


def test_a_clause_that_comes_back_is_reported_again(db: Database, site: Site, watched: str) -> None:
    serve(site, policy(GRANT, CHANGES, WARRANTY))
    poll(db)
    serve(site, policy(GRANT, OUTPUTS, CHANGES, WARRANTY))

    terms = [e for e in events_of(db, poll(db)) if e.kind == "license.terms_changed"]

    assert [(e.data["clauses_added"], e.severity) for e in terms] == [
        (["output_restriction"], "warning")
    ]


def test_a_license_published_as_a_pdf_is_read_for_its_terms(db: Database, site: Site) -> None:
    wrapped = [
        "Example Lab grants you a licence to use, copy and modify the Example models and",
        "to distribute them on the terms set out here.",
        "Example Lab may update these terms at any time and without any notice to",
        "you.",
    ]
    url = site.put("/terms.pdf", pdf([wrapped]), content_type="application/pdf")
    add_page(db, url)
    poll(db)
    added = [
        "You may use the Example models for non-commercial purposes only, and the",
        "outputs of the models may not be used to train or improve any other large",
        "language model.",
    ]
    site.put("/terms.pdf", pdf([wrapped + added]), content_type="application/pdf")

    changed, withheld, terms = events_of(db, poll(db))

    assert changed.kind == "page.changed"
    assert withheld.kind == "disclosure.withheld"
    assert changed.data["added"] == [" ".join(added)]
    assert terms.kind == "license.terms_changed" and terms.severity == "warning"
    assert terms.data["clauses_added"] == ["non_commercial", "output_restriction"]
    assert terms.before == {"clauses": ["unilateral_changes"]}


def test_a_text_stored_before_terms_were_read_gets_them_without_an_event() -> None:
    lines = (GRANT, NON_COMMERCIAL)
    old = {TEXT_KEY: {"lines": list(lines), "sha256": PageText(lines).digest, "rev": 4}}

    detection = detect_text_change(old, PageText(lines), url=URL, name="Terms")

    assert detection.events == []
    assert detection.upserts[TEXT_KEY]["terms"]["clauses"] == ["non_commercial"]


def test_a_text_stored_before_terms_were_read_compares_its_lines_as_ever() -> None:
    lines = (GRANT, NON_COMMERCIAL)
    old = {TEXT_KEY: {"lines": [GRANT], "sha256": PageText((GRANT,)).digest, "rev": 4}}

    detection = detect_text_change(old, PageText(lines), url=URL, name="Terms")

    # Without a stored reading of the old terms there is nothing to compare clauses with.
    assert [e.kind for e in detection.events] == ["page.changed"]
    assert detection.events[0].fingerprint == "text@4"
    assert detection.upserts[TEXT_KEY]["rev"] == 5


def test_a_text_read_another_way_is_recorded_and_only_its_terms_compared() -> None:
    html_lines = (f"{GRANT} {OUTPUTS}",)
    stored = {
        "lines": list(html_lines),
        "sha256": PageText(html_lines).digest,
        "rev": 1,
        "terms": terms_of(html_lines[0]).as_state(),
    }
    now = PageText((GRANT, OUTPUTS, NON_COMMERCIAL), form="text")

    detection = detect_text_change({TEXT_KEY: stored}, now, url=URL, name="Terms")

    (terms,) = detection.events
    assert terms.kind == "license.terms_changed"
    assert terms.data["clauses_added"] == ["non_commercial"]
    assert detection.upserts[TEXT_KEY]["form"] == "text"


def test_an_unchanged_text_with_its_terms_is_left_alone() -> None:
    page = PageText((GRANT, OUTPUTS))
    first = detect_text_change({}, page, url=URL, name="Terms").upserts

    again = detect_text_change(first, page, url=URL, name="Terms")

    assert again.upserts == {} and again.events == []
