"""Terms changes: `license.terms_changed` from two readings of a text, `access.terms_changed`
from two readings of a gate; real license versions and a real gate when ../shared/corpus is
present."""

from __future__ import annotations

import itertools
import json
from dataclasses import FrozenInstanceError, replace
from pathlib import Path
from typing import Any

import pytest

from tracker.detect.terms import (
    GateTerms,
    Terms,
    comparison_key,
    gate_terms,
    gate_terms_change,
    license_terms_change,
    terms_diff,
    terms_of,
)
from tracker.events import EventDraft

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
LICENSES = SHARED / "licenses"
HUB = SHARED / "hub"
needs_licenses = pytest.mark.skipif(
    not (LICENSES / "versions" / "versions.json").is_file(),
    reason=f"license corpus not found at {LICENSES}",
)
needs_hub = pytest.mark.skipif(
    not (HUB / "model_info.meta-llama--Llama-3.1-8B-Instruct.json").is_file(),
    reason=f"Hub corpus not found at {HUB}",
)

# A small license in the project's own words: a user cap, a use policy and termination.
ORCA = """ORCA MODEL LICENSE
Release date: March 3, 2025

1. Grant. You may use, copy and share the Orca weights.

2. Limits. If your services have more than 50 million monthly active users, you must obtain
a separate license from Orca Labs.

3. Policy. Your use of the weights is subject to the Orca Acceptable Use Policy.

4. Termination. Orca Labs may terminate this license if you breach any of its terms.
"""
NO_TRAINING = (
    "\n5. Outputs. You may not use outputs of the weights to train any other language model.\n"
)
OPEN = """MIT License

Copyright (c) 2025 Orca Labs

Permission is hereby granted, free of charge, to any person obtaining a copy of this
software, to deal in it without restriction, subject to keeping this notice in all copies.
"""


def change(before: str, after: str, **extra: Any) -> EventDraft | None:
    return license_terms_change(
        terms_of(before),
        terms_of(after),
        subject="orca/license",
        url="https://example.org/l",
        **extra,
    )


# ------------------------------------------------------------------------------- license


def test_an_added_clause_is_a_warning_naming_the_clause_in_words() -> None:
    draft = change(ORCA, ORCA + NO_TRAINING)

    assert draft is not None
    assert draft.kind == "license.terms_changed"
    assert draft.severity == "warning"
    assert draft.title == (
        "License terms stricter: orca/license: now forbids using outputs to train or improve "
        "other models"
    )
    assert draft.before == {"clauses": ["user_cap", "aup_incorporated", "termination"]}
    assert draft.after == {
        "clauses": ["user_cap", "aup_incorporated", "output_restriction", "termination"]
    }
    assert draft.data["clauses_added"] == ["output_restriction"]
    assert draft.data["clauses_removed"] == []
    assert draft.data["summary"] == "Now forbids using outputs to train or improve other models."
    assert draft.data["evidence"] == {
        "added": {
            "output_restriction": (
                "You may not use outputs of the weights to train any other language model."
            )
        },
        "removed": {},
    }
    assert draft.data["diff"] == (
        "--- before\n+++ after\n@@ -10,0 +10,2 @@\n+Outputs.\n"
        "+You may not use outputs of the weights to train any other language model."
    )
    assert draft.url == "https://example.org/l"


def test_a_removed_clause_is_a_notice_and_says_what_is_no_longer_required() -> None:
    looser = ORCA.replace(
        "2. Limits. If your services have more than 50 million monthly active users, you must "
        "obtain\na separate license from Orca Labs.\n",
        "",
    )

    draft = change(ORCA, looser)

    assert draft is not None
    assert draft.severity == "notice"
    assert draft.data["clauses_added"] == []
    assert draft.data["clauses_removed"] == ["user_cap"]
    assert draft.data["changes"] == [
        "no longer requires a separate license above 50 million monthly active users"
    ]
    assert draft.title.startswith("License terms looser: orca/license: no longer requires")


@pytest.mark.parametrize(
    "edited",
    [
        # whitespace and line wrapping
        ORCA.replace(" may ", "  may ").replace("\n", "  \n").replace("obtain\na", "obtain a\n"),
        ORCA.replace("obtain\na separate", "obtain\n\na separate"),
        " ".join(ORCA.split()),
        # dates
        ORCA.replace("March 3, 2025", "2026-01-15"),
        # sentences reordered
        ORCA.replace(
            "3. Policy. Your use of the weights is subject to the Orca Acceptable Use Policy.\n",
            "",
        )
        + "\n3. Policy. Your use of the weights is subject to the Orca Acceptable Use Policy.\n",
        # a new footer without clauses
        ORCA + "\nQuestions about this license: legal@orca.example. Last updated 4 May 2025.\n",
        # Markdown instead of plain text
        ORCA.replace("ORCA MODEL LICENSE", "# ORCA MODEL LICENSE").replace(
            "2. Limits.", "2\\. **Limits.**"
        ),
    ],
)
def test_cosmetic_edits_yield_nothing(edited: str) -> None:
    assert change(ORCA, edited) is None


def test_an_open_license_yields_no_clause_and_no_event_when_edited() -> None:
    reading = terms_of(OPEN)

    assert reading.ids == ()
    assert reading.open_license == "mit"
    assert change(OPEN, OPEN.replace("2025", "2026") + "\nSee AUTHORS for contributors.\n") is None


def test_a_first_reading_yields_nothing() -> None:
    assert license_terms_change(None, terms_of(ORCA), subject="orca/license") is None


def test_the_caller_may_give_the_fingerprint_name_and_extra_data() -> None:
    draft = change(
        ORCA, ORCA + NO_TRAINING, name="Orca 2", fingerprint="model@7", data={"repo_type": "model"}
    )

    assert draft is not None
    assert draft.fingerprint == "model@7"
    assert draft.title.startswith("License terms stricter: Orca 2: ")
    assert draft.data["repo_type"] == "model"


def test_the_default_fingerprint_tells_changes_apart_and_repeats_for_the_same_change() -> None:
    first = change(ORCA, ORCA + NO_TRAINING)
    again = change(ORCA, ORCA + NO_TRAINING)
    other = change(ORCA + NO_TRAINING, ORCA)

    assert first is not None and again is not None and other is not None
    assert first.fingerprint == again.fingerprint
    assert first.fingerprint != other.fingerprint


def test_a_reading_survives_its_stored_form() -> None:
    reading = terms_of(ORCA + NO_TRAINING)
    stored = json.loads(json.dumps(reading.as_state()))

    back = Terms.from_state(stored)

    assert back.ids == reading.ids
    assert back.digest == reading.digest
    assert back.evidence("user_cap") == reading.evidence("user_cap")
    draft = license_terms_change(back, terms_of(ORCA), subject="s")
    assert draft is not None
    assert draft.data["clauses_removed"] == ["output_restriction"]


def test_the_diff_shows_changed_sentences_only_and_is_bounded() -> None:
    before = terms_of("Alpha one. Beta two. Gamma three. Updated January 2, 2024.")
    after = terms_of("Gamma three. Alpha one. Beta 2. Updated February 9, 2025.")
    long_after = terms_of(" ".join(f"Sentence number {i}." for i in range(100)))

    assert (
        terms_diff(before, after) == "--- before\n+++ after\n@@ -2,1 +3,1 @@\n-Beta two.\n+Beta 2."
    )
    assert terms_diff(before, before) == ""
    bounded = terms_diff(before, long_after, lines=10).splitlines()
    assert len(bounded) == 10
    assert bounded[-1] == "…"


def test_comparison_keys_ignore_dates_case_and_punctuation() -> None:
    assert comparison_key("Last modified: March 24, 2025.") == comparison_key(
        "last modified  2026-01-02"
    )
    assert comparison_key("Fee: $10") != comparison_key("Fee: $20")


# -------------------------------------------------------------------------- event drafts


def test_a_draft_keeps_its_kind_severity_unless_one_is_given() -> None:
    plain = EventDraft(kind="license.changed", subject="s", title="t", fingerprint="f")
    looser = replace(plain, kind="license.terms_changed", severity_override="notice")

    assert plain.severity == "warning"
    assert looser.severity == "notice"
    assert EventDraft(
        kind="content.withdrawn", subject="s", title="t", fingerprint="f"
    ).severity == ("warning")
    with pytest.raises(ValueError, match="unknown severity"):
        replace(plain, severity_override="loud")
    with pytest.raises(FrozenInstanceError):
        plain.severity_override = "info"  # type: ignore[misc]


# ---------------------------------------------------------------------------------- gate

GATE: dict[str, Any] = {
    "license": "other",
    "extra_gated_heading": "Request access to Orca",
    "extra_gated_prompt": (
        "Orca is released for research purposes only. Your use is subject to the Orca "
        "Acceptable Use Policy. Prompt last updated March 3, 2025."
    ),
    "extra_gated_fields": {
        "Name": "text",
        "Country": "country",
        "I agree not to redistribute the weights": "checkbox",
    },
    "extra_gated_button_content": "Send request",
}


def gate_change(before: dict[str, Any], after: dict[str, Any]) -> EventDraft | None:
    return gate_terms_change(
        gate_terms(before),
        gate_terms(after),
        subject="orca/orca-7b",
        url="https://huggingface.co/orca/orca-7b",
        fingerprint="model@3",
    )


def side(clauses: list[str], fields: list[dict[str, Any]], eu: bool) -> dict[str, Any]:
    return {"clauses": clauses, "fields": fields, "eu_disallowed": eu}


FIELDS = [
    {"name": "Name", "type": "text"},
    {"name": "Country", "type": "country"},
    {"name": "I agree not to redistribute the weights", "type": "checkbox"},
]
CLAUSES = ["research_only", "aup_incorporated", "no_redistribution"]


def test_a_gate_reads_its_prompt_fields_and_checkbox_statements() -> None:
    gate = gate_terms(GATE)

    assert gate.prompt == {
        "heading": "Request access to Orca",
        "prompt": GATE["extra_gated_prompt"],
        "button_content": "Send request",
    }
    assert gate.field_views() == FIELDS
    assert gate.eu_disallowed is False
    assert list(gate.terms.ids) == CLAUSES


def test_a_prompt_edit_that_adds_a_clause_is_a_stricter_gate() -> None:
    edited = GATE | {
        "extra_gated_prompt": GATE["extra_gated_prompt"]
        + " Requests are reviewed manually by the Orca team."
    }

    draft = gate_change(GATE, edited)

    assert draft == EventDraft(
        kind="access.terms_changed",
        subject="orca/orca-7b",
        title=(
            "Gate terms stricter: orca/orca-7b: now grants access only once the licensor approves"
        ),
        fingerprint="model@3",
        url="https://huggingface.co/orca/orca-7b",
        before=side(CLAUSES, FIELDS, False),
        after=side(
            ["research_only", "aup_incorporated", "approval_required", "no_redistribution"],
            FIELDS,
            False,
        ),
        data={
            "clauses_added": ["approval_required"],
            "clauses_removed": [],
            "diff": (
                "--- before\n+++ after\n@@ -5,0 +5,1 @@\n"
                "+Requests are reviewed manually by the Orca team."
            ),
            "prompt_changed": True,
            "fields_added": [],
            "fields_removed": [],
            "fields_changed": [],
            "eu_disallowed": {"before": False, "after": False},
            "summary": "Now grants access only once the licensor approves.",
            "changes": ["now grants access only once the licensor approves"],
        },
        severity_override="warning",
    )


def test_a_prompt_edit_without_a_clause_is_a_notice() -> None:
    edited = GATE | {"extra_gated_heading": "Ask for access to Orca"}

    draft = gate_change(GATE, edited)

    assert draft is not None
    assert draft.severity == "notice"
    assert draft.title == "Gate terms changed: orca/orca-7b: the prompt text changed"
    assert draft.data["clauses_added"] == draft.data["clauses_removed"] == []
    assert draft.data["diff"] == (
        "--- before\n+++ after\n@@ -1,1 +1,1 @@\n-Request access to Orca\n+Ask for access to Orca"
    )


def test_an_added_field_is_a_stricter_gate() -> None:
    edited = GATE | {
        "extra_gated_fields": GATE["extra_gated_fields"] | {"Date of birth": "date_picker"}
    }

    draft = gate_change(GATE, edited)

    assert draft == EventDraft(
        kind="access.terms_changed",
        subject="orca/orca-7b",
        title="Gate terms stricter: orca/orca-7b: now asks for “Date of birth” (a date)",
        fingerprint="model@3",
        url="https://huggingface.co/orca/orca-7b",
        before=side(CLAUSES, FIELDS, False),
        after=side(CLAUSES, [*FIELDS, {"name": "Date of birth", "type": "date_picker"}], False),
        data={
            "clauses_added": [],
            "clauses_removed": [],
            "diff": "",
            "prompt_changed": False,
            "fields_added": [{"name": "Date of birth", "type": "date_picker"}],
            "fields_removed": [],
            "fields_changed": [],
            "eu_disallowed": {"before": False, "after": False},
            "summary": "Now asks for “Date of birth” (a date).",
            "changes": ["now asks for “Date of birth” (a date)"],
        },
        severity_override="warning",
    )


def test_an_ip_location_field_is_named_for_what_it_records() -> None:
    edited = GATE | {"extra_gated_fields": GATE["extra_gated_fields"] | {"geo": "ip_location"}}

    draft = gate_change(GATE, edited)

    assert draft is not None
    assert draft.data["changes"] == ["now records the location of the requester's IP address"]


def test_an_eu_exclusion_is_a_stricter_gate_and_lifting_it_a_notice() -> None:
    excluded = GATE | {"extra_gated_eu_disallowed": True}

    closing = gate_change(GATE, excluded)
    opening = gate_change(excluded, GATE)

    assert closing == EventDraft(
        kind="access.terms_changed",
        subject="orca/orca-7b",
        title="Gate terms stricter: orca/orca-7b: now refuses requesters in the European Union",
        fingerprint="model@3",
        url="https://huggingface.co/orca/orca-7b",
        before=side(CLAUSES, FIELDS, False),
        after=side(CLAUSES, FIELDS, True),
        data={
            "clauses_added": [],
            "clauses_removed": [],
            "diff": "",
            "prompt_changed": False,
            "fields_added": [],
            "fields_removed": [],
            "fields_changed": [],
            "eu_disallowed": {"before": False, "after": True},
            "summary": "Now refuses requesters in the European Union.",
            "changes": ["now refuses requesters in the European Union"],
        },
        severity_override="warning",
    )
    assert opening is not None
    assert opening.severity == "notice"
    assert opening.title == (
        "Gate terms changed: orca/orca-7b: no longer refuses requesters in the European Union"
    )
    assert opening.data["eu_disallowed"] == {"before": True, "after": False}


def test_a_removed_field_or_changed_options_are_notices() -> None:
    with_select = GATE | {
        "extra_gated_fields": GATE["extra_gated_fields"]
        | {"Use": {"type": "select", "options": ["Research", {"label": "Other", "value": "other"}]}}
    }
    narrower = with_select | {
        "extra_gated_fields": GATE["extra_gated_fields"]
        | {"Use": {"type": "select", "options": ["Research"]}}
    }

    removed = gate_change(with_select, GATE)
    changed = gate_change(with_select, narrower)

    assert removed is not None and changed is not None
    assert removed.severity == changed.severity == "notice"
    assert removed.data["fields_removed"] == [
        {"name": "Use", "type": "select", "options": ["Research", "Other"]}
    ]
    assert changed.data["fields_changed"] == [
        {
            "name": "Use",
            "before": {"name": "Use", "type": "select", "options": ["Research", "Other"]},
            "after": {"name": "Use", "type": "select", "options": ["Research"]},
        }
    ]


@pytest.mark.parametrize(
    "edited",
    [
        GATE
        | {
            "extra_gated_prompt": GATE["extra_gated_prompt"].replace(
                "March 3, 2025", "April 1, 2026"
            )
        },
        GATE
        | {"extra_gated_prompt": "  " + GATE["extra_gated_prompt"].replace(". ", ".\n\n") + "\n"},
        GATE | {"extra_gated_fields": dict(reversed(list(GATE["extra_gated_fields"].items())))},
        GATE
        | {
            "extra_gated_fields": {
                "name": "text",
                "country": "country",
                "I agree not to redistribute the weights": "checkbox",
            }
        },
    ],
)
def test_cosmetic_gate_edits_yield_nothing(edited: dict[str, Any]) -> None:
    assert gate_change(GATE, edited) is None


def test_a_gate_survives_its_stored_form_and_odd_card_data() -> None:
    gate = gate_terms(GATE | {"extra_gated_eu_disallowed": "true"})
    back = GateTerms.from_state(json.loads(json.dumps(gate.as_state())))

    assert back == gate
    assert gate_terms(None) == gate_terms({}) == GateTerms.from_state(None)
    odd = gate_terms({"extra_gated_prompt": 42, "extra_gated_fields": ["a", "b"]})
    assert odd.prompt == {} and odd.fields == () and odd.terms.ids == ()


# ------------------------------------------------------------------------ the real corpus


def _versions() -> list[dict[str, Any]]:
    return json.loads((LICENSES / "versions" / "versions.json").read_text(encoding="utf-8"))


@needs_licenses
def test_real_license_versions_yield_exactly_their_labelled_changes() -> None:
    seen = 0
    for pair in _versions():
        before = terms_of((LICENSES / pair["older"]).read_text(encoding="utf-8"))
        after = terms_of((LICENSES / pair["newer"]).read_text(encoding="utf-8"))

        draft = license_terms_change(before, after, subject=pair["newer"])

        if not pair["clauses_added"] and not pair["clauses_removed"]:
            assert draft is None, pair["newer"]
            continue
        seen += 1
        assert draft is not None, pair["newer"]
        assert draft.data["clauses_added"] == pair["clauses_added"], pair["newer"]
        assert draft.data["clauses_removed"] == pair["clauses_removed"], pair["newer"]
        assert draft.severity == ("warning" if pair["clauses_added"] else "notice")
    assert seen == 3


@needs_licenses
def test_the_llama_community_license_walked_through_its_versions() -> None:
    texts = [
        (LICENSES / "versions" / f"llama-community-license@{v}.txt").read_text(encoding="utf-8")
        for v in ("2", "3", "3.1")
    ]
    stored = terms_of(texts[0]).as_state()
    drafts = []
    for text in texts[1:]:
        after = terms_of(text)
        drafts.append(
            license_terms_change(Terms.from_state(stored), after, subject="meta-llama/license")
        )
        stored = after.as_state()

    to_3, to_3_1 = drafts
    assert to_3 is not None and to_3_1 is not None
    assert to_3.severity == "warning"
    assert to_3.data["clauses_added"] == ["attribution", "naming_requirement"]
    assert to_3.data["clauses_removed"] == []
    assert to_3.data["changes"] == [
        "now requires products to display “Built with Meta Llama 3”",
        "now requires derivative models to carry “Llama 3” in their names",
    ]
    assert to_3.before == {
        "clauses": ["user_cap", "aup_incorporated", "output_restriction", "termination"]
    }
    assert to_3_1.severity == "notice"
    assert to_3_1.data["clauses_added"] == []
    assert to_3_1.data["clauses_removed"] == ["output_restriction"]
    assert to_3_1.title == (
        "License terms looser: meta-llama/license: no longer forbids using outputs to train or "
        "improve other models"
    )
    assert "-v. You will not use the Llama Materials or any output" in to_3_1.data["diff"] or (
        "-You will not use the Llama Materials or any output" in to_3_1.data["diff"]
    )


@needs_licenses
def test_the_llama_use_policy_gaining_the_eu_exclusion_names_the_region() -> None:
    older = terms_of((LICENSES / "versions" / "llama-aup@3.1.txt").read_text(encoding="utf-8"))
    newer = terms_of((LICENSES / "versions" / "llama-aup@3.3.txt").read_text(encoding="utf-8"))

    draft = license_terms_change(older, newer, subject="meta-llama/use-policy")

    assert draft is not None
    assert draft.data["clauses_added"] == ["geo_exclusion"]
    assert draft.data["changes"] == ["now excludes users in the European Union"]


@needs_licenses
def test_a_real_open_license_yields_nothing() -> None:
    apache = (LICENSES / "apache-2.0.txt").read_text(encoding="utf-8")
    reflowed = " ".join(apache.split())

    assert terms_of(apache).ids == ()
    assert terms_of(apache).open_license == "apache-2.0"
    assert license_terms_change(terms_of(apache), terms_of(reflowed), subject="s") is None


@needs_hub
def test_the_real_llama_gate_through_a_prompt_edit_an_added_field_and_an_eu_exclusion() -> None:
    record = json.loads(
        (HUB / "model_info.meta-llama--Llama-3.1-8B-Instruct.json").read_text(encoding="utf-8")
    )
    card = record["cardData"]
    baseline = gate_terms(card)
    assert list(baseline.terms.ids) == [
        "user_cap",
        "attribution",
        "naming_requirement",
        "aup_incorporated",
        "termination",
    ]
    assert {f.name: f.type for f in baseline.fields}["geo"] == "ip_location"

    prompt_edit = card | {
        "extra_gated_prompt": card["extra_gated_prompt"]
        + "\n\nYou will not use the Llama Materials or any output of them to improve any other "
        "large language model."
    }
    more_fields = prompt_edit | {
        "extra_gated_fields": prompt_edit["extra_gated_fields"] | {"Employer": "text"}
    }
    eu_out = more_fields | {"extra_gated_eu_disallowed": True}
    steps = [card, prompt_edit, more_fields, eu_out]
    drafts = [
        gate_terms_change(gate_terms(a), gate_terms(b), subject=record["id"])
        for a, b in itertools.pairwise(steps)
    ]

    assert [d.severity if d else None for d in drafts] == ["warning", "warning", "warning"]
    edit, field, eu = drafts
    assert edit is not None and field is not None and eu is not None
    assert edit.data["clauses_added"] == ["output_restriction"]
    assert edit.data["fields_added"] == []
    assert edit.data["prompt_changed"] is True
    assert field.data["clauses_added"] == []
    assert field.data["fields_added"] == [{"name": "Employer", "type": "text"}]
    assert field.data["prompt_changed"] is False
    assert eu.data["eu_disallowed"] == {"before": False, "after": True}
    assert eu.data["changes"] == ["now refuses requesters in the European Union"]
    assert eu.after == {
        "clauses": [*baseline.terms.ids[:4], "output_restriction", "termination"],
        "fields": [*baseline.field_views(), {"name": "Employer", "type": "text"}],
        "eu_disallowed": True,
    }
    # the same card read twice is no change
    assert gate_terms_change(baseline, gate_terms(dict(card)), subject=record["id"]) is None
