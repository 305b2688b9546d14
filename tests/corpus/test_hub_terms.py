"""Real licenses as a Hub repo's terms: the Llama license versions (corpus/licenses/versions)
as the page a card's `license_link` names, and the real Llama 3.1 gate (corpus/hub) through
a prompt edit. Each step yields exactly the events the corpus labels call for."""

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

from ..fakehub import FakeHub
from ..sites import Site
from .locate import CORPUS

REPO = "meta-llama/Llama-walk"
GATED = "meta-llama/Llama-3.1-8B-Instruct"


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


def watch(db: Database, target: str) -> None:
    spec = catalog.checked(SourceSpec("hub", target), db.settings)
    with db.session() as session:
        catalog.add(session, spec)
    assert [e.kind for e in polled(db)] == ["source.baselined"]


def version(corpus: Path, name: str) -> str:
    return (corpus / "licenses" / "versions" / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("pair", pairs())
def test_a_license_page_s_new_version_yields_exactly_its_clause_changes(
    corpus: Path, db: Database, hub: FakeHub, site: Site, pair: dict[str, Any]
) -> None:
    licenses = corpus / "licenses"
    url = site.put(
        "/LICENSE",
        (licenses / pair["older"]).read_text(encoding="utf-8"),
        content_type="text/plain; charset=utf-8",
    )
    hub.add_repo("model", REPO, license="other", license_name="llama", license_link=url)
    watch(db, "meta-llama")
    site.put(
        "/LICENSE",
        (licenses / pair["newer"]).read_text(encoding="utf-8"),
        content_type="text/plain; charset=utf-8",
    )
    hub.commit("model", REPO)

    events = polled(db)

    added, removed = pair["clauses_added"], pair["clauses_removed"]
    expected = ["repo.updated"] + (["license.terms_changed"] if added or removed else [])
    assert [e.kind for e in events] == expected
    for terms in events[1:]:
        assert terms.subject == REPO and terms.data["url"] == url
        assert (terms.data["clauses_added"], terms.data["clauses_removed"]) == (added, removed)
        assert terms.severity == ("warning" if added else "notice")
        assert set(terms.after["clauses"]) == (set(terms.before["clauses"]) | set(added)) - set(
            removed
        )


def test_a_repo_s_license_file_walks_through_the_llama_versions(
    corpus: Path, db: Database, hub: FakeHub
) -> None:
    hub.add_repo("model", REPO, license="other", license_name="llama", license_link="LICENSE")
    hub.set_file("model", REPO, "LICENSE", version(corpus, "llama2-community@2023-07-18.txt"))
    watch(db, "meta-llama")
    steps = [
        # (the new text, the events, the clauses added and removed)
        ("llama2-community@2023-07-21.txt", ["repo.updated"], None),
        ("llama-community-license@2.txt", ["repo.updated"], None),
        (
            "llama-community-license@3.txt",
            ["repo.updated", "license.terms_changed"],
            (["attribution", "naming_requirement"], [], "warning"),
        ),
        (
            "llama-community-license@3.1.txt",
            ["repo.updated", "license.terms_changed"],
            ([], ["output_restriction"], "notice"),
        ),
    ]
    for name, kinds, change in steps:
        hub.set_file("model", REPO, "LICENSE", version(corpus, name))
        head = hub.commit("model", REPO)

        events = polled(db)

        assert [e.kind for e in events] == kinds, name
        if change is not None:
            terms = events[1]
            added, removed, severity = change
            assert (terms.data["clauses_added"], terms.data["clauses_removed"]) == (
                added,
                removed,
            ), name
            assert terms.severity == severity
            assert terms.data["url"] == f"{hub.endpoint}/{REPO}/resolve/{head}/LICENSE"
    assert terms.after == {
        "clauses": ["user_cap", "attribution", "naming_requirement", "aup_incorporated",
                    "termination"]
    }  # fmt: skip


def test_the_real_llama_gate_through_a_prompt_edit(
    corpus: Path, db: Database, hub: FakeHub
) -> None:
    hub.seed_fixture("model_info.meta-llama--Llama-3.1-8B-Instruct.json", directory=corpus / "hub")
    watch(db, "meta-llama")
    card = dict(hub.repo("model", GATED)["cardData"])
    # The gate goes back to the Llama 3 license, which forbids using outputs to improve
    # other models.
    card["extra_gated_prompt"] = version(corpus, "llama-community-license@3.txt")
    hub.commit("model", GATED, cardData=card)

    events = polled(db)

    assert [e.kind for e in events] == [
        "repo.updated",
        "access.terms_changed",
        "license.terms_changed",
    ]
    _, access, terms = events
    for event in (access, terms):
        assert event.severity == "warning"
        assert (event.data["clauses_added"], event.data["clauses_removed"]) == (
            ["output_restriction"],
            [],
        )
    assert access.before["fields"] == access.after["fields"]
    assert access.data["eu_disallowed"] == {"before": False, "after": False}
    assert access.data["openness"]["after"] == {"license": "restricted", "access": "gated-manual"}
    assert terms.data["terms_of"] == "gate_prompt"
