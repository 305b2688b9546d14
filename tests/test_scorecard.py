"""The disclosure scorecard of a release, and disclosure.regressed between two releases.

The Hub bodies below follow the shapes of huggingface_hub's ModelInfo (cardData, config,
safetensors {parameters, total}, siblings [{rfilename}], gated, model-index); the card
texts are the project's own.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracker.detect.scorecard import (
    DISCLOSED,
    UNKNOWN,
    WITHHELD,
    ReleaseFacts,
    Scorecard,
    previous_release,
    regression,
    scorecard,
)
from tracker.disclosure import DIMENSIONS
from tracker.events import KIND_SEVERITY

RICH_README = """---
license: apache-2.0
---
# Example-7B

Example-7B is a decoder-only transformer with 32 layers and 7.2 billion parameters.

## Training Data

The pre-training corpus mixes filtered web pages, code from permissively licensed
repositories and public-domain books, 2 trillion tokens in all.

## Training Procedure

We pre-trained with a next-token objective, then applied supervised fine-tuning and
direct preference optimization on the instruction mixture described above.

## Evaluation

| benchmark | score |
|---|---|
| MMLU | 64.1 |
| GSM8K | 52.3 |
"""

RICH_INFO = {
    "id": "example-lab/Example-7B",
    "author": "example-lab",
    "createdAt": "2025-03-01T10:00:00.000Z",
    "gated": False,
    "tags": ["transformers", "safetensors", "license:apache-2.0"],
    "cardData": {
        "license": "apache-2.0",
        "datasets": ["example-lab/web-mix", "example-lab/code-mix"],
        "co2_eq_emissions": {
            "emissions": 125000,
            "source": "our own estimate",
            "training_type": "pre-training",
            "geographical_location": "Example Region",
            "hardware_used": "512 H100 GPUs",
        },
        "model-index": [
            {
                "name": "Example-7B",
                "results": [
                    {
                        "task": {"type": "text-generation"},
                        "dataset": {"type": "mmlu", "name": "MMLU"},
                        "metrics": [{"type": "accuracy", "value": 64.1}],
                    }
                ],
            }
        ],
    },
    "config": {"architectures": ["LlamaForCausalLM"], "model_type": "llama"},
    "safetensors": {"parameters": {"BF16": 7_241_732_096}, "total": 7_241_732_096},
    "siblings": [
        {"rfilename": ".gitattributes"},
        {"rfilename": "README.md"},
        {"rfilename": "config.json"},
        {"rfilename": "model-00001-of-00002.safetensors"},
        {"rfilename": "model-00002-of-00002.safetensors"},
    ],
}

BARE_README = """# Example-Next

Example-Next is our newest assistant model. It is available only through our API.
This card contains no evaluation results, and the training data is not disclosed.
"""

BARE_INFO = {
    "id": "example-lab/Example-Next",
    "author": "example-lab",
    "createdAt": "2025-09-01T10:00:00.000Z",
    "gated": "manual",
    "cardData": {"license": "other"},
    "siblings": [{"rfilename": ".gitattributes"}, {"rfilename": "README.md"}],
}

GPT4 = (
    "Given both the competitive landscape and the safety implications of large-scale models "
    "like GPT-4, this report contains no further details about the architecture (including "
    "model size), hardware, training compute, dataset construction, training method, or similar."
)


def card_of(info: dict, readme: str = "") -> Scorecard:  # type: ignore[type-arg]
    return scorecard(ReleaseFacts.from_model_info(info, readme))


def test_a_rich_card_discloses_every_dimension_with_field_evidence() -> None:
    card = card_of(RICH_INFO, RICH_README)

    assert card.score == len(DIMENSIONS)
    assert card.subject == "example-lab/Example-7B" and card.author == "example-lab"
    assert card.status("architecture").evidence == "config.architectures: LlamaForCausalLM"
    assert card.status("model_size").evidence == "safetensors.total: 7,241,732,096 parameters"
    assert card.status("hardware").evidence == "co2_eq_emissions.hardware_used: 512 H100 GPUs"
    assert card.status("compute").evidence == "co2_eq_emissions.emissions: 125000"
    assert card.status("data").evidence.startswith("cardData.datasets: example-lab/web-mix")
    assert card.status("evaluation").evidence == "model-index: Example-7B"
    assert card.status("weights").evidence.startswith("files: model-00001-of-00002.safetensors")
    # no field says how it was trained: the card's own words do
    assert card.status("training_method").evidence.startswith("We pre-trained")


def test_the_readme_alone_discloses_from_sentences_and_sections() -> None:
    card = scorecard(ReleaseFacts.from_text("Example-7B card", RICH_README, author="example-lab"))

    assert card.status("architecture").status == DISCLOSED
    assert card.status("model_size").evidence.startswith("Example-7B is a decoder-only")
    assert card.status("data").status == DISCLOSED
    assert card.status("evaluation").status == DISCLOSED
    assert card.status("hardware").status == UNKNOWN
    assert card.status("weights").status == UNKNOWN  # a text names no files


def test_a_bare_card_withholds_with_its_sentences_and_fields() -> None:
    card = card_of(BARE_INFO, BARE_README)

    assert card.score == 0
    assert card.withheld == ("data", "weights", "evaluation")
    assert (
        card.status("weights").evidence == "gated: manual (each request is approved by the author)"
    )
    assert (
        card.status("evaluation").evidence
        == "This card contains no evaluation results, and the training data is not disclosed."
    )
    assert card.status("architecture").status == UNKNOWN
    assert [d.dimension for d in card.dimensions] == list(DIMENSIONS)


def test_the_gpt4_report_withholds_six_dimensions() -> None:
    card = scorecard(ReleaseFacts.from_text("GPT-4 Technical Report", GPT4, author="openai"))

    assert card.withheld == DIMENSIONS[:6]
    assert card.status("architecture").evidence == GPT4
    assert card.status("weights").status == UNKNOWN


def test_an_open_release_post_discloses_and_withholds_nothing() -> None:
    text = "We release the weights under Apache 2.0 and describe the architecture in the paper."

    card = scorecard(ReleaseFacts.from_text("Open post", text, author="example-lab"))

    assert card.withheld == ()
    assert card.disclosed == ("architecture", "weights")


@pytest.mark.parametrize(
    ("change", "status", "evidence"),
    [
        ({"gated": "manual"}, WITHHELD, "gated: manual (each request is approved by the author)"),
        ({"cardData": {"license": "cc-by-nc-4.0"}}, WITHHELD, "license: cc-by-nc-4.0"),
        ({"siblings": [{"rfilename": "README.md"}]}, WITHHELD, "no weight files among"),
        ({"gated": "auto"}, DISCLOSED, "files: "),
    ],
)
def test_weights_follow_files_gating_and_licence(change: dict, status: str, evidence: str) -> None:  # type: ignore[type-arg]
    card = card_of(RICH_INFO | change)

    assert card.status("weights").status == status
    assert card.status("weights").evidence.startswith(evidence)


def test_a_template_section_left_empty_discloses_nothing() -> None:
    readme = (
        "# M\n\n## Training Data\n\n[More Information Needed]\n\n## Evaluation\n\n<!-- todo -->\n"
    )

    card = scorecard(ReleaseFacts.from_text("M", readme))

    assert card.status("data").status == UNKNOWN
    assert card.status("evaluation").status == UNKNOWN


def test_a_release_that_discloses_less_yields_regressed() -> None:
    before, after = card_of(RICH_INFO, RICH_README), card_of(BARE_INFO, BARE_README)

    event = regression(before, after)

    assert event is not None
    assert event.kind == "disclosure.regressed" and event.severity == "warning"
    assert event.subject == "example-lab/Example-Next"
    assert event.data["previous"] == "example-lab/Example-7B"
    assert event.data["lost"] == list(DIMENSIONS)
    assert (event.data["score_before"], event.data["score_after"]) == (8, 0)
    assert event.data["evidence"]["weights"].startswith("gated: manual")
    assert event.fingerprint == "after:example-lab/Example-7B"


@pytest.mark.parametrize("later", ["same", "more"])
def test_equal_or_more_disclosure_yields_nothing(later: str) -> None:
    bare = card_of(BARE_INFO, BARE_README)
    rich = card_of(RICH_INFO, RICH_README)

    if later == "same":
        assert (
            regression(bare, card_of(BARE_INFO | {"id": "example-lab/Other"}, BARE_README)) is None
        )
    else:
        assert regression(bare, rich) is None


def test_the_previous_release_is_the_authors_latest_before() -> None:
    first = card_of(RICH_INFO | {"createdAt": "2024-01-01T00:00:00Z", "id": "example-lab/A"})
    second = card_of(RICH_INFO, RICH_README)
    other = card_of(RICH_INFO | {"author": "someone", "id": "someone/B"})
    current = card_of(BARE_INFO, BARE_README)

    assert previous_release([first, second, other, current], current) == second
    assert previous_release([current], current) is None
    assert current.published_at == datetime(2025, 9, 1, 10, tzinfo=UTC)


def test_the_kind_is_in_the_vocabulary_and_scorecards_serialise() -> None:
    card = card_of(RICH_INFO, RICH_README).to_dict()

    assert KIND_SEVERITY["disclosure.regressed"] == "warning"
    assert card["score"] == 8
    assert card["dimensions"]["weights"]["status"] == DISCLOSED
    assert set(card["dimensions"]) == set(DIMENSIONS)


def test_odd_hub_shapes_do_not_break_the_facts() -> None:
    facts = ReleaseFacts.from_model_info(
        {
            "id": "x/y",
            "cardData": {"datasets": "one-dataset", "co2_eq_emissions": 12.5},
            "safetensors": None,
            "siblings": [{"size": 3}, "not a mapping"],
            "createdAt": "yesterday",
            "config": ["not", "a", "mapping"],
        }
    )
    card = scorecard(facts)

    assert facts.author == "x" and facts.published_at is None and facts.files == ()
    assert card.status("data").evidence == "cardData.datasets: one-dataset"
    assert card.status("compute").evidence == "co2_eq_emissions: 12.5"
    assert card.status("architecture").status == UNKNOWN
