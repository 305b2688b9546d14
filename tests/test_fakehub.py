"""The fake Hub, checked with the real huggingface_hub client and against the Hub's shapes
(tests/fixtures/hub; tests/corpus does the same against real recorded answers).

Each test states one behaviour of the real Hub (or of the client talking to it) that other
tests rely on when they use `tests.fakehub.FakeHub`.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from huggingface_hub import HfApi, ModelInfo
from huggingface_hub.errors import (
    BadRequestError,
    DisabledRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.hf_api import (
    ExpandDatasetProperty_T,
    ExpandModelProperty_T,
    ExpandSpaceProperty_T,
)
from huggingface_hub.utils import _http as hf_http

from .fakehub import DEFAULT_LIST_FIELDS, EXPAND_PROPERTIES, FakeHub, fakehub_fixture, load_fixture

GATED_FIXTURE = "model_info.northwind-ai--Northwind-3-8B-Instruct.json"
UNGATED_FIXTURE = "model_info.northwind-ai--encoder-base-uncased.json"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    """A running fake Hub (3 rows a page) with huggingface_hub pointed at it."""
    yield from fakehub_fixture(monkeypatch, tmp_path, page_size=3)


@pytest.fixture
def api(hub: FakeHub) -> HfApi:
    """An anonymous client of the fake Hub."""
    return HfApi(endpoint=hub.endpoint, token=False)


@pytest.fixture
def backoff_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the client's retry sleeps instead of waiting them out."""
    sleeps: list[float] = []
    monkeypatch.setattr(hf_http, "time", SimpleNamespace(sleep=sleeps.append))
    return sleeps


def raw_get(hub: FakeHub, path: str, **params: typing.Any) -> httpx.Response:
    """One request to the fake, redirects not followed."""
    return httpx.get(f"{hub.endpoint}{path}", params=params or None, follow_redirects=False)


def add_acme_models(hub: FakeHub, count: int = 7) -> list[str]:
    """`count` public acme models with varied gating and licences, plus noise around them."""
    gating: list[typing.Any] = [False, "auto", "manual"]
    ids = []
    for i in range(count):
        repo_id = f"acme/model-{i}"
        license_fields = (
            {"license": "other", "license_name": "acme-research", "license_link": "LICENSE.md"}
            if i % 2
            else {"license": "apache-2.0"}
        )
        hub.add_repo("model", repo_id, gated=gating[i % 3], likes=i, **license_fields)
        ids.append(repo_id)
    hub.add_repo("model", "other/model", license="mit")
    hub.add_repo("model", "acme/secret", private=True)
    return ids


# --------------------------------------------------------------------------- the contract


@pytest.mark.parametrize(
    ("repo_type", "literal"),
    [
        ("model", ExpandModelProperty_T),
        ("dataset", ExpandDatasetProperty_T),
        ("space", ExpandSpaceProperty_T),
    ],
)
def test_fake_accepts_exactly_the_expand_values_the_client_declares(
    repo_type: str, literal: typing.Any
) -> None:
    assert set(typing.get_args(literal)) == EXPAND_PROPERTIES[repo_type] - {"xetEnabled"}


def test_default_model_row_has_the_hubs_default_keys(hub: FakeHub) -> None:
    shape = load_fixture("list_models.default_fields.json")
    hub.add_repo("model", "acme/m", pipeline_tag="text-generation", library_name="transformers")

    row = raw_get(hub, "/api/models").json()[0]

    assert list(row) == list(shape[0]) == list(DEFAULT_LIST_FIELDS["model"])


def test_seeded_info_answers_the_body_as_given(hub: FakeHub) -> None:
    body = load_fixture(UNGATED_FIXTURE)
    hub.seed_fixture(UNGATED_FIXTURE)

    assert raw_get(hub, "/api/models/northwind-ai/encoder-base-uncased").json() == body


def test_legacy_id_answers_like_the_hubs_307(hub: FakeHub) -> None:
    (exchange,) = load_fixture("redirect_307.legacy-id.json")["exchanges"]
    expected = exchange["response"]
    record = {**load_fixture(UNGATED_FIXTURE), "id": "encoder-base-uncased"}
    hub.add_repo("model", "encoder-base-uncased", **record)
    hub.rename("encoder-base-uncased", "northwind-ai/encoder-base-uncased")

    answer = raw_get(hub, "/api/models/encoder-base-uncased")

    assert answer.status_code == expected["status"] == 307
    assert answer.headers["Location"] == expected["headers"]["Location"]
    assert answer.headers["Content-Type"] == expected["headers"]["Content-Type"]
    assert answer.text == expected["body"]


def test_rename_answers_like_the_hubs_307(hub: FakeHub) -> None:
    exchanges = load_fixture("redirect_307_expand.renamed-repo.json")["exchanges"]
    redirect, target = (exchange["response"] for exchange in exchanges)
    old_id = "northwind-ai/Northwind-3.0-8B-Instruct"
    new_id = "northwind-ai/Northwind-3-8B-Instruct"
    record = {**load_fixture(GATED_FIXTURE), "id": old_id, "modelId": old_id}
    mapping = target["body"]["inferenceProviderMapping"]
    hub.add_repo("model", old_id, **record, inferenceProviderMapping=mapping)
    hub.rename(old_id, new_id)

    first = raw_get(hub, f"/api/models/{old_id}", expand="inferenceProviderMapping")
    second = raw_get(hub, first.headers["Location"])

    assert first.status_code == redirect["status"] == 307
    assert first.headers["Location"] == redirect["headers"]["Location"]
    assert first.text == redirect["body"]
    assert second.json() == target["body"]


# --------------------------------------------------------------------------- listings


def test_list_models_returns_every_expanded_model_across_pages(hub: FakeHub, api: HfApi) -> None:
    ids = add_acme_models(hub)
    expand: list[ExpandModelProperty_T] = ["gated", "cardData", "sha", "lastModified"]

    models = list(api.list_models(author="acme", expand=expand))

    records = [hub.repo("model", repo_id) for repo_id in ids]
    expected = [
        ModelInfo(**{"_id": r["_id"], "id": r["id"], **{k: r[k] for k in expand}, "siblings": None})
        for r in records
    ]
    assert models == expected
    assert [m.card_data.to_dict() for m in models] == [r["cardData"] for r in records]
    assert [m.gated for m in models] == [False, "auto", "manual", False, "auto", "manual", False]
    pages = hub.requests_to("/api/models")
    assert len(pages) == 3
    assert all(page.query["expand"] == expand for page in pages)
    assert [page.page for page in pages] == [1, 2, 3]


def test_expand_returns_only_the_requested_properties(hub: FakeHub) -> None:
    add_acme_models(hub, count=1)

    row = raw_get(hub, "/api/models", author="acme", expand=["gated", "sha"]).json()[0]

    assert set(row) == {"_id", "id", "gated", "sha"}


def test_link_header_is_absolute_and_keeps_the_query(hub: FakeHub) -> None:
    add_acme_models(hub)

    link = raw_get(hub, "/api/models", author="acme", expand="gated").headers["Link"]

    assert link.startswith(f"<{hub.endpoint}/api/models?author=acme&expand=gated&cursor=")
    assert link.endswith('>; rel="next"')


def test_unknown_expand_value_is_a_bad_request(hub: FakeHub, api: HfApi) -> None:
    add_acme_models(hub, count=1)

    with pytest.raises(BadRequestError) as raised:
        list(api.list_models(author="acme", expand=["bogus"]))  # type: ignore[list-item]

    assert raised.value.response.status_code == 400
    assert "bogus" in raised.value.response.json()["error"]


def test_limit_caps_the_page_and_the_client_stops_early(hub: FakeHub, api: HfApi) -> None:
    add_acme_models(hub)

    models = list(api.list_models(author="acme", limit=2))

    assert [m.id for m in models] == ["acme/model-0", "acme/model-1"]
    assert len(hub.requests_to("/api/models")) == 1


def test_sort_is_descending_across_pages(hub: FakeHub, api: HfApi) -> None:
    add_acme_models(hub)

    models = list(api.list_models(author="acme", sort="likes"))

    assert [m.likes for m in models] == [6, 5, 4, 3, 2, 1, 0]


def test_cursor_is_a_keyset_so_deleting_a_seen_repo_skips_nothing(hub: FakeHub, api: HfApi) -> None:
    ids = add_acme_models(hub)
    listing = iter(api.list_models(author="acme"))
    seen = [next(listing).id for _ in range(3)]

    hub.remove_repo("model", seen[0])
    seen += [m.id for m in listing]

    assert seen == ids


def test_card_data_and_full_flags_widen_the_default_row(hub: FakeHub, api: HfApi) -> None:
    add_acme_models(hub, count=1)

    [with_card] = api.list_models(author="acme", cardData=True)
    [full] = api.list_models(author="acme", full=True)

    assert with_card.card_data is not None
    assert with_card.card_data.to_dict() == {"license": "apache-2.0"}
    assert with_card.sha is None
    assert full.sha == hub.repo("model", "acme/model-0")["sha"]
    assert [r.query.get("cardData") or r.query.get("full") for r in hub.requests] == [
        ["true"],
        ["true"],
    ]


def test_search_filter_and_gated_narrow_the_listing(hub: FakeHub, api: HfApi) -> None:
    add_acme_models(hub)

    assert [m.id for m in api.list_models(search="MODEL-1")] == ["acme/model-1"]
    assert [m.id for m in api.list_models(filter="license:mit")] == ["other/model"]
    assert [m.id for m in api.list_models(author="acme", gated=True)] == [
        "acme/model-1",
        "acme/model-2",
        "acme/model-4",
        "acme/model-5",
    ]


def test_listings_of_datasets_and_spaces(hub: FakeHub, api: HfApi) -> None:
    hub.add_repo("dataset", "acme/data", gated="auto", license="cc-by-4.0", description="d")
    hub.add_repo("space", "acme/demo", sdk="docker")

    [dataset] = api.list_datasets(author="acme")
    [space] = api.list_spaces(author="acme", expand=["sdk", "private"])

    assert (dataset.gated, dataset.tags) == ("auto", ["license:cc-by-4.0"])
    assert (space.sdk, space.private) == ("docker", False)
    assert api.dataset_info("acme/data").card_data.license == "cc-by-4.0"
    assert api.space_info("acme/demo").sdk == "docker"


# --------------------------------------------------------------------------- repo info


def test_missing_repo_is_a_401_repository_not_found(hub: FakeHub, api: HfApi) -> None:
    with pytest.raises(RepositoryNotFoundError) as raised:
        api.model_info("acme/nothing")

    response = raised.value.response
    assert response.status_code == 401
    assert response.headers["X-Error-Code"] == "RepoNotFound"
    assert response.json() == {"error": "Invalid username or password."}


def test_removed_repo_disappears(hub: FakeHub, api: HfApi) -> None:
    add_acme_models(hub, count=2)
    hub.remove_repo("model", "acme/model-0")

    with pytest.raises(RepositoryNotFoundError):
        api.model_info("acme/model-0")
    assert [m.id for m in api.list_models(author="acme")] == ["acme/model-1"]


def test_private_repo_is_visible_only_to_its_owner(hub: FakeHub, api: HfApi) -> None:
    add_acme_models(hub, count=1)
    hub.set_private("model", "acme/model-0")
    hub.add_user("acme-bot", "hf_owner", orgs=["acme"])
    hub.add_user("mallory", "hf_other")

    with pytest.raises(RepositoryNotFoundError):
        api.model_info("acme/model-0")
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("acme/model-0", token="hf_other")
    assert [m.id for m in api.list_models(author="acme")] == []
    assert api.model_info("acme/model-0", token="hf_owner").private is True
    assert {m.id for m in api.list_models(author="acme", token="hf_owner")} == {
        "acme/model-0",
        "acme/secret",
    }


def test_unknown_token_is_rejected_not_reported_as_missing_repo(hub: FakeHub, api: HfApi) -> None:
    add_acme_models(hub, count=1)

    with pytest.raises(HfHubHTTPError) as raised:
        api.model_info("acme/model-0", token="hf_unknown")

    assert not isinstance(raised.value, RepositoryNotFoundError)
    assert raised.value.response.status_code == 401


def test_disabled_repo_raises_disabled_repo_error(hub: FakeHub, api: HfApi) -> None:
    add_acme_models(hub, count=1)
    hub.disable("model", "acme/model-0")

    with pytest.raises(DisabledRepoError) as raised:
        api.model_info("acme/model-0")

    assert raised.value.response.status_code == 403
    [row] = api.list_models(author="acme", expand=["disabled"])
    assert row.disabled is True


def test_gated_repo_metadata_is_readable(hub: FakeHub, api: HfApi) -> None:
    hub.seed_fixture(GATED_FIXTURE)
    add_acme_models(hub, count=2)

    manual = api.model_info("northwind-ai/Northwind-3-8B-Instruct")
    auto = api.model_info("acme/model-1")

    assert manual.card_data is not None
    card = manual.card_data.to_dict()
    assert (manual.gated, card["license"], card["license_name"]) == (
        "manual",
        "other",
        "northwind-community",
    )
    assert card["extra_gated_eu_disallowed"] is True
    assert "Country" in card["extra_gated_fields"]
    assert "license:other" in manual.tags
    assert auto.gated == "auto"
    assert auto.card_data.to_dict() == {
        "license": "other",
        "license_name": "acme-research",
        "license_link": "LICENSE.md",
    }
    assert "license:other" in auto.tags


def test_model_info_follows_a_rename(hub: FakeHub, api: HfApi) -> None:
    add_acme_models(hub, count=1)
    hub.rename("acme/model-0", "acme-labs/model-0")

    info = api.model_info("acme/model-0", expand=["author", "sha"])

    assert (info.id, info.author) == ("acme-labs/model-0", "acme-labs")
    assert [(r.status, r.path) for r in hub.requests] == [
        (307, "/api/models/acme/model-0"),
        (200, "/api/models/acme-labs/model-0"),
    ]


def test_commit_changes_sha_and_old_revisions_still_resolve(hub: FakeHub, api: HfApi) -> None:
    first_sha = hub.add_repo("model", "acme/m")["sha"]
    new_sha = hub.commit("model", "acme/m", last_modified="2025-06-01T12:00:00.000Z")

    assert api.model_info("acme/m").sha == new_sha
    assert api.model_info("acme/m", revision=first_sha).sha == first_sha
    assert api.model_info("acme/m").last_modified.isoformat() == "2025-06-01T12:00:00+00:00"
    with pytest.raises(RevisionNotFoundError):
        api.model_info("acme/m", revision="v9")


# --------------------------------------------------------------------------- faults


def test_model_info_does_not_retry_a_500(hub: FakeHub, api: HfApi) -> None:
    add_acme_models(hub, count=1)
    hub.fail_next("/api/models/acme/", status=500)

    with pytest.raises(HfHubHTTPError) as raised:
        api.model_info("acme/model-0")

    assert raised.value.response.status_code == 500
    assert api.model_info("acme/model-0").id == "acme/model-0"


def test_listing_retries_transient_errors_with_backoff(
    hub: FakeHub, api: HfApi, backoff_sleeps: list[float]
) -> None:
    ids = add_acme_models(hub)
    hub.fail_page("/api/models", page=2, status=503, times=2)

    assert [m.id for m in api.list_models(author="acme")] == ids
    assert backoff_sleeps == [1, 2]


def test_failing_page_surfaces_after_the_clients_retries(
    hub: FakeHub, api: HfApi, backoff_sleeps: list[float]
) -> None:
    ids = add_acme_models(hub)
    hub.fail_page("/api/models", page=2, status=500)
    listing = iter(api.list_models(author="acme"))
    seen = [next(listing).id for _ in range(3)]

    with pytest.raises(HfHubHTTPError) as raised:
        next(listing)

    assert raised.value.response.status_code == 500
    assert seen == ids[:3]
    # 1 try + 5 retries; 23 s of real backoff (1+2+4+8+8) that this test does not wait for.
    assert backoff_sleeps == [1, 2, 4, 8, 8]
    assert [r.page for r in hub.requests_to("/api/models")] == [1, 2, 2, 2, 2, 2, 2]


def test_failing_page_with_a_status_the_client_does_not_retry(
    hub: FakeHub, api: HfApi, backoff_sleeps: list[float]
) -> None:
    add_acme_models(hub)
    hub.fail_page("/api/models", page=2, status=403)

    with pytest.raises(HfHubHTTPError) as raised:
        list(api.list_models(author="acme"))

    assert raised.value.response.status_code == 403
    assert backoff_sleeps == []
    assert len(hub.requests_to("/api/models")) == 2


def test_listing_waits_out_a_429_for_t_plus_one_seconds(hub: FakeHub, api: HfApi) -> None:
    ids = add_acme_models(hub)
    hub.rate_limit_next("/api/models", reset=0)

    started = time.monotonic()
    models = [m.id for m in api.list_models(author="acme")]

    assert models == ids
    assert time.monotonic() - started >= 1.0
    assert [r.status for r in hub.requests_to("/api/models")] == [429, 200, 200, 200]


def test_model_info_raises_on_429_at_once(hub: FakeHub, api: HfApi) -> None:
    add_acme_models(hub, count=1)
    hub.rate_limit_next("/api/models/", reset=30)

    with pytest.raises(HfHubHTTPError) as raised:
        api.model_info("acme/model-0")

    assert raised.value.response.status_code == 429
    assert "Retry after 30 seconds" in str(raised.value)
    assert len(hub.requests) == 1


def test_rate_limit_window_counts_calls(hub: FakeHub) -> None:
    add_acme_models(hub, count=1)
    hub.set_rate_limit(2, window=60)

    first = raw_get(hub, "/api/models/acme/model-0")
    raw_get(hub, "/api/models/acme/model-0")
    third = raw_get(hub, "/api/models/acme/model-0")

    assert first.headers["RateLimit"].startswith('"api";r=1;t=')
    assert first.headers["RateLimit-Policy"] == '"fixed window";"api";q=2;w=60'
    assert third.status_code == 429
    assert third.headers["RateLimit"].startswith('"api";r=0;t=')


def test_unknown_paths_and_agent_harnesses_are_404(hub: FakeHub) -> None:
    from huggingface_hub.utils import _detect_agent

    assert raw_get(hub, "/api/nothing/here").status_code == 404
    assert _detect_agent._fetch_registry() is None  # the client swallows the 404
    assert hub.requests[-1].path == "/api/agent-harnesses"
    assert hub.requests[-1].status == 404
