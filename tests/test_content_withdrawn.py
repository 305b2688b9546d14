"""Hollowed-out repos: the Hub page stays up while its files go, or its card says it is gone.

A data set taken down for copyright (the Pile's Books3, LAION) usually keeps its page: the
files are deleted, or the card is rewritten to say it is defunct. The fake Hub serves
`siblings` as the Hub does (`[{"rfilename": ...}]`, at the revision asked for) and
`usedStorage` (an int, bytes) on a repo's own route, both as huggingface_hub 2.4.0 reads them
(`RepoSibling.rfilename`, `ModelInfo.used_storage`). Each step asserts the exact events and
the Hub requests the poll made.
"""

from __future__ import annotations

from typing import Any

import pytest

from tracker.db import Database
from tracker.detect.content import content_files, defunct_sentence
from tracker.models import Event

from .fakehub import FakeHub
from .test_hub import add_hub, new_events, poll

ORG = "pile-org"
PILE = f"{ORG}/the-pile"
DATA = ["data/books3.jsonl.zst", "data/train-00.jsonl.zst", "data/train-01.jsonl.zst"]
DEFUNCT_CARD = """---
license: other
---
# The Pile

This dataset is defunct: it was taken down following a DMCA takedown notice.
"""


def by_kind(events: list[Event]) -> dict[str, Event]:
    found = {e.kind: e for e in events}
    assert len(found) == len(events), [(e.kind, e.subject) for e in events]
    return found


def paths(hub: FakeHub) -> list[str]:
    return [r.path for r in hub.requests]


@pytest.fixture
def pile(db: Database, hub: FakeHub) -> FakeHub:
    """An org with one data set, watched and baselined; the request log cleared."""
    hub.add_repo(
        "dataset",
        PILE,
        license="other",
        files=[".gitattributes", "README.md", *DATA],
        usedStorage=825_000_000_000,
    )
    add_hub(db, ORG)
    assert poll(db).results[0].ok
    hub.clear_requests()
    return hub


def test_a_data_set_loses_its_files_then_its_card_says_it_is_defunct(
    db: Database, pile: FakeHub
) -> None:
    # The files go: one commit deletes every data file, the page stays up.
    pile.commit("dataset", PILE, files=[".gitattributes", "README.md"], usedStorage=4_000)

    report = poll(db)

    found = by_kind(new_events(db, report))
    assert set(found) == {"repo.updated", "content.withdrawn"}
    withdrawn = found["content.withdrawn"]
    assert (withdrawn.subject, withdrawn.severity) == (PILE, "warning")
    assert withdrawn.data["reason"] == "files_removed"
    assert withdrawn.before == {"content_files": 3, "files": 5}
    assert withdrawn.after == {"content_files": 0, "files": 2}
    assert withdrawn.data["summary"] == "3 data files → none (5 files → 2)"
    assert withdrawn.url == f"{pile.endpoint}/datasets/{PILE}"
    # Listings (models, data sets), the README, the files now, and the files at the head
    # last seen (no count of them was stored at the baseline).
    assert report.hub_requests == 2 + 3
    file_looks = pile.requests_to(f"/api/datasets/{PILE}")
    assert [r.path for r in file_looks] == [
        f"/api/datasets/{PILE}",
        f"/api/datasets/{PILE}/revision/{pile.history_of('dataset', PILE)[0]}",
    ]
    assert file_looks[0].query["expand"] == ["siblings", "usedStorage"]
    assert file_looks[1].query["expand"] == ["siblings"]

    # Then the card is rewritten to say the data set is gone.
    pile.clear_requests()
    pile.set_readme("dataset", PILE, DEFUNCT_CARD)
    pile.commit("dataset", PILE)

    report = poll(db)

    found = by_kind(new_events(db, report))
    assert set(found) == {"repo.updated", "content.withdrawn"}
    defunct = found["content.withdrawn"]
    assert defunct.data["reason"] == "marked_defunct"
    sentence = "This dataset is defunct: it was taken down following a DMCA takedown notice."
    assert (defunct.before, defunct.after) == (None, {"sentence": sentence})
    # The counts are stored now: one look at the files is enough.
    assert report.hub_requests == 2 + 2

    # Nothing new: nothing twice, and the cost of a quiet poll.
    pile.clear_requests()
    report = poll(db)
    assert report.event_ids == []
    assert paths(pile) == ["/api/models", "/api/datasets"]

    # A later commit that leaves the card as it is says nothing more.
    pile.commit("dataset", PILE)
    assert {e.kind for e in new_events(db, poll(db))} == {"repo.updated"}


def test_storage_that_falls_by_more_than_half_is_withdrawn_content(
    db: Database, hub: FakeHub
) -> None:
    repo = "lab/weights"
    shards = [f"model-0000{n}-of-00004.safetensors" for n in range(1, 5)]
    hub.add_repo("model", repo, license="apache-2.0", files=["config.json", *shards])
    add_hub(db, "lab")
    poll(db)
    # The first look at its files records them (and its storage).
    hub.commit("model", repo, usedStorage=16_000_000_000)
    assert {e.kind for e in new_events(db, poll(db))} == {"repo.updated"}

    hub.commit("model", repo, files=["config.json", shards[0]], usedStorage=4_000_000_000)
    found = by_kind(new_events(db, poll(db)))

    assert set(found) == {"repo.updated", "content.withdrawn"}
    dropped = found["content.withdrawn"]
    assert dropped.data["reason"] == "storage_dropped"
    assert (dropped.before, dropped.after) == (
        {"storage": 16_000_000_000},
        {"storage": 4_000_000_000},
    )
    assert dropped.data["summary"] == "storage 16.0 GB → 4.0 GB"


def test_a_new_commit_that_keeps_the_files_withdraws_nothing(db: Database, pile: FakeHub) -> None:
    pile.set_readme(
        "dataset", PILE, "# The Pile\n\nDuplicates have been removed from this version."
    )
    pile.commit("dataset", PILE, files=[".gitattributes", "README.md", *DATA, "data/extra.parquet"])

    assert {e.kind for e in new_events(db, poll(db))} == {"repo.updated"}


@pytest.mark.parametrize(
    ("card", "sentence"),
    [
        ("This repository is defunct.", "This repository is defunct."),
        (
            "The dataset has been removed due to copyright concerns.",
            "The dataset has been removed due to copyright concerns.",
        ),
        (
            "Books3 was taken down after a DMCA request from the Rights Alliance.",
            "Books3 was taken down after a DMCA request from the Rights Alliance.",
        ),
        (
            "This data is no longer available for download.",
            "This data is no longer available for download.",
        ),
        ("The model weights were withdrawn.", "The model weights were withdrawn."),
    ],
)
def test_cards_that_say_the_repo_is_gone(card: str, sentence: str) -> None:
    assert defunct_sentence(f"# Card\n\n{card}\n\nMore text.") == sentence


@pytest.mark.parametrize(
    "card",
    [
        "Duplicates have been removed and PII has been removed.",
        "If you hold rights to a work in this dataset and want it removed, please contact us.",
        "This model is no longer maintained; use the v2 release instead.",
        "Older versions are no longer available.",
        "Images may be taken down on request.",
        "---\ntags:\n- defunct-languages\n---\nA corpus of extinct languages.",
    ],
)
def test_cards_that_do_not(card: str) -> None:
    assert defunct_sentence(card) is None


@pytest.mark.parametrize(
    ("repo_type", "names", "expected"),
    [
        ("model", ["config.json", "model.safetensors", "tokenizer.model", "README.md"], 1),
        ("model", ["original/consolidated.00.pth", "q4_k_m.gguf", "onnx/model.onnx"], 3),
        ("model", [".gitattributes", "README.md", "config.json"], 0),
        ("dataset", [".gitattributes", "README.md", "LICENSE", "data/train.parquet"], 1),
        ("dataset", ["README.md", "the_pile.py", "docs/notes.md"], 1),
    ],
)
def test_which_files_hold_a_repos_substance(
    repo_type: str, names: list[str], expected: int
) -> None:
    assert content_files(repo_type, names) == expected


def test_a_base_model_emptied_of_its_weights_exposes_what_is_built_on_it(
    db: Database, hub: FakeHub
) -> None:
    base = "lab/base-7b"
    hub.add_repo("model", base, license="apache-2.0", files=["config.json", "model.safetensors"])
    hub.add_repo("model", "lab/base-7b-instruct", license="apache-2.0", base_model=base)
    add_hub(db, "lab")
    poll(db)
    hub.commit("model", base, files=["config.json"])

    found = by_kind(new_events(db, poll(db)))

    assert set(found) == {"repo.updated", "content.withdrawn", "lineage.exposed"}
    exposed = found["lineage.exposed"]
    assert exposed.data["cause"] == "content.withdrawn"
    assert exposed.data["cause_event_id"] == found["content.withdrawn"].id
    assert exposed.data["watched_derivatives"] == ["lab/base-7b-instruct"]
    assert exposed.data["derivatives"] == {
        "total": 1, "finetune": 1, "adapter": 0, "quantized": 0, "merge": 0,
    }  # fmt: skip


def test_a_readme_429_stops_readme_reads_not_listings_or_file_looks(
    db: Database, pile: FakeHub, monkeypatch: Any
) -> None:
    pile.set_readme("dataset", PILE, DEFUNCT_CARD)
    pile.rate_limit_next(f"/datasets/{ORG}/", reset=120, resource="resolvers")
    pile.commit("dataset", PILE, files=[".gitattributes", "README.md"])

    report = poll(db)

    (result,) = report.results
    assert result.ok, result.error
    found = by_kind(new_events(db, report))
    # The files were looked at (the API bucket is untouched); the card waits.
    assert found["content.withdrawn"].data["reason"] == "files_removed"
    assert [r.status for r in pile.requests if "/resolve/" in r.path] == [429]

    # The resolvers bucket stays blocked for this run of the client; a new poll run asks
    # again, and the card is read.
    pile.commit("dataset", PILE)
    found = by_kind(new_events(db, poll(db)))
    assert found["content.withdrawn"].data["reason"] == "marked_defunct"
