"""Openness: the classification table, Hub events carrying it, and the report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tracker.db import Database
from tracker.detect.terms import terms_of
from tracker.models import Event, Item, Source
from tracker.openness import (
    TERMS_KEY,
    Openness,
    access_of,
    class_from_clauses,
    classify,
    direction,
    license_class,
)
from tracker.report import Mix, openness_report

from .fakehub import FakeHub
from .test_hub import ORG, add_hub, new_events, poll


@pytest.mark.parametrize(
    ("license_id", "name", "expected"),
    [
        ("apache-2.0", None, "open"),
        ("mit", None, "open"),
        ("cc-by-4.0", None, "open"),
        ("odc-by", None, "open"),
        ("gpl-3.0", None, "open"),
        ("llama2", None, "restricted"),
        ("llama3.1", None, "restricted"),
        ("llama4", None, "restricted"),
        ("gemma", None, "restricted"),
        ("openrail", None, "restricted"),
        ("creativeml-openrail-m", None, "restricted"),
        ("bigscience-bloom-rail-1.0", None, "restricted"),
        ("cc-by-nd-4.0", None, "restricted"),
        ("cc-by-nc-4.0", None, "non-commercial"),
        ("cc-by-nc-sa-4.0", None, "non-commercial"),
        ("fair-noncommercial-research-license", None, "non-commercial"),
        ("other", "llama2", "restricted"),
        ("other", "tongyi-qianwen", "restricted"),
        ("other", "deepseek-license", "restricted"),
        ("other", "stabilityai-non-commercial-research-community", "non-commercial"),
        ("other", "my-company-eula", "unknown"),
        ("other", None, "unknown"),
        ("unknown", None, "unknown"),
        (None, None, "unknown"),
        ("Apache-2.0", None, "open"),
        ("mit, cc-by-nc-4.0", None, "non-commercial"),
        # ids the Hub lists that the table once left unknown
        ("grok2-community", None, "restricted"),
        ("openmdw-1.1", None, "open"),
        ("cc", None, "restricted"),
        ("llama3.3", None, "restricted"),
        ("bigcode-openrail-m", None, "restricted"),
        ("apple-amlr", None, "non-commercial"),
        # `other` with a name that says what it is
        ("other", "tencent-hunyuan-community", "restricted"),
        ("other", "mistral-research-license", "non-commercial"),
        ("other", "mnpl", "non-commercial"),
        ("other", "qwen-research", "non-commercial"),
        ("other", "grok-2", "restricted"),
        ("other", "stabilityai-ai-community", "restricted"),
    ],
)
def test_license_classes(license_id: str | None, name: str | None, expected: str) -> None:
    assert license_class(license_id, name) == expected


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ({"gated": False}, "public"),
        ({"gated": "auto"}, "gated-auto"),
        ({"gated": "manual"}, "gated-manual"),
        ({"gated": "manual", "status": "withdrawn"}, "withdrawn"),
        ({}, "public"),
    ],
)
def test_access_levels(state: dict, expected: str) -> None:
    assert access_of(state) == expected


def test_direction() -> None:
    public_open = Openness("open", "public")

    assert direction(public_open, Openness("open", "gated-manual")) == "closing"
    assert direction(Openness("non-commercial", "public"), public_open) == "opening"
    assert direction(public_open, public_open) == "same"


def test_hub_events_carry_openness_before_and_after(db: Database, hub: FakeHub) -> None:
    hub.add_repo("model", f"{ORG}/m", license="apache-2.0")
    add_hub(db, ORG)
    poll(db)
    hub.update_repo("model", f"{ORG}/m", gated="manual", cardData={"license": "llama3"}, tags=[])

    events = {e.kind: e for e in new_events(db, poll(db))}

    for kind in ("access.gated", "license.changed"):
        assert events[kind].data["openness"] == {
            "before": {"license": "open", "access": "public"},
            "after": {"license": "restricted", "access": "gated-manual"},
        }


NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def seed(db: Database) -> None:
    """A year of one org: three models today; one gated in May, one relicensed in August,
    one published in October, one withdrawn in November."""
    with db.session() as session:
        source = Source(kind="hub", target="lab", types="model", every_seconds=900)
        session.add(source)
        session.flush()
        items = {
            "model:lab/a": {
                "type": "model",
                "id": "lab/a",
                "gated": "manual",
                "license": "apache-2.0",
                "status": "available",
            },
            "model:lab/b": {
                "type": "model",
                "id": "lab/b",
                "gated": False,
                "license": "cc-by-nc-4.0",
                "status": "available",
            },
            "model:lab/c": {
                "type": "model",
                "id": "lab/c",
                "gated": False,
                "license": "mit",
                "status": "available",
            },
            "model:lab/d": {
                "type": "model",
                "id": "lab/d",
                "gated": False,
                "license": "mit",
                "status": "withdrawn",
                "reason": "not_found",
            },
        }
        for key, data in items.items():
            session.add(Item(source_id=source.id, key=key, data=data))

        def event(
            kind: str, repo: str, when: datetime, before=None, after=None, openness=None
        ) -> None:
            session.add(
                Event(
                    key=f"{kind}:{repo}",
                    kind=kind,
                    severity="notice",
                    source_id=source.id,
                    subject=repo,
                    title=kind,
                    detected_at=when,
                    before=before,
                    after=after,
                    data={"repo_type": "model", "openness": openness or {}},
                )
            )

        event(
            "access.gated",
            "lab/a",
            datetime(2026, 5, 10, tzinfo=UTC),
            {"gated": False},
            {"gated": "manual"},
            {
                "before": {"license": "open", "access": "public"},
                "after": {"license": "open", "access": "gated-manual"},
            },
        )
        event(
            "license.changed",
            "lab/b",
            datetime(2026, 8, 1, tzinfo=UTC),
            {"license": "mit"},
            {"license": "cc-by-nc-4.0"},
            {
                "before": {"license": "open", "access": "public"},
                "after": {"license": "non-commercial", "access": "public"},
            },
        )
        event("model.published", "lab/c", datetime(2026, 10, 3, tzinfo=UTC))
        event(
            "repo.withdrawn",
            "lab/d",
            datetime(2026, 11, 20, tzinfo=UTC),
            {"status": "available"},
            {"status": "withdrawn"},
            {
                "before": {"license": "open", "access": "public"},
                "after": {"license": "open", "access": "withdrawn"},
            },
        )


def test_report_today_timeline_and_moves(db: Database) -> None:
    seed(db)
    with db.session() as session:
        (report,) = openness_report(session, since=NOW - timedelta(days=365), now=NOW, points=4)

    assert report.author == "lab"
    assert report.today.repos == 4
    assert report.today.license == {"open": 3, "restricted": 0, "non-commercial": 1, "unknown": 0}
    assert report.today.access == {"public": 2, "gated-auto": 0, "gated-manual": 1, "withdrawn": 1}
    first_at, first = report.timeline[0]
    assert first_at == NOW - timedelta(days=365)
    # A year ago: a, b, d existed, all public, all open.
    assert first.repos == 3
    assert first.license["open"] == 3
    assert first.access["public"] == 3
    # Points: Nov 2025, Feb, May 28 (a gated), Aug 27 (b relicensed), today (c, d withdrawn).
    assert [m.repos for _, m in report.timeline] == [3, 3, 3, 3, 4]
    assert [m.access["gated-manual"] for _, m in report.timeline] == [0, 0, 1, 1, 1]
    assert [m.license["non-commercial"] for _, m in report.timeline] == [0, 0, 0, 1, 1]
    assert report.moves == {
        "closing": 3,
        "opening": 0,
        "published": 1,
        "withdrawn": 1,
        "restored": 0,
    }


def test_report_filters_by_author_and_cli_json(db: Database, cli) -> None:
    seed(db)

    assert (
        json.loads(cli("report", "openness", "--author", "nobody", "--json").stdout)["authors"]
        == []
    )
    document = json.loads(
        cli("report", "openness", "--author", "LAB", "--since", "2y", "--json").stdout
    )
    (author,) = document["authors"]
    assert author["author"] == "lab"
    assert author["today"]["repos"] == 4
    assert "lab: 4 repos" in cli("report", "openness").stdout


def test_classify_reads_stored_states() -> None:
    assert classify({"license": "other", "license_name": "llama3", "gated": "auto"}) == Openness(
        "restricted", "gated-auto"
    )


# ------------------------------------------------------------------ clause-aware classes


@pytest.mark.parametrize(
    ("clauses", "open_license", "expected"),
    [
        (["non_commercial"], None, "non-commercial"),
        (["research_only", "termination"], None, "non-commercial"),
        (["user_cap", "aup_incorporated"], None, "restricted"),
        (["attribution"], "mit", "restricted"),
        ([], "apache-2.0", "open"),
        ([], None, None),
    ],
)
def test_a_license_text_is_classed_by_its_clauses(
    clauses: list[str], open_license: str | None, expected: str | None
) -> None:
    assert class_from_clauses(clauses, open_license) == expected


@pytest.mark.parametrize(
    ("license_id", "name", "clauses", "open_license", "expected"),
    [
        # `other` (or no id) with a recognised text: the text decides
        ("other", None, ["non_commercial"], None, "non-commercial"),
        ("other", "my-company-eula", ["user_cap"], None, "restricted"),
        ("other", None, [], "mit", "open"),
        (None, None, ["attribution"], None, "restricted"),
        # a text that says nothing either way leaves the id's class
        ("other", None, [], None, "unknown"),
        ("openrail", None, [], None, "restricted"),
        # a text stricter than its id moves the class; a text never opens a license up
        ("mit", None, ["non_commercial"], None, "non-commercial"),
        ("apache-2.0", None, ["output_restriction"], None, "restricted"),
        ("llama3", None, [], "apache-2.0", "restricted"),
        ("cc", None, ["non_commercial"], None, "non-commercial"),
    ],
)
def test_clauses_of_the_license_text_refine_the_class(
    license_id: str | None,
    name: str | None,
    clauses: list[str],
    open_license: str | None,
    expected: str,
) -> None:
    assert license_class(license_id, name, clauses=clauses, open_license=open_license) == expected


def test_a_license_text_getting_stricter_moves_the_repo_in_the_openness_mix() -> None:
    text = (
        "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining "
        "a copy of this software, to deal in it without restriction.\n"
    )
    stricter = text + "\nYou may not use the software for any commercial purpose.\n"
    before = {"license": "mit", TERMS_KEY: terms_of(text).summary(), "gated": False}
    after = before | {TERMS_KEY: terms_of(stricter).summary()}

    assert classify(before) == Openness("open", "public")
    assert classify(after) == Openness("non-commercial", "public")
    assert direction(classify(before), classify(after)) == "closing"
    assert Mix.of([before]).license["open"] == 1
    assert Mix.of([after]).license == {
        "open": 0,
        "restricted": 0,
        "non-commercial": 1,
        "unknown": 0,
    }


def test_the_report_counts_a_repo_by_its_license_text(db: Database) -> None:
    open_text = terms_of(
        "MIT License\n\nPermission is hereby granted, free of charge, to any person "
        "obtaining a copy of this software, to deal in it without restriction."
    )
    research = terms_of("The weights are released for research purposes only.")
    with db.session() as session:
        source = Source(kind="hub", target="lab", types="model", every_seconds=900)
        session.add(source)
        session.flush()
        assert source.id is not None
        for name, terms in (("a", open_text), ("b", research), ("c", None)):
            data = {"type": "model", "id": f"lab/{name}", "license": "other", "gated": False}
            if terms is not None:
                data[TERMS_KEY] = terms.summary()
            session.add(Item(source_id=source.id, key=f"model:lab/{name}", data=data))
    with db.session() as session:
        (report,) = openness_report(session, since=NOW - timedelta(days=30), now=NOW)

    assert report.today.license == {"open": 1, "restricted": 0, "non-commercial": 1, "unknown": 1}


def test_a_malformed_stored_reading_is_ignored() -> None:
    state = {"license": "mit", TERMS_KEY: {"clauses": "non_commercial"}}

    assert classify(state).license == "open"
