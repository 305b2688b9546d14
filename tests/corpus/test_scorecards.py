"""Real recorded Hub answers (corpus/hub) read as release facts: the info call a new model
costs answers with the fields a scorecard reads, and the scorecard names them as evidence."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracker.config import Settings
from tracker.detect.scorecard import ReleaseFacts, scorecard
from tracker.observations import RepoState, built_on_own
from tracker.sources.hubclient import RELEASE_EXPAND, HubClient

from ..fakehub import FakeHub, load_fixture
from .locate import files


@pytest.mark.parametrize("path", files("hub", "model_info.*.json"))
def test_a_recorded_model_reads_as_release_facts(
    path: Path, hub: FakeHub, settings: Settings
) -> None:
    body = load_fixture(path.name, path.parent)
    repo_id = hub.seed_fixture(path.name, directory=path.parent)

    info = HubClient(settings).release_info(repo_id)
    card = scorecard(ReleaseFacts.from_model_info(info or {}))

    assert info is not None
    assert set(info) == {"_id", "id"} | {k for k in RELEASE_EXPAND if k in body}
    assert card.status("architecture").evidence == (
        "config.architectures: " + ", ".join(body["config"]["architectures"])
    )
    assert card.status("model_size").evidence == (
        f"safetensors.total: {body['safetensors']['total']:,} parameters"
    )
    datasets = body["cardData"].get("datasets")
    assert card.status("data").status == ("disclosed" if datasets else "unknown")
    assert card.status("weights").status == (
        "withheld" if body["gated"] == "manual" else "disclosed"
    )


@pytest.mark.parametrize("path", files("hub", "model_info.*.json"))
def test_a_recorded_model_built_on_its_owners_base_is_no_release(
    path: Path, hub: FakeHub, settings: Settings
) -> None:
    body = load_fixture(path.name, path.parent)
    repo_id = hub.seed_fixture(path.name, directory=path.parent)
    owner = repo_id.split("/")[0]

    (listed,) = HubClient(settings).list_repos("model", owner)

    own_bases = [
        tag
        for tag in body["tags"]
        if tag.startswith("base_model:") and tag.split(":")[-1].split("/")[0] == owner
    ]
    assert isinstance(listed, RepoState)
    # An instruct model tagged with its own lab's base is that release's variant.
    assert built_on_own(listed) is bool(own_bases)
