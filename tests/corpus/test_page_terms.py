"""Real license and usage-policy versions (corpus/licenses/versions) served as watched
pages: each pair yields exactly the events its labels call for, a `page.changed` for the
new text and a `license.terms_changed` naming the clauses gained or lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.db import Database
from tracker.models import Event
from tracker.poller import poll_sources, select_sources

from ..sites import Site
from .locate import CORPUS

# Versions whose reworded paragraphs include the user-cap sentence ("you must request a
# license from Meta, which Meta may grant to you in its sole discretion"): the lines added
# carry a withheld-details finding (access on request) besides the clause changes.
ACCESS_ON_REQUEST = {"llama-community-license@3", "llama-community-license@3.1"}


def pairs() -> list[Any]:
    path = CORPUS / "licenses" / "versions" / "versions.json" if CORPUS is not None else None
    if path is None or not path.is_file():
        return [pytest.param(None, id="no-corpus")]
    listed = json.loads(path.read_text(encoding="utf-8"))
    return [pytest.param(pair, id=Path(pair["newer"]).stem) for pair in listed]


def polled(db: Database) -> list[Event]:
    report = poll_sources(db, select_sources(db, None))
    assert all(r.ok for r in report.results), [r.error for r in report.results]
    with db.session() as session:
        return list(
            session.exec(
                select(Event).where(col(Event.id).in_(report.event_ids)).order_by(col(Event.id))
            )
        )


@pytest.mark.parametrize("pair", pairs())
def test_a_new_version_yields_exactly_its_clause_changes(
    corpus: Path, db: Database, site: Site, pair: dict[str, Any]
) -> None:
    licenses = corpus / "licenses"
    older = (licenses / pair["older"]).read_text(encoding="utf-8")
    newer = (licenses / pair["newer"]).read_text(encoding="utf-8")
    # Served as the raw files of a repository are: plain text, hard-wrapped or Markdown.
    url = site.put("/LICENSE", older, content_type="text/plain; charset=utf-8")
    spec = catalog.checked(SourceSpec("page", url), db.settings)
    with db.session() as session:
        catalog.add(session, spec)
    assert [e.kind for e in polled(db)] == ["source.baselined"]
    site.put("/LICENSE", newer, content_type="text/plain; charset=utf-8")

    events = polled(db)

    added, removed = pair["clauses_added"], pair["clauses_removed"]
    expected = ["page.changed"]
    expected += ["disclosure.withheld"] if Path(pair["newer"]).stem in ACCESS_ON_REQUEST else []
    expected += ["license.terms_changed"] if added or removed else []
    assert [e.kind for e in events] == expected
    withheld = [e for e in events if e.kind == "disclosure.withheld"]
    assert all(e.data["dimensions"] == ["weights"] for e in withheld)
    for terms in (e for e in events if e.kind == "license.terms_changed"):
        assert (terms.data["clauses_added"], terms.data["clauses_removed"]) == (added, removed)
        assert terms.severity == ("warning" if added else "notice")
        assert terms.before is not None and terms.after is not None
        before, after = set(terms.before["clauses"]), set(terms.after["clauses"])
        assert after == (before | set(added)) - set(removed)
        assert terms.data["diff"].startswith("--- before\n+++ after\n@@")
