"""Withheld-details detection: the project's labelled sentence set, and the events it yields.

The set (tests/fixtures/disclosure) is written for these tests; the real labelled sentences
are scored by bench/disclosure_eval.py and checked loosely in tests/corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracker.detect import withheld_event
from tracker.disclosure import (
    BUILTIN_RULES,
    DIMENSIONS,
    find_withheld,
    load_rules,
    required_words,
    rules_for,
    sentences,
    withheld_dimensions,
)
from tracker.errors import UserError
from tracker.events import EventDraft

from .conftest import FIXTURES
from .feeds import rss
from .sites import Site
from .test_hub import ORG, add_hub, new_events, poll
from .test_pages import add_page, events_of, page

LABELLED = [
    json.loads(line)
    for line in (FIXTURES / "disclosure" / "sentences.jsonl").read_text().splitlines()
    if line.strip()
]
RULES = load_rules(BUILTIN_RULES)
# The withholding sentence the contract (../shared/CONTRACT.md) and the issues cite, as they
# cite it: the dimensions it names are part of the contract's definition.
GPT4 = (
    "this report contains no further details about the architecture (including model size), "
    "hardware, training compute, dataset construction, training method, or similar."
)
REPORT = (
    "For competitive and safety reasons, the Vela-2 technical report provides no further "
    "details about the model's architecture, parameter count, training compute or data mixture."
)
POSITIVE_KINDS = {
    "details-withheld",
    "weights-not-released",
    "access-on-request",
    "research-or-noncommercial",
    "proprietary-data",
    "api-only",
}
NEGATIVE_KINDS = {"open-release", "permissive-licence", "harmless-words"}


def fires(text: str) -> bool:
    return bool(find_withheld(text, RULES))


def test_labelled_set_is_balanced_and_covers_every_kind() -> None:
    positives = sum(s["withheld"] for s in LABELLED)

    assert len(LABELLED) >= 40
    assert 0.35 <= positives / len(LABELLED) <= 0.65
    assert {s["kind"] for s in LABELLED if s["withheld"]} == POSITIVE_KINDS
    assert {s["kind"] for s in LABELLED if not s["withheld"]} == NEGATIVE_KINDS
    assert all(s["document"] for s in LABELLED)
    assert len({s["text"] for s in LABELLED}) == len(LABELLED)


def test_precision_and_recall_on_the_labelled_set() -> None:
    predicted = [fires(s["text"]) for s in LABELLED]
    truth = [s["withheld"] for s in LABELLED]
    true_positives = sum(p and t for p, t in zip(predicted, truth, strict=True))
    precision = true_positives / max(1, sum(predicted))
    recall = true_positives / max(1, sum(truth))

    assert precision >= 0.95, [
        s["text"] for s, p in zip(LABELLED, predicted, strict=True) if p and not s["withheld"]
    ]
    assert recall >= 0.8


def test_every_kind_of_withholding_is_caught_somewhere() -> None:
    caught = {s["kind"] for s in LABELLED if s["withheld"] and fires(s["text"])}

    assert caught == POSITIVE_KINDS


def test_the_report_sentence_fires() -> None:
    (finding,) = find_withheld(REPORT, RULES)

    assert (finding.sentence, finding.rule) == (REPORT, "no-further-details")


def test_the_gpt4_sentence_withholds_six_dimensions() -> None:
    (finding,) = find_withheld(GPT4, RULES)

    assert finding.dimensions == (
        "architecture",
        "model_size",
        "hardware",
        "compute",
        "data",
        "training_method",
    )


def dimensions_of(text: str) -> list[str]:
    return withheld_dimensions(find_withheld(text, RULES))


# The project's own sentences, one per kind of indirect wording the first rules missed, and
# the dimensions each withholds (access restrictions count as the weights, as in the corpus).
INDIRECT = [
    # a release deferred or still under consideration
    ("We will publish the checkpoints at a later date, once our safety review is done.", "weights"),
    ("Whether the weights will be opened up is still being discussed internally.", "weights"),
    ("No decision has been made yet about releasing the model.", "weights"),
    ("The weights will be uploaded later.", "weights"),
    ("The code will be released upon acceptance of the paper.", "weights"),
    ("We are still evaluating a broader release of the model.", "weights"),
    # access granted on request, or to approved researchers only
    ("Checkpoints are available upon reasonable request to the authors.", "weights"),
    ("Researchers can obtain the checkpoints by contacting us.", "weights"),
    ("The weights are shared with approved research institutions only.", "weights"),
    ("Access is restricted to vetted researchers at partner universities.", "weights"),
    ("Fill out the form below to request access to the weights.", "weights"),
    ("Access requires an application that our team reviews.", "weights"),
    # a cautious or staged approach to broader release
    ("We are taking a cautious approach to releasing this model more broadly.", "weights"),
    ("Availability will be expanded in stages over the coming months.", "weights"),
    ("We will release the system gradually, starting with a small group.", "weights"),
    ("We are cautious about a wider release for now.", "weights"),
    # access through an API or a hosted product only
    ("The model is served exclusively through our cloud API.", "weights"),
    (
        "Developers reach the model through a hosted API; the weights stay on our servers.",
        "weights",
    ),
    ("The model is available only within our assistant app.", "weights"),
    ("Joining the waitlist is the only way to try the model today.", "weights"),
    # a data set taken down for now
    ("The dataset has been taken down for now while we review reports about it.", "data"),
    ("We have temporarily pulled the corpus from the website.", "data"),
    ("Downloads of the corpus have been suspended while we investigate.", "data"),
    # use allowed only for copies obtained from the lab itself
    ("You may only use model parameters that you received directly from the Licensor.", "weights"),
    ("Use is permitted only for copies obtained from Example Labs itself.", "weights"),
]


@pytest.mark.parametrize(("text", "dimension"), INDIRECT)
def test_indirect_wordings_are_withheld_with_their_dimension(text: str, dimension: str) -> None:
    assert dimensions_of(text) == [dimension]


@pytest.mark.parametrize(
    ("text", "dimensions"),
    [
        ("The model weights will not be released.", ["weights"]),
        ("This model card contains no evaluation results.", ["evaluation"]),
        ("Evaluation results are not being published for this release.", ["evaluation"]),
        (
            "The report omits the parameter count and the size of the training set.",
            ["model_size", "data"],
        ),
        ("We do not disclose how many GPUs were used for training.", ["hardware"]),
        (
            "Neither the architecture nor the training recipe is described.",
            ["architecture", "training_method"],
        ),
        ("The training corpus is proprietary.", ["data"]),
        ("The checkpoints may not be used commercially.", ["weights"]),
        # the contrast keeps what is given apart from what is withheld
        (
            "We release the weights under Apache 2.0, but the training data is not disclosed.",
            ["data"],
        ),
        # an access sentence names what it restricts, not what the model was trained on
        ("Access to the model, trained on 2,000 GPUs, is limited to partners.", ["weights"]),
        ("We are not sharing further details about our incident response.", []),
    ],
)
def test_sentences_name_the_dimensions_they_withhold(text: str, dimensions: list[str]) -> None:
    assert find_withheld(text, RULES)
    assert dimensions_of(text) == dimensions


OPEN_OR_NEUTRAL = [
    "We release the weights under Apache 2.0 and describe the architecture in the paper.",
    "The training data, code and checkpoints are all available for download.",
    "The model card lists the hardware and the total GPU hours used for training.",
    "Duplicates were removed from the training corpus before tokenisation.",
    "We removed the legacy code from the repository.",
    "A hosted demo is available, and the weights can be downloaded from the Hub.",
    "Access the model through the hosted API or download it directly.",
    "The licence allows commercial use without a separate agreement.",
    "You may use the model for any commercial purpose.",
    "There is no waitlist: anyone can download the model today.",
    "People in regions with limited access to the internet can run the model offline.",
    "Our safety filters restrict access to harmful content.",
    "Future versions may be released with more languages.",
    "We thank the partners who gave us early access to their compute clusters.",
    "We do not share user data with third parties.",
    "Before release, the model was red-teamed by external experts.",
    "Commercial and non-commercial use are both allowed.",
    "We release the model for research and commercial applications.",
    "We are considering how to make fine-tuning cheaper.",
    "Upon request, the server returns a JSON document.",
    "Downloads stopped working on one platform; see the issue tracker.",
    "Use the model with caution in production settings.",
    "The weights can be downloaded from our website.",
]


@pytest.mark.parametrize("text", OPEN_OR_NEUTRAL)
def test_open_or_neutral_sentences_do_not_fire(text: str) -> None:
    assert find_withheld(text, RULES) == []


def test_the_prefilter_never_changes_a_result() -> None:
    """Skipping a pattern whose required words are absent gives what searching gives."""
    import dataclasses

    unfiltered = tuple(dataclasses.replace(r, needs=tuple(() for _ in r.patterns)) for r in RULES)
    texts = [GPT4, *(t for t, _ in INDIRECT), *OPEN_OR_NEUTRAL]
    # case changes, and the characters IGNORECASE folds that str.lower() leaves alone
    texts += [t.upper() for t in texts] + [t.replace("s", "\u017f") for t in texts]

    assert [find_withheld(t, RULES) for t in texts] == [find_withheld(t, unfiltered) for t in texts]


def test_required_words_come_from_the_pattern() -> None:
    import re

    assert frozenset({"withh"}) in required_words(re.compile(r"\bwith(?:held|hold)\b", re.I))
    assert frozenset({"weights", "checkpoint"}) in required_words(
        re.compile(r"\b(?:weights|checkpoints?)\s+(?:are\s+)?gone\b", re.I)
    )
    # an optional part requires nothing
    assert required_words(re.compile(r"(?:secret)?x", re.I)) == ()


def test_withheld_event_carries_the_union_of_dimensions() -> None:
    cause = EventDraft(
        kind="post.published", subject="https://lab.example/post", title="Post", fingerprint="p1"
    )
    text = f"{GPT4}\nThe model weights will not be released."

    event = withheld_event(cause, text, RULES)

    assert event is not None
    # Drafts are frozen: their lists are tuples until stored.
    assert list(event.data["dimensions"]) == list(DIMENSIONS[:7])
    assert event.data["rule"] and event.data["sentence"] == GPT4
    assert [list(m["dimensions"]) for m in event.data["matches"]][1] == ["weights"]


@pytest.mark.parametrize(
    "text",
    [
        "We are releasing the weights under the Apache 2.0 license.",
        "Brise 3 is a fully open language model: weights, data, code and logs are available.",
        "The model is open source and available on Hugging Face.",
        "For more details, see the paper.",
        "Pull requests are welcome; please open an issue first.",
    ],
)
def test_open_release_announcements_do_not_fire(text: str) -> None:
    assert not fires(text)


def test_sentences_are_split_on_ends_and_lines() -> None:
    assert sentences("First one. Second one!\nThird") == ["First one.", "Second one!", "Third"]


def test_user_rules_carry_dimensions_and_terms(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "withheld.toml").write_text(
        "[[rule]]\nid = 'embargo'\npatterns = ['\\bembargoed\\b']\ndimensions = ['weights']\n"
        "[[dimension]]\nid = 'evaluation'\nterms = ['\\bscorecards?\\b']\n"
    )
    rules_for.cache_clear()
    try:
        rules = rules_for(tmp_path)
        assert dimensions_of_with(rules, "The weights are embargoed until 2027.") == ["weights"]
        assert dimensions_of_with(rules, "The scorecards are embargoed.") == ["evaluation"]
    finally:
        rules_for.cache_clear()


def dimensions_of_with(rules, text: str) -> list[str]:  # type: ignore[no-untyped-def]
    return withheld_dimensions(find_withheld(text, rules))


def test_user_rules_extend_and_override(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "withheld.toml").write_text(
        '[[rule]]\nid = "embargo"\ndescription = "embargoed"\npatterns = [\'\\bembargoed\\b\']\n'
    )
    rules_for.cache_clear()
    try:
        rules = rules_for(tmp_path)
        assert [f.rule for f in find_withheld("The weights are embargoed until 2027.", rules)] == [
            "embargo"
        ]
        assert len(rules) == len(RULES) + 1
    finally:
        rules_for.cache_clear()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[[rule]]\nid = 'x'\npatterns = ['(unclosed']\n", "invalid pattern"),
        ("[[rule]]\npatterns = ['a']\n", "needs an id"),
        ("[[rule]]\nid = 'x'\n", "no patterns"),
        ("not toml [", "cannot read"),
        ("[[rule]]\nid = 'x'\npatterns = ['a']\ndimensions = ['vibes']\n", "unknown dimension"),
        ("[[dimension]]\nid = 'weights'\n", "no terms"),
    ],
)
def test_bad_rule_files_are_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(content)

    with pytest.raises(UserError, match=message):
        load_rules(path)


def test_feed_entry_withholding_details_yields_both_events(db, site: Site) -> None:
    from .test_poll import add_feed, poll_all

    url = site.put("/feed.xml", rss(("a", "Old news")))
    add_feed(db, url)
    poll_all(db)
    site.put(
        "/feed.xml",
        rss(("a", "Old news"), ("vela2", "Vela-2 technical report")).replace(
            "About Vela-2 technical report", REPORT
        ),
    )

    report = poll_all(db)

    with db.session() as session:
        from sqlmodel import select

        from tracker.models import Event

        found = {
            e.kind: e for e in session.exec(select(Event).where(Event.id.in_(report.event_ids)))
        }
    assert set(found) == {"post.published", "disclosure.withheld"}
    withheld = found["disclosure.withheld"]
    assert withheld.subject == found["post.published"].subject
    assert withheld.data["sentence"] == REPORT
    assert withheld.data["rule"]
    assert withheld.severity == "warning"


def test_revised_policy_page_yields_withheld(db, site: Site) -> None:
    add_page(db, site.put("/license", page("policy_v2_cosmetic.html"), content_type="text/html"))
    poll(db)
    site.put("/license", page("policy_v3_revised.html"), content_type="text/html")

    kinds = {e.kind: e for e in events_of(db, poll(db))}

    # The revision restricts use too: its terms gained clauses (see test_page_terms.py).
    assert set(kinds) == {"page.changed", "disclosure.withheld", "license.terms_changed"}
    assert kinds["license.terms_changed"].data["clauses_added"] == [
        "non_commercial",
        "research_only",
    ]
    matched = [m["sentence"] for m in kinds["disclosure.withheld"].data["matches"]]
    assert any("will not be released" in sentence for sentence in matched)
    assert any("non-commercial research purposes only" in sentence for sentence in matched)


def test_model_card_withholding_weights_fires_once(db, hub) -> None:
    repo = f"{ORG}/Frontier-1"
    hub.add_repo("model", repo, license="other")
    hub.set_readme("model", repo, "# Frontier-1\nA strong model.")
    add_hub(db, ORG)
    poll(db)
    hub.set_readme(
        "model",
        repo,
        "# Frontier-1\nThe model weights will not be released. Access is via our API.",
    )
    hub.commit("model", repo)

    first = {e.kind: e for e in new_events(db, poll(db))}
    hub.commit("model", repo)  # same README, new commit
    second = {e.kind for e in new_events(db, poll(db))}

    assert set(first) == {"repo.updated", "disclosure.withheld"}
    assert first["disclosure.withheld"].subject == repo
    assert first["disclosure.withheld"].data["openness"]["after"]["license"] == "unknown"
    assert second == {"repo.updated"}
    # One README read per new head commit, none otherwise.
    assert len([r for r in hub.requests if r.path.endswith("/README.md")]) == 2


def test_a_very_long_sentence_is_cut_around_the_match() -> None:
    text = ", ".join(["a feature"] * 300) + ", and the weights will not be released"

    (finding,) = find_withheld(text, RULES)

    assert len(finding.sentence) <= 402
    assert "will not be released" in finding.sentence
    assert finding.sentence.startswith("…")


CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "disclosure"


def test_held_aside_check_split_keeps_its_floor() -> None:
    """Loose floors on the corpus's `check` split, so that a collapse shows in CI (the
    figures themselves are in bench/RESULTS.md)."""
    path = CORPUS / "more_sentences.jsonl"
    if not path.is_file():
        pytest.skip(f"no disclosure corpus at {CORPUS}")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    check = [r for r in rows if r["split"] == "check"]
    predicted = [bool(find_withheld(r["text"], RULES)) for r in check]
    truth = [r["label"] == "withheld" for r in check]
    hits = sum(p and t for p, t in zip(predicted, truth, strict=True))

    assert hits / max(1, sum(predicted)) >= 0.9
    assert hits / max(1, sum(truth)) >= 0.8
