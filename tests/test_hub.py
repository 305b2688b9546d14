"""Hub sources against a fake Hub on loopback: scenarios walked step by step.

Each step changes the fake world, polls, and asserts the exact set of events: what
changed yields its event with before/after, and nothing else yields anything.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.db import Database
from tracker.models import Event, Source
from tracker.poller import PollReport, poll_sources, select_sources
from tracker.report import openness_report

from .fakehub import FakeHub

ORG = "meta-llama"


def add_hub(db: Database, target: str, types: str | None = None) -> int:
    spec = catalog.checked(SourceSpec("hub", target, types=types), db.settings)
    with db.session() as session:
        return catalog.add(session, spec).id


def poll(db: Database, *source_ids: int) -> PollReport:
    return poll_sources(db, select_sources(db, list(source_ids) or None))


def new_events(db: Database, report: PollReport) -> list[Event]:
    with db.session() as session:
        return list(
            session.exec(select(Event).where(Event.id.in_(report.event_ids)).order_by(Event.id))
        )


def changes(db: Database, report: PollReport) -> set[tuple[Any, ...]]:
    """The poll's events as comparable tuples: (kind, subject, before, after)."""

    def frozen(value: dict | None) -> tuple | None:
        return tuple(sorted(value.items())) if value is not None else None

    return {(e.kind, e.subject, frozen(e.before), frozen(e.after)) for e in new_events(db, report)}


def fz(**values: Any) -> tuple:
    return tuple(sorted(values.items()))


@pytest.fixture
def org(hub: FakeHub) -> FakeHub:
    """An org with three models (two listing pages) and one data set."""
    hub.add_repo(
        "model",
        f"{ORG}/Llama-2-7b-hf",
        gated="manual",
        license="other",
        license_name="llama2",
        license_link="LICENSE.txt",
    )
    hub.add_repo("model", f"{ORG}/Llama-2-13b-hf", license="llama2")
    hub.add_repo("model", f"{ORG}/CodeLlama-7b", license="llama2")
    hub.add_repo("dataset", f"{ORG}/eval-set", license="cc-by-4.0")
    hub.add_repo("model", "someone-else/unrelated", license="mit")
    return hub


@pytest.fixture
def watched(db: Database, org: FakeHub) -> int:
    source_id = add_hub(db, ORG)
    report = poll(db)
    assert report.results[0].ok, report.results[0].error
    org.clear_requests()
    return source_id


def test_baseline_records_every_repo_and_emits_only_baselined(db: Database, org: FakeHub) -> None:
    add_hub(db, ORG)

    report = poll(db)

    (event,) = new_events(db, report)
    assert (event.kind, event.data) == ("source.baselined", {"items": 4})
    # Models: 3 repos on 2 pages; data sets: 1 page.
    assert report.hub_requests == 3
    assert [r.path for r in org.requests] == ["/api/models", "/api/models", "/api/datasets"]


def test_listing_asks_exactly_for_the_fields_detection_reads(db: Database, org: FakeHub) -> None:
    add_hub(db, ORG)
    poll(db)

    first = org.requests[0]
    assert first.query["author"] == [ORG]
    assert sorted(first.query["expand"]) == sorted(
        ["gated", "cardData", "sha", "lastModified", "createdAt", "private", "disabled", "tags"]
    )


def test_unchanged_world_emits_nothing_and_costs_one_request_per_page(
    db: Database, org: FakeHub, watched: int
) -> None:
    report = poll(db)

    assert report.event_ids == []
    assert report.hub_requests == 3
    assert all(r.path in ("/api/models", "/api/datasets") for r in org.requests)


def test_new_repos_are_published(db: Database, org: FakeHub, watched: int) -> None:
    org.add_repo(
        "model",
        f"{ORG}/Llama-3-8B",
        gated="auto",
        license="llama3",
        createdAt="2026-11-20T10:00:00.000Z",
    )
    org.add_repo("dataset", f"{ORG}/pretrain-mix", license="other")

    report = poll(db)

    events = {e.kind: e for e in new_events(db, report)}
    assert set(events) == {"model.published", "dataset.published"}
    model = events["model.published"]
    assert model.subject == f"{ORG}/Llama-3-8B"
    assert model.url == f"{org.endpoint}/{ORG}/Llama-3-8B"
    assert model.after["gated"] == "auto"
    assert model.after["license"] == "llama3"
    assert model.published_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert events["dataset.published"].url == f"{org.endpoint}/datasets/{ORG}/pretrain-mix"


def test_gate_closes_changes_and_opens(db: Database, org: FakeHub, watched: int) -> None:
    repo = f"{ORG}/Llama-2-13b-hf"
    steps = [
        ("manual", ("access.gated", repo, fz(gated=False), fz(gated="manual"))),
        ("auto", ("access.gate_changed", repo, fz(gated="manual"), fz(gated="auto"))),
        (False, ("access.ungated", repo, fz(gated="auto"), fz(gated=False))),
        ("manual", ("access.gated", repo, fz(gated=False), fz(gated="manual"))),
    ]
    for gated, expected in steps:
        org.set_gated("model", repo, gated)
        assert changes(db, poll(db)) == {expected}, gated


def test_license_revised_from_other_to_llama2(db: Database, org: FakeHub, watched: int) -> None:
    repo = f"{ORG}/Llama-2-7b-hf"
    org.update_repo("model", repo, cardData={"license": "llama2"}, tags=["license:llama2"])

    assert changes(db, poll(db)) == {
        (
            "license.changed",
            repo,
            fz(license="other", license_name="llama2", license_link="LICENSE.txt"),
            fz(license="llama2", license_name=None, license_link=None),
        )
    }


def test_license_falls_back_to_the_tag(db: Database, org: FakeHub, watched: int) -> None:
    repo = f"{ORG}/CodeLlama-7b"
    org.update_repo("model", repo, cardData={}, tags=["license:cc-by-nc-4.0"])

    assert changes(db, poll(db)) == {
        ("license.changed", repo, fz(license="llama2"), fz(license="cc-by-nc-4.0"))
    }


def test_removed_dataset_is_withdrawn_then_restored(
    db: Database, org: FakeHub, watched: int
) -> None:
    repo = f"{ORG}/eval-set"
    org.remove_repo("dataset", repo)

    report = poll(db)

    assert changes(db, report) == {
        ("repo.withdrawn", repo, fz(status="available"), fz(status="withdrawn", reason="not_found"))
    }
    assert [r.path for r in org.requests_to(f"/api/datasets/{ORG}")] == [f"/api/datasets/{repo}"]
    assert poll(db).event_ids == []  # withdrawn stays withdrawn, reported once

    org.add_repo("dataset", repo, license="cc-by-4.0")
    assert {c[0] for c in changes(db, poll(db))} == {"repo.restored"}


def test_repo_made_private_is_withdrawn(db: Database, org: FakeHub, watched: int) -> None:
    repo = f"{ORG}/CodeLlama-7b"
    org.set_private("model", repo)

    assert changes(db, poll(db)) == {
        ("repo.withdrawn", repo, fz(status="available"), fz(status="withdrawn", reason="not_found"))
    }


def test_private_is_named_when_the_token_can_see_it(db: Database, org: FakeHub) -> None:
    org.add_user("llama-admin", "hf_owner_token", orgs=[ORG])
    db.settings.hf_token = "hf_owner_token"
    add_hub(db, ORG)
    poll(db)
    repo = f"{ORG}/CodeLlama-7b"
    org.set_private("model", repo)

    assert changes(db, poll(db)) == {
        ("repo.withdrawn", repo, fz(status="available"), fz(status="withdrawn", reason="private"))
    }


def test_disabled_repo_is_withdrawn(db: Database, org: FakeHub, watched: int) -> None:
    repo = f"{ORG}/Llama-2-13b-hf"
    org.disable("model", repo)

    assert changes(db, poll(db)) == {
        ("repo.withdrawn", repo, fz(status="available"), fz(status="withdrawn", reason="disabled"))
    }


def test_new_commit_is_an_update(db: Database, org: FakeHub, watched: int) -> None:
    repo = f"{ORG}/Llama-2-13b-hf"
    old_sha = org.repo("model", repo)["sha"]
    new_sha = org.commit("model", repo)

    assert changes(db, poll(db)) == {("repo.updated", repo, fz(sha=old_sha), fz(sha=new_sha))}


def test_rename_is_followed_not_withdrawn_and_published(
    db: Database, org: FakeHub, watched: int
) -> None:
    org.rename(f"{ORG}/CodeLlama-7b", f"{ORG}/CodeLlama-7b-hf")

    report = poll(db)

    assert changes(db, report) == {
        (
            "repo.renamed",
            f"{ORG}/CodeLlama-7b-hf",
            fz(id=f"{ORG}/CodeLlama-7b"),
            fz(id=f"{ORG}/CodeLlama-7b-hf"),
        )
    }
    assert poll(db).event_ids == []  # the new id is known: not published next time
    org.set_gated("model", f"{ORG}/CodeLlama-7b-hf", "auto")
    assert {c[:2] for c in changes(db, poll(db))} == {("access.gated", f"{ORG}/CodeLlama-7b-hf")}


def test_transient_500_during_listing_changes_nothing(
    db: Database, org: FakeHub, watched: int
) -> None:
    org.fail_page("/api/models", page=2, status=500, times=1)

    report = poll(db)

    assert report.results[0].ok
    assert report.event_ids == []


def test_listing_that_fails_midway_withdraws_nothing(
    db: Database, org: FakeHub, watched: int
) -> None:
    org.fail_page("/api/models", page=2, status=503)  # every attempt

    report = poll(db)

    (result,) = report.results
    assert not result.ok
    assert "503" in result.error
    assert report.event_ids == []
    assert org.requests_to(f"/api/models/{ORG}") == []  # no confirmations either
    with db.session() as session:
        assert session.get(Source, watched).consecutive_failures == 1

    org.clear_faults()
    assert poll(db).event_ids == []


def test_rate_limit_defers_the_source_without_failing_the_poll(
    db: Database, org: FakeHub, watched: int
) -> None:
    other = add_hub(db, "someone-else")
    org.rate_limit_next("/api/models", times=1, reset=120)
    db.settings.poll_concurrency = 1  # one after the other: the second must not even ask

    report = poll(db)

    outcome = {r.source_id: r for r in report.results}
    assert outcome[watched].deferred and outcome[other].deferred
    assert report.failed == []
    assert len(org.requests) == 1  # after one 429, nobody asks again
    with db.session() as session:
        source = session.get(Source, watched)
        assert source.consecutive_failures == 0
        assert "rate limited" in source.last_error
        wait = source.next_poll_at - source.last_polled_at
    assert timedelta(seconds=120) <= wait <= timedelta(seconds=122)


def test_single_repo_source(db: Database, org: FakeHub) -> None:
    repo = f"{ORG}/Llama-2-13b-hf"
    source_id = add_hub(db, repo)

    baseline = poll(db, source_id)
    assert [e.kind for e in new_events(db, baseline)] == ["source.baselined"]
    assert [r.path for r in org.requests] == [f"/api/models/{repo}"]

    org.set_gated("model", repo, "manual")
    assert {c[0] for c in changes(db, poll(db, source_id))} == {"access.gated"}
    org.remove_repo("model", repo)
    assert {c[0] for c in changes(db, poll(db, source_id))} == {"repo.withdrawn"}
    org.add_repo("model", repo, license="llama2")  # back, but no longer gated
    assert {c[0] for c in changes(db, poll(db, source_id))} == {"repo.restored", "access.ungated"}


def test_single_repo_that_does_not_exist_is_baselined_and_published_on_arrival(
    db: Database, org: FakeHub
) -> None:
    repo = f"{ORG}/Llama-5"
    source_id = add_hub(db, repo)
    assert poll(db, source_id).results[0].ok
    with db.read() as session:
        # A repo never seen is not counted, withdrawn or otherwise.
        assert openness_report(session, since=datetime.now(UTC), now=datetime.now(UTC)) == []

    org.add_repo("model", repo, license="llama5")

    assert {c[0] for c in changes(db, poll(db, source_id))} == {"model.published"}
    assert poll(db, source_id).event_ids == []


def test_spaces_are_listed_without_gating(db: Database, hub: FakeHub) -> None:
    hub.add_repo("space", f"{ORG}/demo", license="apache-2.0")
    add_hub(db, ORG, types="space")
    poll(db)
    hub.add_repo("space", f"{ORG}/chat")

    report = poll(db)

    assert {c[:2] for c in changes(db, report)} == {("space.published", f"{ORG}/chat")}
    assert "gated" not in hub.requests_to("/api/spaces")[0].query["expand"]
    assert new_events(db, report)[0].url == f"{hub.endpoint}/spaces/{ORG}/chat"


def test_hub_errors_are_recorded_on_the_source(db: Database, hub: FakeHub) -> None:
    hub.fail_next("/api/models", status=400, times=None)
    add_hub(db, ORG)

    (result,) = poll(db).results

    assert not result.ok
    assert result.error.startswith("Hub answered HTTP 400")
    assert "\n" not in result.error


def test_cli_adds_an_author_and_reports_hub_requests(cli, org: FakeHub) -> None:
    added = cli("sources", "add", "hub", ORG, "--json")
    polled = cli("poll", "--json")

    source = json.loads(added.stdout)
    assert (source["kind"], source["target"], source["types"]) == ("hub", ORG, ["model", "dataset"])
    outcome = json.loads(polled.stdout)
    assert outcome["hub_requests"] == 3
    assert outcome["results"][0]["requests"] == 3


def test_cli_single_repo_with_type(cli, org: FakeHub) -> None:
    added = cli("sources", "add", "hub", f"{ORG}/eval-set", "--types", "dataset", "--json")

    assert json.loads(added.stdout)["types"] == ["dataset"]
    assert json.loads(cli("poll", "--json").stdout)["ok"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("not a name",), "invalid Hub target"),
        (("a/b/c",), "invalid Hub target"),
        (("lab-",), "invalid Hub target"),
        ((ORG, "--types", "models"), "unknown repo type 'models'"),
        ((f"{ORG}/x", "--types", "model,dataset"), "a single repo has one type"),
    ],
)
def test_cli_refuses_bad_hub_targets(cli, args: tuple[str, ...], message: str) -> None:
    result = cli("sources", "add", "hub", *args)

    assert result.code == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert json.loads(cli("sources", "list", "--json").stdout) == []


def test_cli_shows_before_and_after(cli, org: FakeHub) -> None:
    cli("sources", "add", "hub", ORG)
    cli("poll")
    org.set_gated("model", f"{ORG}/CodeLlama-7b", "manual")

    polled = cli("poll")

    assert "access.gated" in polled.stdout
    assert "gated: false → manual" in polled.stdout


def test_a_listing_page_that_is_not_json_is_retried_as_a_transient_failure(
    db: Database, org: FakeHub, watched: int
) -> None:
    page = "<html><body>502 Bad Gateway</body></html>"
    org.fail_next("/api/models", 200, text=page, content_type="text/html")

    report = poll(db)

    assert report.results[0].ok, report.results[0].error
    assert report.event_ids == []


def test_a_listing_that_never_sends_json_fails_in_one_clear_line(
    db: Database, org: FakeHub, watched: int
) -> None:
    org.fail_next(
        "/api/models", 200, times=None, text="<html>oops</html>", content_type="text/html"
    )

    (result,) = poll(db).results

    assert not result.ok
    assert result.error == "Hub sent a listing page that is not JSON (text/html)"
    assert poll(db).event_ids == []  # nothing was called withdrawn


def test_cli_warns_of_a_repo_the_hub_does_not_have(cli, org: FakeHub) -> None:
    added = cli("sources", "add", "hub", f"{ORG}/Does-Not-Exist", "--json")

    assert added.code == 0
    assert json.loads(added.stdout)["target"] == f"{ORG}/Does-Not-Exist"
    assert added.stderr.startswith(f"warning: {ORG}/Does-Not-Exist is not on the Hub")
    cli("poll")
    report = json.loads(cli("report", "openness", "--json").stdout)
    assert report["authors"] == []  # never seen: not counted as withdrawn


def test_cli_refuses_a_data_set_added_as_a_model(cli, org: FakeHub) -> None:
    refused = cli("sources", "add", "hub", f"{ORG}/eval-set")

    assert refused.code == 2
    assert "is a data set on the Hub, not a model: add it with --types dataset" in refused.stderr
    assert json.loads(cli("sources", "list", "--json").stdout) == []


def test_cli_warns_of_an_author_without_repos(cli, org: FakeHub) -> None:
    added = cli("sources", "add", "hub", "meta-lama")

    assert added.code == 0
    assert "the Hub shows no models or datasets of 'meta-lama'" in added.stderr
    asked = org.requests_to("/api/")
    assert [(r.path, r.query["limit"]) for r in asked] == [
        ("/api/models", ["1"]),
        ("/api/datasets", ["1"]),
    ]


def test_cli_stores_a_repo_as_the_hub_spells_it(cli, org: FakeHub) -> None:
    added = cli("sources", "add", "hub", "Meta-Llama/llama-2-13b-hf", "--json")

    assert (added.code, added.stderr) == (0, "")
    assert json.loads(added.stdout)["target"] == f"{ORG}/Llama-2-13b-hf"


def test_cli_can_add_without_asking_the_hub(cli, org: FakeHub) -> None:
    added = cli("sources", "add", "hub", f"{ORG}/eval-set", "--no-check")

    assert added.code == 0
    assert org.requests == []
