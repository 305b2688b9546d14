"""Lineage: a base model with derivatives of every relation closes up, step by step.

The fake Hub's world is built from the Hub's recorded shapes: models name their base in
`cardData.base_model` (and `base_model_relation`), the Hub derives the `base_model:<id>` and
`base_model:<relation>:<id>` tags (a real recorded row carries both), a base's info answers
`childrenModelCount` by relation, and `/api/models?filter=base_model:<id>` lists what is
built on it. Each step asserts the exact events, their counts, and the Hub requests the
poll made.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tracker.config import Settings
from tracker.db import Database
from tracker.detect.lineage import Exposure, Node, closes_up
from tracker.events import EventDraft
from tracker.models import Event
from tracker.observations import Derivatives
from tracker.report import lineage_report
from tracker.sources import hub as hub_source

from .fakehub import FakeHub, fakehub_fixture
from .test_hub import add_hub, new_events, poll

BASE = "meta-llama/Llama-2-7b-hf"
CHAT = "meta-llama/Llama-2-7b-chat-hf"
# Watched derivatives (the acme org is watched too).
FT, LORA, GGUF, MERGE = "acme/llama-ft", "acme/llama-lora", "acme/llama-ft-GGUF", "acme/llama-merge"
CHAT_GGUF = "acme/chat-gguf"
# What else the Hub holds on the base: not watched, most downloaded first.
COMMUNITY = {
    "community/q-1": ("quantized", 900, "llama2"),
    "community/ft-1": ("finetune", 500, "mit"),
    "community/lora-1": ("adapter", 300, "llama2"),
    "community/ft-2": ("finetune", 50, "llama2"),
    "community/merge-1": ("merge", 10, "llama2"),
}
WATCHED_ON_BASE = sorted([CHAT, FT, LORA, MERGE], key=str.lower)
COUNTS = {"total": 9, "finetune": 4, "adapter": 2, "quantized": 1, "merge": 2}


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings) -> Iterator[FakeHub]:
    """A fake Hub serving whole pages (the Hub's 1,000 rows), so a listing is one request."""
    for running in fakehub_fixture(monkeypatch, tmp_path, page_size=1000):
        settings.hf_endpoint = running.endpoint
        yield running


@pytest.fixture
def world(hub: FakeHub) -> FakeHub:
    hub.add_repo("model", BASE, license="llama2", files=["config.json", "model.safetensors"])
    hub.add_repo("model", CHAT, license="llama2", base_model=BASE)
    hub.add_repo("model", FT, license="apache-2.0", base_model=BASE)
    hub.add_repo("model", LORA, license="llama2", base_model=BASE, files=["adapter_config.json"])
    hub.add_repo("model", GGUF, license="apache-2.0", base_model=FT, files=["q4.gguf"])
    hub.add_repo("model", CHAT_GGUF, license="llama2", base_model=CHAT, files=["q4.gguf"])
    hub.add_repo(
        "model", MERGE, license="llama2", base_model=[BASE, FT], base_model_relation="merge"
    )
    for repo_id, (relation, downloads, license_id) in COMMUNITY.items():
        hub.add_repo(
            "model",
            repo_id,
            license=license_id,
            downloads=downloads,
            base_model=BASE,
            base_model_relation=relation,
        )
    return hub


@pytest.fixture
def watched(db: Database, world: FakeHub) -> tuple[int, int]:
    """meta-llama and acme watched and baselined; the Hub's request log cleared."""
    ids = add_hub(db, "meta-llama"), add_hub(db, "acme")
    report = poll(db)
    assert [r.ok for r in report.results] == [True, True]
    # One listing page per author and type (models, data sets): nothing more at baseline.
    assert report.hub_requests == 4
    world.clear_requests()
    return ids


def events(db: Database, report: Any) -> dict[str, Event]:
    found = new_events(db, report)
    assert len({e.kind for e in found}) == len(found), [(e.kind, e.subject) for e in found]
    return {e.kind: e for e in found}


def listing_paths(hub: FakeHub) -> list[str]:
    return sorted(r.path for r in hub.requests)


def test_the_hub_derives_both_base_model_tags_from_the_card(world: FakeHub) -> None:
    tags = world.repo("model", FT)["tags"]

    assert f"base_model:{BASE}" in tags
    assert f"base_model:finetune:{BASE}" in tags
    assert f"base_model:adapter:{BASE}" in world.repo("model", LORA)["tags"]
    assert f"base_model:quantized:{FT}" in world.repo("model", GGUF)["tags"]
    assert world.children_count(BASE) == {k: v for k, v in COUNTS.items() if k != "total"}


def test_nothing_closed_costs_what_it_did_before(
    db: Database, world: FakeHub, watched: tuple[int, int]
) -> None:
    report = poll(db)

    assert report.event_ids == []
    assert report.hub_requests == 4
    assert listing_paths(world) == ["/api/datasets", "/api/datasets", "/api/models", "/api/models"]
    first = world.requests_to("/api/models")[0]
    assert first.query["limit"] == ["1000"]  # asked for explicitly


def test_a_base_that_closes_up_step_by_step_exposes_its_derivatives(
    db: Database, world: FakeHub, watched: tuple[int, int]
) -> None:
    meta, _acme = watched

    # Gated (auto): the cause, and beside it who is exposed.
    world.set_gated("model", BASE, "auto")
    report = poll(db)
    found = events(db, report)
    assert set(found) == {"access.gated", "lineage.exposed"}
    gated, exposed = found["access.gated"], found["lineage.exposed"]
    assert (exposed.subject, exposed.source_id, exposed.severity) == (BASE, meta, "warning")
    assert exposed.data["cause"] == "access.gated"
    assert exposed.data["cause_event_id"] == gated.id
    assert exposed.data["derivatives"] == COUNTS
    assert exposed.data["derivatives_counted_by"] == "hub"
    assert exposed.data["watched_derivatives"] == WATCHED_ON_BASE
    assert exposed.data["others"] == 5
    assert (
        exposed.title == f"{BASE} closed up (gated): 4 watched repos and 5 others are built on it"
    )
    assert exposed.data["summary"] == (
        "4 watched repos and 5 others are built on it "
        "(4 fine-tunes, 2 adapters, 1 quantization, 2 merges)"
    )
    top = exposed.data["top"]
    assert [t["id"] for t in top[:5]] == list(COMMUNITY)
    assert top[0] == {
        "id": "community/q-1",
        "relation": "quantized",
        "downloads": 900,
        "license": "llama2",
        "looser_license": False,
    }
    assert {w["id"]: w["relation"] for w in exposed.data["watched"]} == {
        CHAT: "finetune",
        FT: "finetune",
        LORA: "adapter",
        MERGE: "merge",
    }
    # A Llama fine-tune labelled apache-2.0, or mit: looser than its base.
    assert exposed.data["looser_licenses"] == [FT, "community/ft-1"]
    # The listings as always, then one info call (childrenModelCount) and one listing page
    # of the most downloaded derivatives.
    assert report.hub_requests == 6
    (children,) = world.requests_to(f"/api/models/{BASE}")
    assert children.query["expand"] == ["childrenModelCount"]
    derivatives = [r for r in world.requests_to("/api/models") if "filter" in r.query]
    assert [(r.query["filter"], r.query["sort"], r.query["limit"]) for r in derivatives] == [
        ([f"base_model:{BASE}"], ["downloads"], ["10"])
    ]

    # Gate made manual: exposed again, for that cause.
    world.clear_requests()
    world.set_gated("model", BASE, "manual")
    found = events(db, poll(db))
    assert set(found) == {"access.gate_changed", "lineage.exposed"}
    assert found["lineage.exposed"].data["cause"] == "access.gate_changed"
    assert found["lineage.exposed"].data["cause_event_id"] == found["access.gate_changed"].id

    # A gate that opens a little (manual → auto) exposes no one.
    world.set_gated("model", BASE, "auto")
    world.clear_requests()
    report = poll(db)
    assert {e.kind for e in new_events(db, report)} == {"access.gate_changed"}
    assert report.hub_requests == 4

    # Relicensed to a stricter class (restricted → non-commercial).
    world.update_repo("model", BASE, license="cc-by-nc-4.0")
    found = events(db, poll(db))
    assert set(found) == {"license.changed", "lineage.exposed"}
    assert found["lineage.exposed"].data["cause"] == "license.changed"
    assert found["lineage.exposed"].title.startswith(f"{BASE} closed up (license made stricter)")
    # Against a non-commercial base, every llama2 derivative is looser too.
    assert found["lineage.exposed"].data["looser_licenses"] == [
        FT, LORA, MERGE, CHAT, "community/q-1", "community/ft-1", "community/lora-1",
        "community/ft-2", "community/merge-1",
    ]  # fmt: skip

    # Relicensed back to a looser one: nobody is more exposed.
    world.update_repo("model", BASE, license="llama2")
    assert {e.kind for e in new_events(db, poll(db))} == {"license.changed"}

    # Withdrawn: the base cannot be asked, so the derivatives are counted from the
    # listing filtered by its tag (whole pages; complete here).
    world.remove_repo("model", BASE)
    world.clear_requests()
    report = poll(db)
    found = events(db, report)
    assert set(found) == {"repo.withdrawn", "lineage.exposed"}
    exposed = found["lineage.exposed"]
    assert exposed.data["cause_event_id"] == found["repo.withdrawn"].id
    assert exposed.data["derivatives"] == COUNTS
    assert exposed.data["derivatives_counted_by"] == "listing"
    assert exposed.data["watched_derivatives"] == WATCHED_ON_BASE
    # Listings, the info call confirming the withdrawal, one page of derivatives.
    assert report.hub_requests == 6
    derivatives = [r for r in world.requests_to("/api/models") if "filter" in r.query]
    assert [r.query["limit"] for r in derivatives] == [["1000"]]

    # Polling the same world again: nothing new, nothing twice, the cost of a quiet poll.
    world.clear_requests()
    report = poll(db)
    assert report.event_ids == []
    assert report.hub_requests == 4


def test_only_a_few_bases_per_poll_are_counted_on_the_hub(
    db: Database, world: FakeHub, watched: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hub_source, "MAX_LINEAGE_BASES", 1)
    world.set_gated("model", BASE, "manual")
    world.set_gated("model", CHAT, "manual")  # same source, same poll

    report = poll(db)

    exposed = {e.subject: e for e in new_events(db, report) if e.kind == "lineage.exposed"}
    assert set(exposed) == {BASE, CHAT}
    assert exposed[BASE].data["derivatives_counted_by"] == "hub"
    # The other is counted from the tracker's own graph, at no cost.
    assert exposed[CHAT].data["derivatives_counted_by"] == "watched"
    assert exposed[CHAT].data["derivatives"] == {"total": 1, "quantized": 1}
    assert exposed[CHAT].data["watched_derivatives"] == [CHAT_GGUF]
    assert exposed[CHAT].title == f"{CHAT} closed up (gated): 1 watched repo is built on it"
    assert report.hub_requests == 4 + 2


def test_a_base_nothing_is_built_on_exposes_no_one(
    db: Database, world: FakeHub, watched: tuple[int, int]
) -> None:
    world.set_gated("model", GGUF, "manual")

    report = poll(db)

    assert {e.kind for e in new_events(db, report)} == {"access.gated"}
    # childrenModelCount says none: no listing of derivatives is asked for.
    assert report.hub_requests == 4 + 1


def test_a_derivatives_events_say_what_it_is_built_on_and_flag_a_looser_license(
    db: Database, world: FakeHub, watched: tuple[int, int]
) -> None:
    world.commit("model", FT)

    (updated,) = [e for e in new_events(db, poll(db)) if e.kind == "repo.updated"]

    assert updated.subject == FT
    assert updated.data["lineage"] == {
        "bases": [
            {"id": BASE, "relation": "finetune", "license": "llama2", "license_class": "restricted"}
        ],
        "license_class": "open",
        "looser_than_base": [BASE],
    }


def test_the_report_shows_the_tree_below_a_base_and_the_bases_above_a_derivative(
    db: Database, world: FakeHub, watched: tuple[int, int], cli: Any
) -> None:
    world.set_gated("model", BASE, "manual")
    poll(db)

    below = json.loads(cli("report", "lineage", BASE, "--json").stdout)
    above = json.loads(cli("report", "lineage", GGUF, "--json").stdout)

    assert (below["id"], below["watched"], below["license"]) == (BASE, True, "llama2")
    assert below["openness"] == {"license": "restricted", "access": "gated-manual"}
    assert below["bases"] == []
    assert [(d["id"], d["relation"], d["looser_than_base"]) for d in below["derivatives"]] == [
        (FT, "finetune", True),
        (LORA, "adapter", False),
        (MERGE, "merge", False),
        (CHAT, "finetune", False),
    ]
    ft = below["derivatives"][0]
    assert [(d["id"], d["relation"]) for d in ft["derivatives"]] == [
        (GGUF, "quantized"),
        (MERGE, "merge"),
    ]
    assert below["counts"]["watched"] == {
        "total": 4, "finetune": 2, "adapter": 1, "quantized": 0, "merge": 1,
    }  # fmt: skip
    # Each watched repo below it once (acme/llama-merge is under the base and under FT).
    assert below["counts"]["watched_descendants"] == len({FT, LORA, MERGE, CHAT, GGUF, CHAT_GGUF})
    hub_counts = below["counts"]["hub"]
    assert {k: hub_counts[k] for k in COUNTS} == COUNTS
    assert hub_counts["counted_by"] == "hub"
    assert below["looser_licenses"] == [{"id": FT, "license": "apache-2.0", "base": BASE}]

    assert [(b["id"], b["relation"]) for b in above["bases"]] == [(FT, "quantized")]
    (root,) = above["bases"][0]["bases"]
    assert (root["id"], root["relation"], root["watched"]) == (BASE, "finetune", True)
    assert root["derivative_looser"] is True  # acme/llama-ft (apache-2.0) over llama2
    assert above["looser_licenses"] == [{"id": FT, "license": "apache-2.0", "base": BASE}]

    text = cli("report", "lineage", BASE)
    assert text.code == 0
    assert "built on it: 4 watched (finetune 2 · adapter 1 · quantized 0 · merge 1)" in text.stdout
    assert "on the Hub: 9 when it closed up" in text.stdout
    assert f"looser license: {FT} (apache-2.0) is built on {BASE}" in text.stdout


def test_the_report_of_an_unknown_repo_is_empty_and_a_bad_name_is_refused(
    db: Database, cli: Any
) -> None:
    empty = json.loads(cli("report", "lineage", "nobody/nothing", "--json").stdout)
    bad = cli("report", "lineage", "not-a-repo")

    assert (empty["watched"], empty["bases"], empty["derivatives"]) == (False, [], [])
    assert empty["counts"]["hub"] is None
    assert bad.code == 2
    assert "OWNER/REPO" in bad.stderr


def test_a_card_edge_that_disappears_is_dropped_from_the_graph(
    db: Database, world: FakeHub, watched: tuple[int, int]
) -> None:
    world.update_repo("model", LORA, base_model=[], tags=[])
    poll(db)

    with db.read() as session:
        report = lineage_report(session, BASE)

    assert LORA not in [d["id"] for d in report["derivatives"]]


# ----------------------------------------------------------------- the pure part


def cause(kind: str = "access.gated", **data: Any) -> EventDraft:
    openness = {
        "before": {"license": "restricted", "access": "public"},
        "after": {"license": "restricted", "access": "gated-manual"},
    }
    return EventDraft(
        kind=kind,
        subject=BASE,
        title="t",
        fingerprint="model@3",
        after={"gated": "manual"},
        data={"repo_type": "model", "openness": openness, **data},
    )


def test_an_alert_says_how_many_watched_repos_and_about_how_many_others() -> None:
    watched = tuple(Node(f"lab/ft-{n}", "finetune") for n in range(31))
    counts = {"finetune": 2900, "adapter": 1500, "quantized": 431, "merge": 31}
    exposure = Exposure(cause(), "restricted", watched, Derivatives(counts=counts))

    event = exposure.event(7)

    assert event is not None
    assert event.title == (
        f"{BASE} closed up (gated): 31 watched repos and about 4,800 others are built on it"
    )
    assert event.data["derivatives"] == {"total": 4862, **counts}
    assert event.data["others"] == 4831
    assert (event.data["cause"], event.data["cause_event_id"]) == ("access.gated", 7)
    assert event.fingerprint == "access.gated@model@3"


def test_a_listing_cut_short_gives_a_lower_bound() -> None:
    found = Derivatives(
        listed=3000, complete=False, by_relation={"finetune": 2000, "adapter": 1000}
    )

    event = Exposure(cause("repo.withdrawn"), "restricted", (), found).event(None)

    assert event is not None
    assert event.title == f"{BASE} closed up (withdrawn): at least 3,000 repos are built on it"
    assert event.data["derivatives_counted_by"] == "listing_partial"
    assert event.data["derivatives"] == {
        "total": 3000, "finetune": 2000, "adapter": 1000, "quantized": 0, "merge": 0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("event", "closing"),
    [
        (cause("access.gated"), True),
        (replace(cause("access.gate_changed"), after={"gated": "manual"}), True),
        (replace(cause("access.gate_changed"), after={"gated": "auto"}), False),
        (cause("repo.withdrawn"), True),
        (cause("content.withdrawn", reason="files_removed"), True),
        (cause("access.ungated"), False),
        (cause("repo.updated"), False),
        # License classes: restricted → non-commercial closes, restricted → open does not.
        (
            cause(
                "license.changed",
                openness={
                    "before": {"license": "restricted"},
                    "after": {"license": "non-commercial"},
                },
            ),
            True,
        ),
        (
            cause(
                "license.changed",
                openness={"before": {"license": "restricted"}, "after": {"license": "open"}},
            ),
            False,
        ),
        # The terms kinds close a base up when clauses were added (the contract's key).
        (cause("access.terms_changed", clauses_added=["geo_exclusion"]), True),
        (cause("license.terms_changed", clauses_added=[], clauses_removed=["user_cap"]), False),
        # Data sets and Spaces have no derivatives on the Hub.
        (cause("access.gated", repo_type="dataset"), False),
    ],
)
def test_what_closes_a_base_up(event: EventDraft, closing: bool) -> None:
    assert closes_up(event) is closing
