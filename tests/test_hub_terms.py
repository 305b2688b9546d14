"""A Hub repo's terms, walked step by step against the fake Hub: its gate (read from the
`cardData` the listing already returns) through a prompt edit, added fields, an EU
exclusion and cosmetic edits; the page its card's `license_link` names through versions;
the bounded, validator-cached cost of reading those pages; the openness classes, the
terms report and the alerts that name each clause in words."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from tracker.alerts.messages import render_event
from tracker.db import Database
from tracker.detect.hub import detect_repos
from tracker.detect.hubterms import GATE_KEY, PAGE_KEY
from tracker.models import Item
from tracker.observations import HubSnapshot, RepoState
from tracker.openness import TERMS_KEY, classify
from tracker.report import openness_report
from tracker.sources import licensepages

from .fakehub import FakeHub
from .pdfs import pdf
from .polling import add_source, events_of, kinds, poll
from .sites import Site

NORTHWIND = "northwind-ai/Northwind-3-8B-Instruct"
AURORA = "aurora-labs/aurora-7b"
OUTPUTS_SENTENCE = (
    "You may not use the outputs of the Materials to train or improve any other large "
    "language model."
)
OUTPUTS = f"7. Outputs. {OUTPUTS_SENTENCE}"

# A gate of the project's own words: a short prompt and a few fields.
PROMPT = (
    "Aurora 7B is released under the Aurora Community Terms, last revised March 1, 2026.\n\n"
    "You may use, modify and share the model and build products with it.\n\n"
    "Requests are answered within a few days."
)
FIELDS = {"Name": "text", "Email": "text"}


def add_hub(db: Database, target: str) -> int:
    return add_source(db, "hub", target)


def state_of(db: Database, repo_id: str) -> dict[str, Any]:
    with db.session() as session:
        item = session.exec(select(Item).where(Item.key == f"model:{repo_id}")).one()
        return dict(item.data)


def edit_card(hub: FakeHub, repo_id: str, *, drop: tuple[str, ...] = (), **fields: Any) -> None:
    """A commit that edits the card's metadata (the Hub's cardData), as an author does."""
    card = dict(hub.repo("model", repo_id).get("cardData") or {})
    card.update(fields)
    for name in drop:
        card.pop(name, None)
    hub.commit("model", repo_id, cardData=card)


# ------------------------------------------------------------------------------- the gate


@pytest.fixture
def northwind(db: Database, hub: FakeHub) -> FakeHub:
    """The Northwind gated model (the project's fixture of a real gate's shape), polled once."""
    hub.seed_fixture("model_info.northwind-ai--Northwind-3-8B-Instruct.json")
    add_hub(db, "northwind-ai")
    assert kinds(db, poll(db)) == ["source.baselined"]
    return hub


@pytest.fixture
def aurora(db: Database, hub: FakeHub) -> FakeHub:
    """A gated model with a short prompt and two fields, polled once."""
    hub.add_repo(
        "model",
        AURORA,
        gated="auto",
        cardData={
            "license": "apache-2.0",
            "extra_gated_prompt": PROMPT,
            "extra_gated_fields": dict(FIELDS),
        },
        tags=["license:apache-2.0"],
    )
    add_hub(db, "aurora-labs")
    assert kinds(db, poll(db)) == ["source.baselined"]
    return hub


def test_the_baseline_records_the_gate_and_says_nothing(db: Database, northwind: FakeHub) -> None:
    gate = state_of(db, NORTHWIND)[GATE_KEY]

    assert gate["terms"]["clauses"] == ["user_cap", "attribution"]
    assert gate["eu_disallowed"] is True
    assert [f["type"] for f in gate["fields"]] == [
        "text", "text", "date_picker", "country", "text", "select", "ip_location", "checkbox"
    ]  # fmt: skip
    # The gate prompt is the license these cards carry: the openness classes read it.
    assert state_of(db, NORTHWIND)[TERMS_KEY]["clauses"] == ["user_cap", "attribution"]


def test_a_prompt_edit_that_adds_a_clause_is_a_stricter_gate_and_stricter_license_terms(
    db: Database, northwind: FakeHub
) -> None:
    prompt = northwind.repo("model", NORTHWIND)["cardData"]["extra_gated_prompt"]
    edit_card(
        northwind,
        NORTHWIND,
        extra_gated_prompt=prompt.replace(
            "### Northwind Accept", f"{OUTPUTS}\n### Northwind Accept"
        ),
    )

    updated, access, license_terms = events_of(db, poll(db))

    assert updated.kind == "repo.updated"
    assert access.kind == "access.terms_changed" and access.severity == "warning"
    assert access.subject == NORTHWIND
    assert access.data["clauses_added"] == ["output_restriction"]
    assert access.data["clauses_removed"] == []
    assert access.before["clauses"] == ["user_cap", "attribution"]
    assert access.after["clauses"] == ["user_cap", "attribution", "output_restriction"]
    assert access.before["fields"] == access.after["fields"]
    assert access.data["eu_disallowed"] == {"before": True, "after": True}
    assert access.data["prompt_changed"] is True
    assert access.data["diff"] == (
        f"--- before\n+++ after\n@@ -18,0 +18,2 @@\n+Outputs.\n+{OUTPUTS_SENTENCE}"
    )
    assert access.title == (
        f"Gate terms stricter: {NORTHWIND}: now forbids using outputs to train or improve "
        "other models"
    )
    assert license_terms.kind == "license.terms_changed" and license_terms.severity == "warning"
    assert license_terms.subject == NORTHWIND
    assert license_terms.data["terms_of"] == "gate_prompt"
    assert license_terms.data["clauses_added"] == ["output_restriction"]
    assert license_terms.before == {"clauses": ["user_cap", "attribution"]}
    assert license_terms.after == {"clauses": ["user_cap", "attribution", "output_restriction"]}


def test_a_clause_dropped_from_the_prompt_is_a_notice(db: Database, northwind: FakeHub) -> None:
    prompt = northwind.repo("model", NORTHWIND)["cardData"]["extra_gated_prompt"]
    cap = next(line for line in prompt.splitlines() if line.startswith("3. Large services"))
    edit_card(northwind, NORTHWIND, extra_gated_prompt=prompt.replace(cap + "\n", ""))

    _, access, license_terms = events_of(db, poll(db))

    assert (access.kind, access.severity) == ("access.terms_changed", "notice")
    assert (access.data["clauses_added"], access.data["clauses_removed"]) == ([], ["user_cap"])
    assert (license_terms.kind, license_terms.severity) == ("license.terms_changed", "notice")
    assert license_terms.data["changes"] == [
        "no longer requires a separate license above 500 million monthly active users"
    ]


def test_an_added_date_of_birth_then_the_ip_location_are_stricter_gates(
    db: Database, aurora: FakeHub
) -> None:
    edit_card(aurora, AURORA, extra_gated_fields=FIELDS | {"Date of birth": "date_picker"})

    _, access = events_of(db, poll(db))

    assert (access.kind, access.severity) == ("access.terms_changed", "warning")
    assert access.data["fields_added"] == [{"name": "Date of birth", "type": "date_picker"}]
    assert access.data["clauses_added"] == access.data["clauses_removed"] == []
    assert access.data["prompt_changed"] is False
    assert access.before["fields"] == [
        {"name": "Name", "type": "text"},
        {"name": "Email", "type": "text"},
    ]
    assert access.after["fields"] == [
        {"name": "Name", "type": "text"},
        {"name": "Email", "type": "text"},
        {"name": "Date of birth", "type": "date_picker"},
    ]
    assert access.data["changes"] == ["now asks for “Date of birth” (a date)"]

    edit_card(
        aurora,
        AURORA,
        extra_gated_fields=FIELDS | {"Date of birth": "date_picker", "geo": "ip_location"},
    )

    _, access = events_of(db, poll(db))

    assert (access.kind, access.severity) == ("access.terms_changed", "warning")
    assert access.data["fields_added"] == [{"name": "geo", "type": "ip_location"}]
    assert access.data["changes"] == ["now records the location of the requester's IP address"]


def test_an_eu_exclusion_is_a_stricter_gate_and_lifting_it_a_notice(
    db: Database, aurora: FakeHub
) -> None:
    edit_card(aurora, AURORA, extra_gated_eu_disallowed=True)

    _, access = events_of(db, poll(db))

    assert (access.kind, access.severity) == ("access.terms_changed", "warning")
    assert access.before["eu_disallowed"] is False and access.after["eu_disallowed"] is True
    assert access.data["eu_disallowed"] == {"before": False, "after": True}
    assert access.data["changes"] == ["now refuses requesters in the European Union"]

    edit_card(aurora, AURORA, drop=("extra_gated_eu_disallowed",))

    _, lifted = events_of(db, poll(db))

    assert (lifted.kind, lifted.severity) == ("access.terms_changed", "notice")
    assert lifted.data["eu_disallowed"] == {"before": True, "after": False}


def test_a_field_dropped_or_a_reworded_prompt_is_a_notice(db: Database, aurora: FakeHub) -> None:
    edit_card(aurora, AURORA, extra_gated_fields={"Name": "text"})

    _, dropped = events_of(db, poll(db))

    assert (dropped.kind, dropped.severity) == ("access.terms_changed", "notice")
    assert dropped.data["fields_removed"] == [{"name": "Email", "type": "text"}]

    edit_card(aurora, AURORA, extra_gated_prompt=PROMPT.replace("a few days", "a week"))

    _, reworded = events_of(db, poll(db))

    assert (reworded.kind, reworded.severity) == ("access.terms_changed", "notice")
    assert reworded.data["prompt_changed"] is True
    assert reworded.data["changes"] == ["the prompt text changed"]
    assert reworded.data["diff"] == (
        "--- before\n+++ after\n@@ -3,1 +3,1 @@\n-Requests are answered within a few days."
        "\n+Requests are answered within a week."
    )


def test_cosmetic_prompt_edits_yield_nothing_but_the_commit(db: Database, aurora: FakeHub) -> None:
    # Another date, other spacing, the paragraphs in another order, the fields reordered.
    cosmetic = (
        "Requests  are answered\nwithin a few days.\n\n"
        "Aurora 7B is released under the Aurora Community Terms, last revised June 9, 2026.\n\n"
        "You may use, modify and share the model and build products with it."
    )
    edit_card(
        aurora,
        AURORA,
        extra_gated_prompt=cosmetic,
        extra_gated_fields={"Email": "text", "Name": "text"},
    )

    assert kinds(db, poll(db)) == ["repo.updated"]


def test_an_ungated_repos_gate_settings_say_nothing(db: Database, aurora: FakeHub) -> None:
    aurora.set_gated("model", AURORA, False)
    assert kinds(db, poll(db)) == ["access.ungated"]

    edit_card(aurora, AURORA, extra_gated_fields=FIELDS | {"Date of birth": "date_picker"})

    assert kinds(db, poll(db)) == ["repo.updated"]


def test_a_gate_prompt_counts_in_the_license_class_only_while_gated() -> None:
    card = {"extra_gated_prompt": "You may use the model for non-commercial purposes only."}
    gated = RepoState("model", AURORA, gated="manual", license="apache-2.0", sha="a" * 40,
                      gate=card)  # fmt: skip
    snapshot = HubSnapshot(listed={gated.key: gated})

    detection = detect_repos({}, snapshot, baselined=False, endpoint="http://hub")
    assert classify(detection.upserts[gated.key]).license == "non-commercial"

    ungated = RepoState("model", AURORA, license="apache-2.0", sha="a" * 40, gate=card)
    detection = detect_repos({}, HubSnapshot(listed={ungated.key: ungated}), baselined=False,
                             endpoint="http://hub")  # fmt: skip
    assert classify(detection.upserts[ungated.key]).license == "open"


def test_the_openness_timeline_puts_a_gates_clauses_back_with_the_gate(
    db: Database, hub: FakeHub
) -> None:
    card = {"license": "apache-2.0", "extra_gated_prompt": "Non-commercial use only."}
    hub.add_repo("model", AURORA, gated="manual", cardData=card, tags=["license:apache-2.0"])
    add_hub(db, "aurora-labs")
    poll(db)
    hub.set_gated("model", AURORA, False)
    (ungated,) = events_of(db, poll(db))
    now = datetime.now(UTC)

    with db.session() as session:
        (report,) = openness_report(session, since=now - timedelta(days=7), now=now, points=1)

    assert ungated.data["openness"] == {
        "before": {"license": "non-commercial", "access": "gated-manual"},
        "after": {"license": "open", "access": "public"},
    }
    (_, then), (_, today) = report.timeline
    assert (then.license["non-commercial"], then.access["gated-manual"]) == (1, 1)
    assert (today.license["open"], today.access["public"]) == (1, 1)
    assert report.moves["opening"] == 1


def test_a_repo_gated_anew_reports_the_gating_not_the_terms(db: Database, hub: FakeHub) -> None:
    hub.add_repo("model", AURORA, cardData={"license": "apache-2.0"})
    add_hub(db, "aurora-labs")
    poll(db)
    hub.update_repo(
        "model",
        AURORA,
        gated="manual",
        cardData={"license": "apache-2.0", "extra_gated_prompt": PROMPT},
    )

    assert kinds(db, poll(db)) == ["access.gated"]


def test_an_unchanged_gate_and_license_page_rewrite_nothing(
    db: Database, aurora: FakeHub, site: Site
) -> None:
    url = serve_license(site, license_text(GRANT, CAP))
    edit_card(aurora, AURORA, license="other", license_link=url)
    poll(db)
    with db.session() as session:
        before = {i.key: (i.changed_at, i.data) for i in session.exec(select(Item))}

    assert poll(db).event_ids == []

    with db.session() as session:
        after = {i.key: (i.changed_at, i.data) for i in session.exec(select(Item))}
    assert after == before
    assert set(before[f"model:{AURORA}"][1]) >= {GATE_KEY, PAGE_KEY, TERMS_KEY}


def test_a_state_stored_before_gates_were_read_records_them_silently() -> None:
    card = {"extra_gated_prompt": "Use it for non-commercial purposes only."}
    repo = RepoState("model", AURORA, gated="manual", license="other", sha="a" * 40, gate=card)
    old = {"model:" + AURORA: repo.state() | {"status": "available", "rev": 3}}

    detection = detect_repos(
        old, HubSnapshot(listed={repo.key: repo}), baselined=True, endpoint="http://hub"
    )

    assert detection.events == []
    stored = detection.upserts[repo.key]
    assert stored[GATE_KEY]["terms"]["clauses"] == ["non_commercial"]
    assert stored[TERMS_KEY]["clauses"] == ["non_commercial"]


def test_a_stricter_gate_on_a_base_model_exposes_what_is_built_on_it(
    db: Database, aurora: FakeHub
) -> None:
    aurora.add_repo("model", "acme/aurora-7b-ft", base_model=AURORA, license="apache-2.0")
    add_hub(db, "acme")
    poll(db)
    edit_card(
        aurora,
        AURORA,
        extra_gated_prompt=PROMPT + "\n\nYou may use the model for non-commercial purposes only.",
    )

    events = events_of(db, poll(db))

    assert [e.kind for e in events] == [
        "repo.updated",
        "access.terms_changed",
        "license.terms_changed",
        "lineage.exposed",
    ]
    exposed = events[-1]
    assert exposed.subject == AURORA
    assert exposed.data["cause"] == "access.terms_changed"
    assert exposed.data["cause_event_id"] == events[1].id
    assert exposed.data["watched_derivatives"] == ["acme/aurora-7b-ft"]


# ------------------------------------------------------------------- license_link pages

GRANT = "Aurora Labs grants you a licence to use, copy, modify and share the Aurora models."
CAP = (
    "If your products or services have more than 700 million monthly active users, you must "
    "request a separate license from Aurora Labs."
)
NON_COMMERCIAL = "You may use the Aurora models for non-commercial purposes only."
WARRANTY = "The models are provided as is, without warranty of any kind."
MIT = (
    "MIT License\n\nCopyright (c) 2026 Aurora Labs\n\n"
    "Permission is hereby granted, free of charge, to any person obtaining a copy\n"
    'of this software and associated documentation files (the "Software"), to deal\n'
    "in the Software without restriction, including without limitation the rights\n"
    "to use, copy, modify, merge, publish, distribute, sublicense, and/or sell\n"
    "copies of the Software, and to permit persons to whom the Software is\n"
    "furnished to do so, subject to the following conditions:\n\n"
    "The above copyright notice and this permission notice shall be included in all\n"
    "copies or substantial portions of the Software.\n\n"
    'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR\n'
    "IMPLIED.\n"
)


def license_text(*paragraphs: str, revised: str = "March 1, 2026") -> str:
    return "\n\n".join(["AURORA MODEL LICENSE", f"Last revised: {revised}.", *paragraphs])


def serve_license(site: Site, text: str, path: str = "/aurora/LICENSE") -> str:
    return site.put(path, text, content_type="text/plain; charset=utf-8")


@pytest.fixture
def licensed(db: Database, hub: FakeHub, site: Site) -> str:
    """A model whose card names its license page by URL, polled once; the page's URL."""
    url = serve_license(site, license_text(GRANT, CAP, WARRANTY))
    hub.add_repo("model", AURORA, license="other", license_name="aurora-license", license_link=url)
    add_hub(db, "aurora-labs")
    assert kinds(db, poll(db)) == ["source.baselined"]
    return url


def test_the_license_page_is_read_at_the_baseline_without_an_event(
    db: Database, licensed: str, site: Site
) -> None:
    page = state_of(db, AURORA)[PAGE_KEY]

    assert page["url"] == licensed and page["link"] == licensed
    assert page["terms"]["clauses"] == ["user_cap"]
    assert page["etag"] == site.pages["/aurora/LICENSE"].etag_value
    # `license: other` with a recognised text is not `unknown` any more.
    assert state_of(db, AURORA)[TERMS_KEY]["clauses"] == ["user_cap"]
    with db.session() as session:
        (mix,) = openness_report(
            session, since=datetime(2020, 1, 1, tzinfo=UTC), now=datetime.now(UTC)
        )
    assert mix.today.license["restricted"] == 1 and mix.today.license["unknown"] == 0


def test_a_new_version_of_the_license_page_yields_its_clause_change(
    db: Database, hub: FakeHub, licensed: str, site: Site
) -> None:
    serve_license(site, license_text(GRANT, CAP, NON_COMMERCIAL, WARRANTY))
    hub.commit("model", AURORA)  # the card and the license are revised together

    updated, terms = events_of(db, poll(db))

    assert updated.kind == "repo.updated"
    assert (terms.kind, terms.severity) == ("license.terms_changed", "warning")
    assert terms.subject == AURORA
    assert terms.url == f"{hub.endpoint}/{AURORA}"
    assert terms.data["url"] == licensed and terms.data["terms_of"] == "license_link"
    assert terms.data["clauses_added"] == ["non_commercial"]
    assert terms.data["clauses_removed"] == []
    assert terms.before == {"clauses": ["user_cap"]}
    assert terms.after == {"clauses": ["non_commercial", "user_cap"]}
    assert terms.data["diff"] == f"--- before\n+++ after\n@@ -5,0 +5,1 @@\n+{NON_COMMERCIAL}"
    assert terms.data["openness"] == {
        "before": {"license": "restricted", "access": "public"},
        "after": {"license": "non-commercial", "access": "public"},
    }


def test_a_page_off_the_hub_is_checked_again_a_day_later_conditionally(
    db: Database, licensed: str, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert poll(db).requests == 2  # the listings alone (models, data sets): read just now
    monkeypatch.setattr(licensepages, "RECHECK", timedelta(0))

    unchanged = poll(db)

    assert unchanged.event_ids == []
    assert [h.status for h in site.hits_for("/aurora/LICENSE")] == [200, 304]
    assert unchanged.requests == 3  # the listings and one conditional request

    serve_license(site, license_text(GRANT, WARRANTY, revised="June 9, 2026"))
    (terms,) = events_of(db, poll(db))

    assert (terms.kind, terms.severity) == ("license.terms_changed", "notice")
    assert terms.data["clauses_removed"] == ["user_cap"]


def test_cosmetic_edits_of_the_license_page_yield_nothing(
    db: Database, hub: FakeHub, licensed: str, site: Site
) -> None:
    reflowed = license_text(WARRANTY, CAP.replace(" you ", "\nyou "), GRANT, revised="June 9, 2026")
    serve_license(site, reflowed + "\n\nQuestions? licensing@aurora.example")
    hub.commit("model", AURORA)

    assert kinds(db, poll(db)) == ["repo.updated"]


def test_an_open_license_page_yields_nothing_and_classes_the_repo_open(
    db: Database, hub: FakeHub, site: Site
) -> None:
    url = serve_license(site, MIT, "/aurora/MIT")
    hub.add_repo("model", AURORA, license="other", license_name="aurora", license_link=url)
    add_hub(db, "aurora-labs")
    poll(db)
    serve_license(site, MIT.replace("2026", "2027"), "/aurora/MIT")
    hub.commit("model", AURORA)

    assert kinds(db, poll(db)) == ["repo.updated"]
    state = state_of(db, AURORA)
    assert state[PAGE_KEY]["terms"]["clauses"] == []
    assert state[TERMS_KEY]["open_license"] == "mit"
    with db.session() as session:
        (mix,) = openness_report(
            session, since=datetime(2020, 1, 1, tzinfo=UTC), now=datetime.now(UTC)
        )
    assert mix.today.license == {"open": 1, "restricted": 0, "non-commercial": 0, "unknown": 0}


def test_a_license_published_as_a_pdf_is_read_for_its_clauses(
    db: Database, hub: FakeHub, site: Site
) -> None:
    wrapped = [
        "Aurora Labs grants you a licence to use, copy and share the Aurora models on the",
        "terms set out here.",
    ]
    url = site.put("/aurora/license.pdf", pdf([wrapped]), content_type="application/pdf")
    hub.add_repo("model", AURORA, license="other", license_link=url)
    add_hub(db, "aurora-labs")
    poll(db)
    added = [
        "You may use the Aurora models for non-commercial purposes only, and the outputs",
        "of the models may not be used to train or improve any other large language model.",
    ]
    site.put("/aurora/license.pdf", pdf([wrapped + added]), content_type="application/pdf")
    hub.commit("model", AURORA)

    _, terms = events_of(db, poll(db))

    assert (terms.kind, terms.severity) == ("license.terms_changed", "warning")
    assert terms.data["clauses_added"] == ["non_commercial", "output_restriction"]
    assert state_of(db, AURORA)[PAGE_KEY]["form"] == "pdf"


def test_a_repo_file_is_read_as_pdf_html_or_plain_text() -> None:
    document = pdf([["Aurora Labs grants you a licence to use the models."]])
    page = "<html><nav>Home</nav><main><p>Non-commercial use only.</p></main></html>"
    wrapped = "You may use the models\nfor non-commercial purposes\nonly.\n"

    as_pdf = licensepages.text_of(document, "application/octet-stream", "https://h/x/LICENSE")
    as_html = licensepages.text_of(page.encode(), "text/html", "https://h/x/terms")
    as_text = licensepages.text_of(wrapped.encode(), "text/plain", "https://h/x/LICENSE.md")

    assert (as_pdf.form, as_pdf.lines) == (
        "pdf", ("Aurora Labs grants you a licence to use the models.",)
    )  # fmt: skip
    assert (as_html.form, as_html.lines) == ("html", ("Non-commercial use only.",))
    assert (as_text.form, as_text.lines) == (
        "text", ("You may use the models for non-commercial purposes only.",)
    )  # fmt: skip


def test_a_license_file_in_the_repo_is_read_from_the_hub_at_its_head(
    db: Database, hub: FakeHub
) -> None:
    hub.add_repo("model", AURORA, license="other", license_name="aurora", license_link="LICENSE")
    hub.set_file("model", AURORA, "LICENSE", license_text(GRANT, WARRANTY))
    add_hub(db, "aurora-labs")
    poll(db)
    first = hub.repo("model", AURORA)["sha"]
    assert (
        state_of(db, AURORA)[PAGE_KEY]["url"] == f"{hub.endpoint}/{AURORA}/resolve/{first}/LICENSE"
    )

    hub.set_file("model", AURORA, "LICENSE", license_text(GRANT, NON_COMMERCIAL, WARRANTY))
    head = hub.commit("model", AURORA)
    _, terms = events_of(db, poll(db))

    assert (terms.kind, terms.data["clauses_added"]) == (
        "license.terms_changed",
        ["non_commercial"],
    )
    assert terms.data["url"] == f"{hub.endpoint}/{AURORA}/resolve/{head}/LICENSE"
    assert terms.data["link"] == "LICENSE"
    # A file at a commit never changes: without a new commit it is not asked for again.
    hub.clear_requests()
    assert poll(db).event_ids == []
    assert [r.path for r in hub.requests] == ["/api/models", "/api/datasets"]


def test_a_gated_repos_own_license_file_is_not_asked_for(db: Database, hub: FakeHub) -> None:
    # The Northwind card's license_link is `LICENSE`; a gated repo's files are refused to
    # the public (license pages are read without the token): asking would be a spent 401.
    hub.seed_fixture("model_info.northwind-ai--Northwind-3-8B-Instruct.json")
    hub.set_file("model", NORTHWIND, "LICENSE", license_text(GRANT))
    hub.add_user("watcher", "hf_watcher_token")
    db.settings.hf_token = "hf_watcher_token"
    add_hub(db, "northwind-ai")

    report = poll(db)

    assert hub.requests_to(f"/{NORTHWIND}/resolve/") == []
    assert report.hub_requests == 2  # the listings of models and data sets
    page = state_of(db, NORTHWIND)[PAGE_KEY]
    assert page["error"] == licensepages.GATED_FILES and page["permanent"] is True


def test_hub_files_a_card_names_are_read_without_the_token_and_refusals_kept(
    db: Database, hub: FakeHub
) -> None:
    # A card may name any file on the Hub: it is read as the public sees it, so no card
    # can have the tracker's token read a file into the event log.
    hub.add_repo("model", "other-lab/gated-base", gated="manual")
    hub.set_file("model", "other-lab/gated-base", "LICENSE", license_text(GRANT, CAP))
    link = f"{hub.endpoint}/other-lab/gated-base/blob/main/LICENSE"
    hub.add_repo("model", AURORA, license="other", license_link=link)
    hub.add_user("watcher", "hf_watcher_token")
    db.settings.hf_token = "hf_watcher_token"
    add_hub(db, "aurora-labs")
    poll(db)

    (read,) = hub.requests_to("/other-lab/gated-base/resolve/")
    assert (read.path, read.status) == ("/other-lab/gated-base/resolve/main/LICENSE", 401)
    assert "authorization" not in read.headers
    page = state_of(db, AURORA)[PAGE_KEY]
    assert page["error"] == "HTTP 401: the repo is gated, its files are refused"
    assert page["permanent"] is True and "terms" not in page

    hub.clear_requests()
    poll(db)

    assert hub.requests_to("/other-lab/gated-base/") == []  # a refusal waits a day


def test_license_pages_cost_a_bounded_few_requests_a_poll(
    db: Database, hub: FakeHub, site: Site
) -> None:
    for n in range(12):
        url = serve_license(
            site, license_text(GRANT, f"Model {n} may be used as set out here."), f"/licenses/{n}"
        )
        hub.add_repo("model", f"aurora-labs/model-{n}", license="other", license_link=url)
    # Five more repos share one page: one read serves them all.
    shared = serve_license(site, license_text(GRANT, CAP), "/licenses/shared")
    for n in range(5):
        hub.add_repo("model", f"aurora-labs/shared-{n}", license="other", license_link=shared)
    add_hub(db, "aurora-labs")
    listing = 10  # 17 models, two a page in the fake, and one page of data sets

    first, second, third = poll(db), poll(db), poll(db)

    assert [r.hub_requests for r in (first, second, third)] == [listing] * 3
    # At most ten pages a poll; the shared one once; nothing when nothing is due.
    assert [r.requests - listing for r in (first, second, third)] == [10, 3, 0]
    assert len(site.hits) == 13
    with db.session() as session:
        pages = [i.data.get(PAGE_KEY) for i in session.exec(select(Item))]
    assert all(p is not None and "terms" in p for p in pages)
    assert sum(p["url"] == shared for p in pages) == 5
    assert first.results[0].requests == listing + 10


def test_license_reads_wait_for_the_next_poll_once_the_budget_is_spent(
    db: Database, hub: FakeHub, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = serve_license(site, license_text(GRANT, CAP))
    hub.add_repo("model", AURORA, license="other", license_link=url)
    add_hub(db, "aurora-labs")
    with monkeypatch.context() as patched:
        patched.setattr(licensepages, "BUDGET_SECONDS", -1.0)
        poll(db)

    assert PAGE_KEY not in state_of(db, AURORA) and site.hits == []
    poll(db)
    assert state_of(db, AURORA)[PAGE_KEY]["terms"]["clauses"] == ["user_cap"]


def test_license_pages_go_through_the_private_network_guard(
    db: Database, hub: FakeHub, site: Site
) -> None:
    db.settings.allow_private_networks = False
    url = serve_license(site, license_text(GRANT, CAP))
    hub.add_repo("model", AURORA, license="other", license_link=url)
    add_hub(db, "aurora-labs")

    report = poll(db)

    assert report.results[0].ok
    page = state_of(db, AURORA)[PAGE_KEY]
    assert page["error"].startswith("refused:") and page["permanent"] is True
    assert "terms" not in page and site.hits_for("/aurora/LICENSE") == []


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("LICENSE", "{hub}/aurora-labs/aurora-7b/resolve/{sha}/LICENSE"),
        ("./docs/LICENSE.md", "{hub}/aurora-labs/aurora-7b/resolve/{sha}/docs/LICENSE.md"),
        (
            "{hub}/aurora-labs/aurora-7b/blob/main/LICENSE",
            "{hub}/aurora-labs/aurora-7b/resolve/main/LICENSE",
        ),
        (
            "/meta-llama/Llama-3.1-8B/blob/main/LICENSE",
            "{hub}/meta-llama/Llama-3.1-8B/resolve/main/LICENSE",
        ),
        ("https://Lab.example/terms#top", "https://lab.example/terms"),
        ("../LICENSE", None),
        ("{hub}/aurora-labs/aurora-7b/blob/main/../../../api/whoami-v2", None),
        ("mailto:legal@lab.example", None),
        ("javascript:alert(1)", None),
        ("", None),
    ],
)
def test_where_a_license_link_leads(link: str, expected: str | None) -> None:
    hub_endpoint, sha = "https://huggingface.co", "c" * 40
    repo = RepoState("model", AURORA, sha=sha, license_link=link)

    found = licensepages.resolve(link.format(hub=hub_endpoint), repo, hub_endpoint)

    want = expected.format(hub=hub_endpoint, sha=sha) if expected else None
    assert (found.url if found else None) == want


def test_a_repo_whose_license_got_stricter_moves_in_the_openness_report(
    db: Database, hub: FakeHub, site: Site
) -> None:
    url = serve_license(site, MIT, "/aurora/MIT")
    hub.add_repo("model", AURORA, license="other", license_name="aurora", license_link=url)
    add_hub(db, "aurora-labs")
    poll(db)
    serve_license(site, license_text(GRANT, NON_COMMERCIAL), "/aurora/MIT")
    hub.commit("model", AURORA)
    poll(db)
    now = datetime.now(UTC)

    with db.session() as session:
        (report,) = openness_report(session, since=now - timedelta(days=7), now=now, points=1)

    (_, mix_then), (_, mix_now) = report.timeline
    assert mix_then.license["open"] == 1 and mix_now.license["non-commercial"] == 1
    assert report.today.license["non-commercial"] == 1
    assert report.moves["closing"] == 1


# ---------------------------------------------------------------------------- the report


def test_report_terms_names_each_clause_with_its_evidence_and_since(
    cli, db: Database, northwind: FakeHub
) -> None:
    prompt = northwind.repo("model", NORTHWIND)["cardData"]["extra_gated_prompt"]
    edit_card(
        northwind,
        NORTHWIND,
        extra_gated_prompt=prompt + "\n" + OUTPUTS,
        extra_gated_fields={"First Name": "text", "Employer": "text"},
    )
    (access,) = [e for e in events_of(db, poll(db)) if e.kind == "access.terms_changed"]

    shown = cli("report", "terms", NORTHWIND)
    document = cli("report", "terms", NORTHWIND, "--json")

    assert shown.code == 0, shown.stderr
    assert "requires a separate license above 500 million monthly active users" in shown.stdout
    assert "forbids using outputs to train or improve other models" in shown.stdout
    assert f"event {access.id}" in shown.stdout
    report = json.loads(document.stdout)
    assert report["kind"] == "repo" and report["subject"] == NORTHWIND
    assert report["openness"] == {"license": "restricted", "access": "gated-manual"}
    assert [c["clause"] for c in report["clauses"]] == [
        "user_cap", "attribution", "output_restriction"
    ]  # fmt: skip
    license_page, gate = report["texts"]
    assert license_page["text"] == "license_link" and license_page["link"] == "LICENSE"
    assert gate["text"] == "gate_prompt" and gate["gated"] == "manual"
    assert gate["eu_disallowed"] is True
    by_clause = {c["clause"]: c for c in gate["clauses"]}
    assert by_clause["output_restriction"]["event_id"] == access.id
    assert by_clause["output_restriction"]["evidence"] == OUTPUTS_SENTENCE
    assert by_clause["user_cap"]["event_id"] is None  # there from the first reading
    assert by_clause["user_cap"]["since"] is not None
    fields = {f["name"]: f for f in gate["fields"]}
    assert fields["Employer"]["event_id"] == access.id
    assert fields["First Name"]["event_id"] is None


def test_report_terms_of_a_watched_page(cli, site: Site) -> None:
    url = site.put(
        "/terms",
        f"<main><p>{GRANT}</p><p>{NON_COMMERCIAL}</p></main>",
        content_type="text/html; charset=utf-8",
    )
    assert cli("sources", "add", "page", url).code == 0
    cli("poll")

    report = json.loads(cli("report", "terms", url, "--json").stdout)

    assert report["kind"] == "page"
    assert [(c["clause"], c["evidence"]) for c in report["clauses"]] == [
        ("non_commercial", NON_COMMERCIAL)
    ]


def test_report_terms_of_a_license_page_that_repos_name(cli, db: Database, licensed: str) -> None:
    report = json.loads(cli("report", "terms", licensed, "--json").stdout)

    assert report["kind"] == "license_page" and report["repos"] == [AURORA]
    assert [c["clause"] for c in report["clauses"]] == ["user_cap"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nobody/nothing", "no watched Hub repo nobody/nothing"),
        ("https://nowhere.example/terms", "no watched page or license page"),
        ("not a repo!", "invalid Hub target"),
    ],
)
def test_report_terms_of_what_is_not_watched_is_one_line(cli, target: str, message: str) -> None:
    result = cli("report", "terms", target)

    assert result.code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------------- the alerts


def test_an_alert_names_the_clause_in_words_with_its_sentence(
    db: Database, hub: FakeHub, licensed: str, site: Site
) -> None:
    hostile = "Commercial use needs our approval @everyone <!channel> [x](https://evil.example)."
    serve_license(site, license_text(GRANT, NON_COMMERCIAL.replace(".", ". ") + hostile, WARRANTY))
    hub.commit("model", AURORA)
    (terms,) = [e for e in events_of(db, poll(db)) if e.kind == "license.terms_changed"]

    text = render_event(terms, "text", sources={}, public_url="http://tracker.example")
    markdown = render_event(terms, "markdown", sources={}, public_url="http://tracker.example")
    html = render_event(terms, "html", sources={}, public_url="http://tracker.example")

    assert "now forbids commercial use\n  “" + NON_COMMERCIAL in text.body
    assert "**now forbids commercial use**\n> You may use the Aurora models for non" in (
        markdown.body
    )
    assert "<strong>now forbids commercial use</strong><br><q>You may use" in html.body
    for message in (text, markdown, html):
        assert "@everyone" not in message.body and "<!channel" not in message.body


def test_an_alert_of_a_cap_names_the_figure(db: Database, hub: FakeHub, site: Site) -> None:
    url = serve_license(site, license_text(GRANT, WARRANTY))
    hub.add_repo("model", AURORA, license="other", license_link=url)
    add_hub(db, "aurora-labs")
    poll(db)
    serve_license(site, license_text(GRANT, CAP, WARRANTY))
    hub.commit("model", AURORA)
    (terms,) = [e for e in events_of(db, poll(db)) if e.kind == "license.terms_changed"]

    message = render_event(terms, "text", sources={}, public_url="http://tracker.example")

    assert message.body.startswith(
        f"now requires a separate license above 700 million monthly active users\n  “{CAP}”"
    )
    assert terms.title == (
        f"License terms stricter: {AURORA} (license: {url}): now requires a separate license "
        "above 700 million monthly active users"
    )


def test_the_alert_sent_names_the_clause_in_words(cli, hub: FakeHub, site: Site, new_sink) -> None:
    sink = new_sink()
    url = serve_license(site, license_text(GRANT, WARRANTY))
    hub.add_repo("model", AURORA, license="other", license_link=url)
    assert cli("sources", "add", "hub", "aurora-labs").code == 0
    cli("poll")
    added = cli("subscriptions", "add", sink.url(), "--kind", "license.terms_changed")
    assert added.code == 0, added.stderr
    serve_license(site, license_text(GRANT, CAP, WARRANTY))
    hub.commit("model", AURORA)

    assert cli("poll").code == 0

    (request,) = sink.requests
    payload = request.payload
    assert payload["title"].startswith(f"License terms stricter: {AURORA}")
    assert (
        f"now requires a separate license above 700 million monthly active users\n  “{CAP}”"
    ) in payload["message"]
