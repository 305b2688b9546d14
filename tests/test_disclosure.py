"""Withheld-details detection: the project's labelled sentence set, and the events it yields.

The set (tests/fixtures/disclosure) is written for these tests; the real labelled sentences
are scored by bench/disclosure_eval.py and checked loosely in tests/corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracker.disclosure import BUILTIN_RULES, find_withheld, load_rules, rules_for, sentences
from tracker.errors import UserError

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

    assert set(kinds) == {"page.changed", "disclosure.withheld"}
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
