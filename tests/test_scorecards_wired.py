"""Disclosure scorecards, wired into polls: a Hub author's releases, release posts from a
feed, a technical report watched as a PDF page, and `tracker report disclosure`.

The fake Hub's info answers follow huggingface_hub's ModelInfo: `cardData`, `config`,
`safetensors` as SafeTensorsInfo (`{"parameters": {dtype: count}, "total": n}`),
`siblings` (`[{"rfilename"}]`), `gated`, and `model-index` at the top level, as the
recorded answers in ../shared/corpus/hub carry it. Card, post and report texts are the
project's own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
import sqlalchemy as sa
from huggingface_hub import ModelInfo
from sqlmodel import select

from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.config import Settings
from tracker.db import Database
from tracker.detect.releases import (
    Release,
    card_from_row,
    dimensions_of,
    is_release_post,
    previous_of,
    regressed,
    score_releases,
)
from tracker.detect.scorecard import ReleaseFacts, scorecard
from tracker.disclosure import DIMENSIONS, rules_for
from tracker.models import Event, ReleaseScorecard, table
from tracker.report import disclosure_report
from tracker.sources import hub as hub_source
from tracker.sources.hubclient import RELEASE_EXPAND

from .fakehub import FakeHub, fakehub_fixture
from .pdfs import pdf
from .polling import poll
from .sites import Site
from .test_hub import add_hub, new_events

LAB = "example-lab"
BASE, RICH, BARE, GGUF = (
    f"{LAB}/Base-1",
    f"{LAB}/Example-7B",
    f"{LAB}/Example-Next",
    f"{LAB}/Example-7B-GGUF",
)
WEIGHTS = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]

RICH_README = """---
license: apache-2.0
---
# Example-7B

Example-7B is a decoder-only transformer with 32 layers.

## Training Procedure

We pre-trained it on next-token prediction, then applied supervised fine-tuning and direct
preference optimization on our instruction mixture.
"""
BASE_README = """# Base-1

Base-1 is the first model of the lab, a decoder-only transformer.
"""
BARE_README = """# Example-Next

Example-Next is our newest assistant model. It is available only through our API.
This card contains no evaluation results, and the training data is not disclosed.
"""
GGUF_README = "# Example-7B-GGUF\n\nQuantized files of Example-7B.\n"

# The contract's GPT-4 sentence, set over lines as a report's column breaks it.
GPT4_LINES = [
    "Given both the competitive landscape and the safety implications of large-scale models",
    "like GPT-4, this report contains no further details about the architecture (including",
    "model size), hardware, training compute, dataset construction, training method, or sim-",
    "ilar.",
]
GPT4_SIX = ["architecture", "model_size", "hardware", "compute", "data", "training_method"]


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Settings) -> Iterator[FakeHub]:
    """A fake Hub serving whole pages (the Hub's 1,000 rows): a listing is one request."""
    for running in fakehub_fixture(monkeypatch, tmp_path, page_size=1000):
        settings.hf_endpoint = running.endpoint
        yield running


def kept(db: Database) -> list[dict[str, Any]]:
    """The kept scorecards, in the order they were written."""
    with db.read() as session:
        rows = session.execute(sa.select(table(ReleaseScorecard)).order_by("id")).mappings()
        return [dict(row) for row in rows]


def by_kind(events: list[Event]) -> dict[str, list[Event]]:
    found: dict[str, list[Event]] = {}
    for event in events:
        found.setdefault(event.kind, []).append(event)
    return found


def add_rich(hub: FakeHub) -> None:
    hub.add_repo(
        "model",
        RICH,
        license="apache-2.0",
        createdAt="2025-03-01T10:00:00.000Z",
        files=[".gitattributes", "README.md", "config.json", *WEIGHTS],
        config={"architectures": ["ExampleForCausalLM"], "model_type": "example"},
        parameters={"BF16": 7_241_732_096},
        cardData={
            "license": "apache-2.0",
            "datasets": [f"{LAB}/web-mix", f"{LAB}/code-mix"],
            "co2_eq_emissions": {"emissions": 125000, "hardware_used": "512 H100 GPUs"},
        },
        **{
            "model-index": [
                {
                    "name": "Example-7B",
                    "results": [
                        {
                            "task": {"type": "text-generation"},
                            "dataset": {"type": "mmlu", "name": "MMLU"},
                            "metrics": [{"type": "accuracy", "value": 64.1}],
                        }
                    ],
                }
            ]
        },
    )
    hub.set_readme("model", RICH, RICH_README)


def add_bare_and_derivative(hub: FakeHub) -> None:
    hub.add_repo(
        "model",
        BARE,
        gated="manual",
        license="other",
        createdAt="2025-09-01T10:00:00.000Z",
        files=[".gitattributes", "README.md"],
    )
    hub.set_readme("model", BARE, BARE_README)
    # The lab's own quantized files of Example-7B: a bare card, and no release.
    hub.add_repo(
        "model",
        GGUF,
        license="apache-2.0",
        base_model=RICH,
        createdAt="2025-09-02T10:00:00.000Z",
        files=[".gitattributes", "README.md", "example-7b.Q4_K_M.gguf"],
    )
    hub.set_readme("model", GGUF, GGUF_README)


@pytest.fixture
def lab(db: Database, hub: FakeHub) -> int:
    """A watched lab with one model, baselined: the baseline reads no release facts."""
    hub.add_repo(
        "model",
        BASE,
        license="apache-2.0",
        createdAt="2025-01-10T10:00:00.000Z",
        files=[".gitattributes", "README.md", "config.json", "model.safetensors"],
        config={"architectures": ["ExampleForCausalLM"], "model_type": "example"},
        parameters={"F32": 1_100_000_000},
        cardData={"license": "apache-2.0", "datasets": [f"{LAB}/web-mix"]},
    )
    hub.set_readme("model", BASE, BASE_README)
    source_id = add_hub(db, LAB)
    report = poll(db)
    assert report.hub_requests == 2  # one listing page of models, one of data sets
    assert kept(db) == []
    hub.clear_requests()
    return source_id


def release_paths(hub: FakeHub) -> list[str]:
    return [r.path for r in hub.requests if r.path not in ("/api/models", "/api/datasets")]


# --- the Hub ------------------------------------------------------------------------------


def test_a_new_model_is_scored_with_the_model_before_it(
    db: Database, hub: FakeHub, lab: int
) -> None:
    add_rich(hub)

    report = poll(db)

    events = by_kind(new_events(db, report))
    assert list(events) == ["model.published"]
    # The new model and the one before it: one info call and one README each.
    assert report.hub_requests == 2 + 4
    sha_rich, sha_base = hub.repo("model", RICH)["sha"], hub.repo("model", BASE)["sha"]
    assert release_paths(hub) == [
        f"/api/models/{RICH}",
        f"/{RICH}/resolve/{sha_rich}/README.md",
        f"/api/models/{BASE}",
        f"/{BASE}/resolve/{sha_base}/README.md",
    ]
    info_call = hub.requests_to(f"/api/models/{RICH}")[0]
    assert sorted(info_call.query["expand"]) == sorted(RELEASE_EXPAND)
    cards = {row["subject"]: row for row in kept(db)}
    assert set(cards) == {BASE, RICH}
    rich = cards[RICH]
    assert (rich["kind"], rich["author"], rich["score"], rich["source_id"]) == (
        "model",
        LAB,
        8,
        lab,
    )
    assert rich["published_at"] == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert rich["url"] == f"{hub.endpoint}/{RICH}"
    assert rich["dimensions"]["model_size"] == {
        "status": "disclosed",
        "evidence": "safetensors.total: 7,241,732,096 parameters",
    }
    assert rich["dimensions"]["architecture"]["evidence"] == (
        "config.architectures: ExampleForCausalLM"
    )
    assert rich["dimensions"]["evaluation"]["evidence"] == "model-index: Example-7B"
    # The model before: no emissions, no evaluation, no method: four of eight.
    base = cards[BASE]
    assert base["score"] == 4
    assert [d for d in DIMENSIONS if base["dimensions"][d]["status"] == "disclosed"] == [
        "architecture",
        "model_size",
        "data",
        "weights",
    ]
    assert base["published_at"] == datetime(2025, 1, 10, 10, tzinfo=UTC)


def test_a_bare_release_after_a_rich_one_regressed_and_a_derivative_costs_nothing(
    db: Database, hub: FakeHub, lab: int
) -> None:
    add_rich(hub)
    poll(db)
    hub.clear_requests()
    add_bare_and_derivative(hub)

    report = poll(db)

    events = by_kind(new_events(db, report))
    assert sorted(e.subject for e in events["model.published"]) == [GGUF, BARE]
    (event,) = events["disclosure.regressed"]
    assert event.subject == BARE
    assert event.severity == "warning"
    assert event.url == f"{hub.endpoint}/{BARE}"
    assert event.published_at == datetime(2025, 9, 1, 10, tzinfo=UTC)
    assert {k: event.data[k] for k in ("previous", "lost", "score_before", "score_after")} == {
        "previous": RICH,
        "lost": list(DIMENSIONS),
        "score_before": 8,
        "score_after": 0,
    }
    assert event.data["author"] == LAB
    assert event.data["withheld"] == ["data", "weights", "evaluation"]
    assert event.data["evidence"]["weights"] == (
        "gated: manual (each request is approved by the author)"
    )
    assert event.data["evidence"]["data"] == (
        "This card contains no evaluation results, and the training data is not disclosed."
    )
    assert event.data["repo_type"] == "model"
    assert event.data["openness"]["after"] == {"license": "unknown", "access": "gated-manual"}
    assert event.before == {"subject": RICH, "disclosed": list(DIMENSIONS)}
    assert event.after == {"subject": BARE, "disclosed": []}
    # The derivative: no info call, no README, no card. The bare release and the model
    # before it (read again: the fetch cannot see which cards are kept) cost two each.
    assert report.hub_requests == 2 + 4
    assert not [p for p in release_paths(hub) if GGUF in p]
    assert [row["subject"] for row in kept(db)] == [BASE, RICH, BARE]


def test_an_unchanged_world_reads_no_release_facts(db: Database, hub: FakeHub, lab: int) -> None:
    add_rich(hub)
    poll(db)
    hub.clear_requests()

    report = poll(db)

    assert report.event_ids == []
    assert report.hub_requests == 2
    assert release_paths(hub) == []


def test_at_most_twenty_new_models_a_poll_are_read(db: Database, hub: FakeHub, lab: int) -> None:
    for n in range(25):
        hub.add_repo("model", f"{LAB}/batch-{n:02d}", createdAt=f"2025-06-{n + 1:02d}T00:00:00Z")

    report = poll(db)

    infos = [p for p in release_paths(hub) if p.startswith("/api/models/")]
    assert len(infos) == hub_source.MAX_RELEASES == 20
    # The newest twenty; the model before them is one of the unread five, so none more.
    assert sorted(infos) == [f"/api/models/{LAB}/batch-{n:02d}" for n in range(5, 25)]
    assert report.hub_requests == 2 + 2 * 20
    assert len(by_kind(new_events(db, report))["model.published"]) == 25
    assert len(kept(db)) == 20


def test_a_429_stops_the_reading_and_keeps_what_was_read(
    db: Database, hub: FakeHub, lab: int
) -> None:
    add_rich(hub)
    newer = f"{LAB}/Example-9B"
    hub.add_repo("model", newer, createdAt="2025-04-01T10:00:00.000Z", files=["model.gguf"])
    hub.rate_limit_next(f"/api/models/{RICH}", resource="api")

    report = poll(db)

    assert report.results[0].ok
    assert len(by_kind(new_events(db, report))["model.published"]) == 2
    # Newest first: Example-9B is read and kept; the 429 on Example-7B ends the reading,
    # so neither it nor the model before them is scored.
    assert [p for p in release_paths(hub) if p.startswith("/api/")] == [
        f"/api/models/{newer}",
        f"/api/models/{RICH}",
    ]
    assert [row["subject"] for row in kept(db)] == [newer]


def test_the_fake_serves_release_fields_in_the_clients_shapes(hub: FakeHub) -> None:
    add_rich(hub)

    info = ModelInfo(**hub.repo("model", RICH))

    assert info.safetensors is not None
    assert (info.safetensors.total, info.safetensors.parameters) == (
        7_241_732_096,
        {"BF16": 7_241_732_096},
    )
    assert info.config == {"architectures": ["ExampleForCausalLM"], "model_type": "example"}
    assert info.model_index is not None and info.model_index[0]["name"] == "Example-7B"
    assert [s.rfilename for s in info.siblings or []][-2:] == WEIGHTS


# --- posts --------------------------------------------------------------------------------


def rss(*items: tuple[str, str, str, int]) -> str:
    """An RSS document; each item is (guid, title, text, day of November 2026)."""
    body = "".join(
        f"<item><title>{escape(title)}</title><link>https://lab.example/posts/{guid}</link>"
        f'<guid isPermaLink="false">{guid}</guid>'
        f"<pubDate>{format_datetime(datetime(2026, 11, day, 10, tzinfo=UTC), usegmt=True)}"
        f"</pubDate><description>{escape(f'<p>{text}</p>')}</description></item>"
        for guid, title, text, day in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Example Lab Blog</title><link>https://lab.example/</link>{body}"
        "</channel></rss>"
    )


HIRING = ("hiring", "We are hiring", "Join the team that builds our tools.", 2)
FIRST = (
    "example-7b",
    "Introducing Example-7B",
    "We release the weights of Example-7B, a decoder-only model with 7 billion parameters. "
    "It scores 64.1 on MMLU.",
    3,
)
OPEN = (
    "example-8b",
    "Example-8B is out",
    "We release the weights under Apache 2.0 and describe the architecture in the paper.",
    4,
)
CLOSED = (
    "example-pro",
    "Introducing Example Pro",
    "Example Pro is our most capable model, available only through our API. Its "
    "architecture and training data are not disclosed.",
    5,
)


def add_feed(db: Database, site: Site, *items: tuple[str, str, str, int]) -> tuple[int, str]:
    url = site.put("/feed.xml", rss(*items))
    spec = catalog.checked(SourceSpec("feed", url), db.settings)
    with db.session() as session:
        source_id = catalog.add(session, spec).id
    assert source_id is not None
    return source_id, url


def post_url(item: tuple[str, str, str, int]) -> str:
    return f"https://lab.example/posts/{item[0]}"


def test_release_posts_are_scored_and_a_withholding_one_regressed(db: Database, site: Site) -> None:
    source_id, _ = add_feed(db, site, HIRING)
    poll(db)
    site.put("/feed.xml", rss(HIRING, FIRST))
    poll(db)
    site.put("/feed.xml", rss(HIRING, FIRST, OPEN))

    opened = poll(db)

    # An open release saying less than the post before it withholds nothing: no event.
    assert [e.kind for e in new_events(db, opened)] == ["post.published"]
    site.put("/feed.xml", rss(HIRING, FIRST, OPEN, CLOSED))

    closed = poll(db)

    events = by_kind(new_events(db, closed))
    assert sorted(events) == ["disclosure.regressed", "disclosure.withheld", "post.published"]
    (event,) = events["disclosure.regressed"]
    assert event.subject == post_url(CLOSED)
    assert {k: event.data[k] for k in ("previous", "lost", "score_before", "score_after")} == {
        "previous": post_url(OPEN),
        "lost": ["architecture", "weights"],
        "score_before": 2,
        "score_after": 0,
    }
    assert event.data["withheld"] == ["architecture", "data", "weights"]
    assert event.data["release_kind"] == "post"
    assert event.data["author"] == "Example Lab Blog"
    cards = {row["subject"]: row for row in kept(db)}
    assert set(cards) == {post_url(FIRST), post_url(OPEN), post_url(CLOSED)}  # not hiring
    open_card = cards[post_url(OPEN)]
    assert (open_card["kind"], open_card["score"], open_card["source_id"]) == ("post", 2, source_id)
    assert open_card["title"] == "Example-8B is out"
    assert [d for d in DIMENSIONS if open_card["dimensions"][d]["status"] == "withheld"] == []
    assert cards[post_url(FIRST)]["score"] == 4


def test_an_open_release_post_yields_no_withheld_and_no_regression(
    db: Database, site: Site
) -> None:
    add_feed(db, site, FIRST)
    poll(db)
    site.put("/feed.xml", rss(FIRST, OPEN))

    report = poll(db)

    assert [e.kind for e in new_events(db, report)] == ["post.published"]
    (row,) = [r for r in kept(db) if r["subject"] == post_url(OPEN)]
    statuses = {d: row["dimensions"][d]["status"] for d in DIMENSIONS}
    assert [d for d, s in statuses.items() if s == "disclosed"] == ["architecture", "weights"]
    assert "withheld" not in statuses.values()


# --- reports ------------------------------------------------------------------------------


def report_pdf(*paragraphs: list[str]) -> bytes:
    """A one-page report: the paragraphs' lines, a blank line after each."""
    return pdf([[line for p in paragraphs for line in [*p, ""]]], title="Example-2 Report")


DETAILED = [
    "Example-2 is a decoder-only transformer with 70 billion parameters, trained on 512",
    "H100 GPUs. It scores 81.2 on MMLU.",
]


def add_report(db: Database, site: Site, body: bytes) -> tuple[int, str]:
    url = site.put("/report.pdf", body, content_type="application/pdf")
    spec = catalog.checked(SourceSpec("page", url), db.settings)
    with db.session() as session:
        source_id = catalog.add(session, spec).id
    assert source_id is not None
    return source_id, url


def test_the_gpt4_sentence_in_a_pdf_report_withholds_six_dimensions(
    db: Database, site: Site
) -> None:
    source_id, url = add_report(db, site, report_pdf(["1 Scope"], GPT4_LINES))

    report = poll(db)

    assert [e.kind for e in new_events(db, report)] == ["source.baselined"]
    (row,) = kept(db)
    assert (row["kind"], row["subject"], row["version"], row["source_id"]) == (
        "report",
        url,
        "text@0",
        source_id,
    )
    withheld = [d for d in DIMENSIONS if row["dimensions"][d]["status"] == "withheld"]
    assert withheld == GPT4_SIX
    assert row["dimensions"]["architecture"]["evidence"].startswith(
        "Given both the competitive landscape"
    )
    assert row["dimensions"]["weights"]["status"] == "unknown"


def test_a_report_revised_to_say_less_regressed(db: Database, site: Site) -> None:
    _, url = add_report(db, site, report_pdf(["1 Introduction"], DETAILED))
    poll(db)
    site.put(
        "/report.pdf", report_pdf(["1 Introduction"], GPT4_LINES), content_type="application/pdf"
    )

    report = poll(db)

    events = by_kind(new_events(db, report))
    assert sorted(events) == ["disclosure.regressed", "disclosure.withheld", "page.changed"]
    (event,) = events["disclosure.regressed"]
    assert (event.subject, event.data["previous"]) == (url, url)
    assert event.data["lost"] == ["architecture", "model_size", "hardware", "evaluation"]
    assert (event.data["score_before"], event.data["score_after"]) == (4, 0)
    assert (event.data["release_kind"], event.data["version"]) == ("report", "text@1")
    assert [row["version"] for row in kept(db)] == ["text@0", "text@1"]


def test_a_report_watched_before_scorecards_compares_with_its_stored_text(
    db: Database, site: Site
) -> None:
    _, url = add_report(db, site, report_pdf(["1 Introduction"], DETAILED))
    poll(db)
    with db.session() as session:
        session.execute(sa.delete(table(ReleaseScorecard)))  # as stored by an older version
    site.put(
        "/report.pdf", report_pdf(["1 Introduction"], GPT4_LINES), content_type="application/pdf"
    )

    report = poll(db)

    (event,) = by_kind(new_events(db, report))["disclosure.regressed"]
    assert (event.data["previous"], event.data["score_before"]) == (url, 4)
    assert event.data["lost"] == ["architecture", "model_size", "hardware", "evaluation"]
    # The version before is kept too, from the stored text, dated when it was read.
    assert [row["version"] for row in kept(db)] == ["text@0", "text@1"]


# --- the report ---------------------------------------------------------------------------


def test_the_report_shows_each_authors_releases_over_time(
    db: Database, hub: FakeHub, lab: int, cli: Any
) -> None:
    add_rich(hub)
    poll(db)
    add_bare_and_derivative(hub)
    poll(db)
    with db.session() as session:
        (regressed_id,) = session.exec(
            select(Event.id).where(Event.kind == "disclosure.regressed")
        ).all()

    result = cli("report", "disclosure", "--json")

    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["dimensions"] == list(DIMENSIONS)
    (author,) = document["authors"]
    assert (author["author"], author["count"], author["latest_score"], author["regressions"]) == (
        LAB,
        3,
        0,
        1,
    )
    releases = author["releases"]
    assert [(r["subject"], r["kind"], r["score"]) for r in releases] == [
        (BASE, "model", 4),
        (RICH, "model", 8),
        (BARE, "model", 0),
    ]
    bare = releases[2]
    assert bare["published_at"] == "2025-09-01T10:00:00+00:00"
    assert bare["withheld"] == ["data", "weights", "evaluation"]
    assert bare["unknown"] == [
        "architecture",
        "model_size",
        "hardware",
        "compute",
        "training_method",
    ]
    assert bare["dimensions"]["weights"]["status"] == "withheld"
    assert bare["regressed"]["event_id"] == regressed_id
    assert bare["regressed"]["previous"] == RICH
    assert bare["regressed"]["lost"] == list(DIMENSIONS)
    assert releases[1]["regressed"] is None

    text = cli("report", "disclosure", "--author", "EXAMPLE-LAB")

    assert text.code == 0
    assert f"{LAB}: 3 releases" in text.stdout
    assert f"discloses less than {RICH} (8 → 0): lost architecture, model_size" in text.stdout
    assert "withheld weights: gated: manual" in text.stdout
    lines = [line for line in text.stdout.splitlines() if BARE in line and "2025-09-01" in line]
    assert lines and "0/8" in lines[0]
    none = cli("report", "disclosure", "--author", "nobody", "--json")
    assert json.loads(none.stdout) == {"dimensions": list(DIMENSIONS), "authors": []}
    empty = cli("report", "disclosure", "--author", "nobody")
    assert "No release scored yet for nobody" in empty.stdout


def test_the_report_function_filters_by_author(db: Database, hub: FakeHub, lab: int) -> None:
    add_rich(hub)
    poll(db)

    with db.read() as session:
        mine = disclosure_report(session, author=LAB.upper())
        other = disclosure_report(session, author="someone-else")

    assert [a["author"] for a in mine["authors"]] == [LAB]
    assert other["authors"] == []


# --- the pure rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "release"),
    [
        ("Introducing Example-7B\nOur new open model for code.", True),
        ("Example-8B is out\nWe release the weights under Apache 2.0.", True),
        ("Meet Example-2, a 70B model for long documents.", True),
        ("Example Pro\nIt is available only through our API.", True),
        ("Introducing Example Small 4", True),
        ("Sandpiper-2: a hybrid state-space model for Arabic", True),
        ("Navigate\nNavigate is our first model built for robots.", True),
        ("We are hiring\nJoin the team that builds our tools.", False),
        ("Introducing Loom\nWire demos together and inspect every step.", False),
        ("A year of open reasoning\nWhat we learnt from the community.", False),
        # A platform for models, a tutorial, a changelog: not releases.
        ("Introducing Foundry\nA system for enterprises to build their own AI models.", False),
        ("Kernels\nIt isn't magic: the skill mostly stops the model from guessing.", False),
        ("v2.1\nFixed the model picker on launch, added an open source license file.", False),
        ("Announcing the winners of 2026\nThe jury picked three teams.", False),
        ("introducing the lab at 10 am\nA tour of the new building.", False),
        # Withholding something that is no disclosure dimension does not make a release.
        ("Release notes\n" + "Fixed the sidebar. " * 200 + "The weights are not released.", False),
    ],
)
def test_which_posts_are_release_posts(text: str, release: bool) -> None:
    assert is_release_post(text, rules_for(None)) is release


def post(subject: str, text: str, day: int) -> ReleaseFacts:
    return ReleaseFacts.from_text(
        subject, text, author="Blog", published_at=datetime(2026, 11, day, tzinfo=UTC)
    )


def test_a_shorter_post_that_withholds_nothing_is_no_regression() -> None:
    rules = rules_for(None)
    before = scorecard(post("a", FIRST[2], 1), rules)
    after = scorecard(post("b", OPEN[2], 2), rules)

    assert after.score < before.score
    assert regressed(before, after) is None
    withheld = scorecard(post("c", CLOSED[2], 3), rules)
    event = regressed(after, withheld)
    assert event is not None and event.data["lost"] == ["architecture", "weights"]


def test_releases_are_compared_oldest_first_within_one_poll() -> None:
    rules = rules_for(None)
    releases = [
        Release(post("late", CLOSED[2], 5)),
        Release(post("early", OPEN[2], 4)),
    ]

    cards, events = score_releases(releases, [], rules=rules)

    assert [c.card.subject for c in cards] == ["early", "late"]
    assert [(e.subject, e.data["previous"]) for e in events] == [("late", "early")]


def test_a_report_is_compared_with_its_own_previous_version() -> None:
    rules = rules_for(None)

    def version(day: int, text: str) -> Any:
        facts = ReleaseFacts.from_text(
            "https://lab.example/r.pdf",
            text,
            author="Lab",
            published_at=datetime(2026, 11, day, tzinfo=UTC),
        )
        return scorecard(replace(facts, kind="report"), rules)

    first, second, third = version(1, "x"), version(2, " ".join(DETAILED)), version(3, "y")
    other_author_post = scorecard(post("p", FIRST[2], 2), rules)

    assert previous_of(third, [first, second, other_author_post]) == second
    assert previous_of(first, [second, third]) is None


def test_a_kept_card_reads_back_as_it_was() -> None:
    card = scorecard(post("a", FIRST[2], 1), rules_for(None))
    row = {
        "subject": card.subject,
        "author": card.author,
        "kind": card.kind,
        "url": None,
        "published_at": card.published_at,
        "dimensions": dimensions_of(card),
    }

    assert card_from_row(row) == card
    assert card_from_row(row | {"dimensions": {"weights": "odd"}}).score == 0
