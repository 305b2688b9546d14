"""Real recorded Hub answers (corpus/hub): the fake Hub serves them as recorded, and the
tracker's Hub client reads them into the repo state detection works on."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tracker.config import Settings
from tracker.observations import BaseRef, Renamed, RepoState
from tracker.sources.hubclient import HubClient

from ..fakehub import DEFAULT_LIST_FIELDS, FakeHub, load_fixture
from .locate import files


def hub_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def expected_state(body: dict[str, Any], *, info: bool = False) -> RepoState:
    """What the body says, read directly: the tracker's reading must agree. `info`: as an
    info call reads it (with `usedStorage`, which listings do not serve)."""
    card = body.get("cardData") or {}
    relations = {
        tag.split(":")[2]: tag.split(":")[1]
        for tag in body["tags"]
        if tag.startswith("base_model:") and tag.count(":") == 2
    }
    return RepoState(
        type="model",
        id=body["id"],
        gated=body["gated"],
        license=card["license"],
        license_name=card.get("license_name"),
        license_link=card.get("license_link"),
        sha=body["sha"],
        private=body["private"],
        disabled=body["disabled"],
        created_at=hub_time(body["createdAt"]),
        last_modified=hub_time(body["lastModified"]),
        bases=tuple(BaseRef(base, relation) for base, relation in relations.items()),
        storage=body.get("usedStorage") if info else None,
    )


def model_bodies(corpus: Path) -> dict[str, dict[str, Any]]:
    """repo id -> recorded model_info body."""
    bodies = (load_fixture(p.name, p.parent) for p in (corpus / "hub").glob("model_info.*.json"))
    return {body["id"]: body for body in bodies}


def test_the_recordings_hold_a_gated_and_an_ungated_repo(corpus: Path) -> None:
    bodies = model_bodies(corpus).values()

    assert {body["gated"] for body in bodies} >= {False, "manual"}
    # The gate's settings travel in the card metadata, as the project's fixture models them.
    cards = [body["cardData"] for body in bodies if body["gated"]]
    assert any(
        isinstance(card.get("extra_gated_prompt"), str)
        and isinstance(card.get("extra_gated_fields"), dict)
        for card in cards
    )
    # The Hub mirrors the card's license in a tag.
    assert all(f"license:{body['cardData']['license']}" in body["tags"] for body in bodies)


@pytest.mark.parametrize("path", files("hub", "model_info.*.json"))
def test_recorded_info_is_served_as_recorded_and_read_into_repo_state(
    path: Path, hub: FakeHub, settings: Settings
) -> None:
    body = load_fixture(path.name, path.parent)
    repo_id = hub.seed_fixture(path.name, directory=path.parent)
    client = HubClient(settings)

    served = httpx.get(f"{hub.endpoint}/api/models/{repo_id}").json()
    state = client.info("model", repo_id)
    (listed,) = client.list_repos("model", repo_id.split("/")[0])

    assert served == body
    assert state == expected_state(body, info=True)
    assert listed == expected_state(body)
    assert state.visible


def test_the_default_listing_row_has_the_recorded_keys(corpus: Path, hub: FakeHub) -> None:
    rows = load_fixture("list_models.default_fields.json", corpus / "hub")
    hub.add_repo("model", "acme/m", pipeline_tag="text-generation", library_name="transformers")

    (row,) = httpx.get(f"{hub.endpoint}/api/models").json()

    assert rows
    assert all(list(recorded) == list(DEFAULT_LIST_FIELDS["model"]) for recorded in rows)
    assert list(row) == list(DEFAULT_LIST_FIELDS["model"])


@pytest.mark.parametrize("path", files("hub", "redirect_307*.json"))
def test_recorded_307_is_answered_alike_and_followed_as_a_rename(
    path: Path, hub: FakeHub, settings: Settings, corpus: Path
) -> None:
    exchanges = json.loads(path.read_text(encoding="utf-8"))["exchanges"]
    request, redirect = exchanges[0]["request"], exchanges[0]["response"]
    asked = urlsplit(request["uri"])
    old_id = asked.path.removeprefix("/api/models/")
    new_id = urlsplit(redirect["headers"]["Location"]).path.removeprefix("/api/models/")
    target = model_bodies(corpus).get(new_id, {})
    extra = {k: v for e in exchanges[1:] for k, v in e["response"]["body"].items()}
    hub.add_repo("model", old_id, **{**target, **extra, "id": old_id, "modelId": old_id})
    hub.rename(old_id, new_id)

    answer = httpx.get(f"{hub.endpoint}{asked.path}", params=asked.query or None)
    result = HubClient(settings).info("model", old_id)

    assert answer.status_code == redirect["status"] == 307
    assert answer.headers["Location"] == redirect["headers"]["Location"]
    assert answer.headers["Content-Type"] == redirect["headers"]["Content-Type"]
    assert answer.text == redirect["body"]
    for exchange in exchanges[1:]:
        followed = httpx.get(f"{hub.endpoint}{redirect['headers']['Location']}")
        assert followed.status_code == exchange["response"]["status"]
        assert followed.json() == exchange["response"]["body"]
    assert isinstance(result, Renamed)
    assert (result.old_id, result.new.id) == (old_id, new_id)
    if target:
        assert result.new == expected_state(target, info=True)


def test_a_recorded_derivative_names_its_base_by_its_tags_not_an_old_card_name(
    corpus: Path, hub: FakeHub, settings: Settings
) -> None:
    derivatives = {
        repo_id: body
        for repo_id, body in model_bodies(corpus).items()
        if any(tag.startswith("base_model:") for tag in body["tags"])
    }
    assert derivatives, "the recordings hold a model built on another"
    for repo_id, body in derivatives.items():
        named = [t.removeprefix("base_model:") for t in body["tags"] if t.startswith("base_model:")]
        # The Hub tags the base twice: by id, and by relation and id.
        plain = [n for n in named if ":" not in n]
        with_relation = [n.split(":", 1) for n in named if ":" in n]
        assert plain and [base for _, base in with_relation] == plain
        hub.seed_fixture(f"model_info.{repo_id.replace('/', '--')}.json", directory=corpus / "hub")

        state = HubClient(settings).info("model", repo_id)

        assert isinstance(state, RepoState)
        assert [(b.id, b.relation, b.origin) for b in state.bases] == [
            (base, relation, "tags") for relation, base in with_relation
        ]
        # The card may still use the base's name before a rename; the tags have the new one.
        card_base = body["cardData"].get("base_model")
        if card_base and card_base not in plain:
            assert card_base not in [b.id for b in state.bases]
