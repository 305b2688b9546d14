"""The clause recogniser: sentence splitting, each clause's phrasings and look-alikes, the
clauses in words, user rules, and (when ../shared/corpus is present) the real corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracker.detect.clauses import (
    CLAUSE_WORDS,
    CLAUSES,
    clause_ids,
    describe,
    find_clauses,
    known_open_license,
    load_rules,
    rules_for,
    sentences,
)
from tracker.errors import UserError

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "licenses"
needs_corpus = pytest.mark.skipif(
    not (CORPUS / "labels.json").is_file(), reason=f"license corpus not found at {CORPUS}"
)


def texts(found: list) -> list[str]:
    return [s.text for s in found]


# ------------------------------------------------------------------------------ sentences


def test_sentences_join_hard_wrapped_lines_and_hyphenation() -> None:
    text = (
        "You are granted a non-\ntransferable licence to use the\nweights. You may "
        "copy them.\n\nA second paragraph."
    )

    assert texts(sentences(text)) == [
        "You are granted a non-transferable licence to use the weights.",
        "You may copy them.",
        "A second paragraph.",
    ]


def test_sentences_strip_markdown_and_keep_numbered_items_apart() -> None:
    text = (
        "## 3. Limits\n"
        "1\\. **Usage.** You shall use the [Model](https://example.org/m) for *research* only.\n"
        "2. No other use.\n"
        "* a bullet item\n"
        "   (b) an item with a letter"
    )

    assert texts(sentences(text)) == [
        "Limits",
        "Usage.",
        "You shall use the Model for research only.",
        "No other use.",
        "a bullet item",
        "an item with a letter",
    ]


def test_sentences_turn_inline_html_into_text() -> None:
    text = (
        "<p>Access is <b>reviewed</b>&nbsp;by hand.</p><p>Terms &amp; conditions apply."
        '<br>See <span style="x">https://example.org/terms</span>.</p>'
    )

    assert texts(sentences(text)) == [
        "Access is reviewed by hand.",
        "Terms & conditions apply.",
        "See https://example.org/terms.",
    ]


def test_sentences_do_not_break_after_abbreviations_or_list_markers() -> None:
    text = "a. Grant. Example Labs, Inc. grants you rights, e.g. to copy. Done."

    assert texts(sentences(text)) == [
        "Grant.",
        "Example Labs, Inc. grants you rights, e.g. to copy.",
        "Done.",
    ]


def test_a_sentence_knows_where_it_is_in_the_input() -> None:
    text = "First one.\n\n  **Second** one here."

    second = sentences(text)[1]

    assert second.text == "Second one here."
    assert text[second.start : second.end] == "**Second** one here."


def test_quotes_and_dashes_are_ascii_for_the_rules_only() -> None:
    (only,) = sentences("Display “Built with Orca” \u2013 always.")

    assert only.text == "Display “Built with Orca” \u2013 always."
    assert only.match == 'Display "Built with Orca" - always.'


# -------------------------------------------------------------------------------- clauses

# The project's own phrasings of each clause, one sentence each.
POSITIVE = [
    ("non_commercial", "The weights may be used for non-commercial purposes only."),
    ("non_commercial", "You may not use the model or its outputs for any commercial purpose."),
    ("non_commercial", "Commercial use of the checkpoints is strictly prohibited."),
    ("non_commercial", "This release is not for commercial use."),
    ("research_only", "This checkpoint is released for research purposes only."),
    ("research_only", "You may only use the model for academic research and evaluation."),
    ("research_only", "A research-only license covers the weights."),
    (
        "user_cap",
        "If your services have more than 50 million monthly active users, you must obtain a "
        "separate license from us.",
    ),
    (
        "user_cap",
        "Organisations whose annual revenue is above $10 million need a commercial license.",
    ),
    (
        "attribution",
        'Products built on the model must prominently display "Built with Orca" in their '
        "user interface.",
    ),
    (
        "naming_requirement",
        'Any fine-tuned model you publish must have a name that begins with "Orca".',
    ),
    ("naming_requirement", 'The name of every derivative model shall include "Orca".'),
    ("aup_incorporated", "Your use of the model is subject to our Acceptable Use Policy."),
    (
        "aup_incorporated",
        "You agree to abide by the Responsible Use Policy, which is incorporated by reference.",
    ),
    (
        "geo_exclusion",
        "The model may not be used by individuals or companies located in the European Union.",
    ),
    ("geo_exclusion", "This model is not available in the United Kingdom."),
    ("output_restriction", "You may not use outputs of the model to train a competing model."),
    (
        "output_restriction",
        "Generated data may not be used to develop or improve other language models.",
    ),
    ("unilateral_changes", "We may change these terms at any time without notice."),
    ("unilateral_changes", "The usage policy may be amended from time to time."),
    ("approval_required", "Access is granted only after manual review by the authors."),
    ("approval_required", "Your request will be reviewed by our team before access is given."),
    ("approval_required", "Access to the weights is subject to approval by the authors."),
    ("no_redistribution", "You may not redistribute the model weights."),
    ("no_redistribution", "Redistribution of the weights is not permitted."),
    ("termination", "We may revoke your license at any time."),
    ("termination", "Your license terminates automatically if you violate these terms."),
    ("termination", "The Licensor may terminate this agreement if you breach any of its terms."),
]

# Sentences that share words with a clause and do not state it (open-license look-alikes).
NEGATIVE = [
    "You may use the model for commercial and non-commercial purposes.",
    "The software may be used for research or commercial purposes.",
    "Copies must include the copyright notice and this permission notice.",
    "The name of the project may not be used to endorse products without written permission.",
    "Your patent license terminates if you sue anyone for patent infringement.",
    "The steward may publish revised versions of this License from time to time.",
    "Contact us if your product has more than 1 million users.",
    "The model is available worldwide, including in the European Union.",
    "Outputs may be used to train other models.",
    "You may redistribute the weights as long as you include this license.",
    "You may not distribute the weights unless you include a copy of this license.",
    "The most recent copy of this policy can be found on our website.",
    '"We" means Example Ltd (if you are located in the EEA) and Example Inc. (elsewhere).',
    "Upon termination, you must delete all copies.",
    "You are granted a non-exclusive, non-transferable license to use and distribute the model.",
    "You must retain the attribution notices in a NOTICE text file you distribute.",
    "You are encouraged to mark your product as powered by our model.",
    "You agree to this Acceptable Use Policy when you use the model.",
    "Access requests are answered within a day.",
    "The Licensor may stop distributing the material at any time.",
    "IN NO EVENT SHALL THE AUTHORS BE LIABLE FOR ANY COMMERCIAL DAMAGES OR LOSSES.",
]


@pytest.mark.parametrize(("clause", "sentence"), POSITIVE)
def test_each_clause_is_recognised_in_its_usual_phrasings(clause: str, sentence: str) -> None:
    assert clause_ids(sentence) == [clause]


@pytest.mark.parametrize("sentence", NEGATIVE)
def test_look_alikes_yield_no_clause(sentence: str) -> None:
    assert find_clauses(sentence) == []


def test_findings_come_in_vocabulary_order_with_their_first_evidence() -> None:
    text = (
        "We may terminate this agreement if you breach it. You may not redistribute the "
        "weights. We may also terminate it at any time."
    )

    found = find_clauses(text)

    assert [(f.clause, f.evidence) for f in found] == [
        ("no_redistribution", "You may not redistribute the weights."),
        ("termination", "We may terminate this agreement if you breach it."),
    ]
    assert found[1].rule == "licensor-may-terminate"
    assert text[slice(*found[1].span)] == "We may terminate this agreement if you breach it. "


def test_automatic_termination_that_is_reinstated_on_cure_is_no_clause() -> None:
    ends = "If you fail to comply with this license, your rights under it terminate automatically."
    cured = "Terminated rights are reinstated automatically once the violation is cured."

    assert clause_ids(ends) == ["termination"]
    assert clause_ids(f"{ends} {cured}") == []


def test_a_long_list_without_full_stops_is_matched_piecewise() -> None:
    filler = "the model may be used to summarise text, " * 300
    text = filler + "you may not redistribute the model weights, " + filler

    (found,) = find_clauses(text)

    assert found.clause == "no_redistribution"
    assert "you may not redistribute the model weights" in found.evidence
    assert len(found.evidence) <= 310


def test_the_prefilter_never_changes_a_finding() -> None:
    """Skipping a rule or pattern whose required words are absent gives what searching gives."""
    import dataclasses

    rules = rules_for(None)
    unfiltered = tuple(dataclasses.replace(r, needs=tuple(() for _ in r.patterns)) for r in rules)
    assert all(not r.possible(frozenset()) for r in rules if all(r.needs))  # it does filter
    base = [s for _, s in POSITIVE] + list(NEGATIVE)
    base += [" ".join(base), "the model may be used, " * 200 + "you may not redistribute it, "]
    # case changes, and the characters IGNORECASE folds that str.lower() leaves alone
    texts = base + [t.upper() for t in base] + [t.replace("s", "\u017f") for t in base]

    def found(text: str, with_rules: tuple) -> list[tuple]:
        return [(f.clause, f.evidence, f.rule, f.span) for f in find_clauses(text, with_rules)]

    assert sum(1 for t in texts if found(t, rules)) >= len(POSITIVE)
    assert [found(t, rules) for t in texts] == [found(t, unfiltered) for t in texts]


# ---------------------------------------------------------------------------------- words


def test_every_clause_has_words() -> None:
    assert set(CLAUSE_WORDS) == set(CLAUSES)
    for clause in CLAUSES:
        assert "{" not in describe(clause)


@pytest.mark.parametrize(
    ("clause", "evidence", "words"),
    [
        (
            "user_cap",
            "is greater than 700 million monthly active users in the preceding calendar month, "
            "you must request a license from Meta",
            "requires a separate license above 700 million monthly active users",
        ),
        (
            "user_cap",
            "If your annual revenue exceeds US $1,000,000, you must obtain an enterprise license",
            "requires a separate license above US $1,000,000 in annual revenue",
        ),
        ("user_cap", None, "requires a separate license above a user or revenue threshold"),
        (
            "attribution",
            "you shall prominently display “Built with Llama” on a related website",
            "requires products to display “Built with Llama”",
        ),
        (
            "naming_requirement",
            'you shall also include "Llama" at the beginning of any such AI model name',
            "requires derivative models to carry “Llama” in their names",
        ),
        (
            "geo_exclusion",
            "not granted to you if you are domiciled in the European Union or the UK",
            "excludes users in the European Union and the United Kingdom",
        ),
        (
            "attribution",
            'keep the notice in a "Notice" text file: "Licensed by X"; and prominently display '
            '"Powered by X" on the product page',
            "requires products to display “Powered by X”",
        ),
        (
            "attribution",
            'you shall prominently display "Kimi K2" on the user interface',
            "requires products to display “Kimi K2”",
        ),
        (
            "attribution",
            "include prominently the following statement:",
            "requires products to display a name or mark",
        ),
        ("geo_exclusion", "outside the Territory", "excludes users in some regions"),
    ],
)
def test_clauses_in_words_take_their_figures_from_the_evidence(
    clause: str, evidence: str | None, words: str
) -> None:
    assert describe(clause, evidence) == words


# ---------------------------------------------------------------------------------- rules


def test_a_user_rule_file_adds_and_replaces_rules(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "clauses.toml").write_text(
        "[[rule]]\n"
        'id = "no-redistribution"\n'
        'clause = "no_redistribution"\n'
        "patterns = ['\\bkeep\\s+the\\s+weights\\s+to\\s+yourself\\b']\n",
        encoding="utf-8",
    )
    rules = rules_for(tmp_path)

    assert [r.id for r in rules].count("no-redistribution") == 1
    assert clause_ids("Please keep the weights to yourself.", rules) == ["no_redistribution"]
    assert clause_ids("You may not redistribute the weights.", rules) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[rule]]\nid = "x"\nclause = "nope"\npatterns = ["a"]\n', "unknown clause 'nope'"),
        ('[[rule]]\nid = "x"\nclause = "termination"\npatterns = ["("]\n', "invalid pattern"),
        ('[[rule]]\nid = "x"\nclause = "termination"\n', "no patterns"),
        ("[[rule]]\nclause = 'termination'\n", "a rule needs an id"),
        ("not toml [", "cannot read clause rules"),
    ],
)
def test_a_broken_rule_file_is_one_clear_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "clauses.toml"
    path.write_text(body, encoding="utf-8")

    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        load_rules(path)


# ---------------------------------------------------------------------------- open texts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/",
            "apache-2.0",
        ),
        (
            "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining",
            "mit",
        ),
        ("This license is based on the Apache License, Version 2.0, with changes.", None),
        ("Creative Commons Attribution-NonCommercial 4.0 International", None),
        ("Some community license.", None),
    ],
)
def test_known_open_license_texts_are_named_by_their_title(text: str, expected: str | None) -> None:
    assert known_open_license(text) == expected


# ------------------------------------------------------------------------- the real corpus


@needs_corpus
@pytest.mark.parametrize("doc_id", ["apache-2.0", "mit", "bsd-3-clause"])
def test_open_licenses_of_the_corpus_yield_no_clause(doc_id: str) -> None:
    text = (CORPUS / f"{doc_id}.txt").read_text(encoding="utf-8")

    assert find_clauses(text) == []
    assert known_open_license(text) == doc_id


@needs_corpus
def test_the_llama_3_1_license_carries_its_labelled_clauses_with_their_evidence() -> None:
    labels = json.loads((CORPUS / "labels.json").read_text(encoding="utf-8"))["llama3_1-community"]
    text = (CORPUS / "llama3_1-community.txt").read_text(encoding="utf-8")

    found = {f.clause: f for f in find_clauses(text)}

    assert sorted(found) == sorted(labels["clauses"])
    for clause, evidence in labels["evidence"].items():
        start = text.index(evidence)
        span = found[clause].span
        assert span[0] < start + len(evidence) and start < span[1], clause
    assert found["user_cap"].words == (
        "requires a separate license above 700 million monthly active users"
    )
