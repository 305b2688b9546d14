"""The licence corpus (corpus/licenses): every text readable, every label consistent with its
document. A data check that the clause recognition work builds on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .locate import files

# The clause vocabulary of the corpus README.
CLAUSES = {
    "non_commercial", "research_only", "user_cap", "attribution", "naming_requirement",
    "aup_incorporated", "geo_exclusion", "output_restriction", "unilateral_changes",
    "approval_required", "no_redistribution", "termination",
}  # fmt: skip


def labels(corpus: Path) -> dict[str, dict[str, Any]]:
    return json.loads((corpus / "licenses" / "labels.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", files("licenses", "**/*.txt"))
def test_every_text_is_readable(path: Path) -> None:
    text = path.read_text(encoding="utf-8")

    assert len(text.split()) >= 100
    assert "\x00" not in text and "\ufffd" not in text


def test_labels_and_documents_match_one_to_one(corpus: Path) -> None:
    documents = {p.stem for p in (corpus / "licenses").glob("*.txt")}

    assert set(labels(corpus)) == documents
    assert all(record["id"] == doc_id for doc_id, record in labels(corpus).items())


def test_every_label_is_consistent(corpus: Path) -> None:
    for doc_id, record in labels(corpus).items():
        clauses = set(record["clauses"])
        assert clauses <= CLAUSES, doc_id
        assert record["category"] in ("restricted", "open_control"), doc_id
        assert record["category"] == "restricted" or not clauses, doc_id
        assert set(record["evidence"]) == clauses, doc_id
        assert set(record.get("arguable", {})) <= CLAUSES - clauses, doc_id
        assert len(record["source"]["commit"]) == 40, doc_id


def test_every_evidence_string_is_in_its_document(corpus: Path) -> None:
    checked = 0
    for doc_id, record in labels(corpus).items():
        text = (corpus / "licenses" / f"{doc_id}.txt").read_text(encoding="utf-8")
        for clause, evidence in record["evidence"].items():
            assert evidence and evidence in text, (doc_id, clause)
            checked += 1

    assert checked > 0


def test_every_version_pair_names_existing_texts(corpus: Path) -> None:
    folder = corpus / "licenses"
    pairs = json.loads((folder / "versions" / "versions.json").read_text(encoding="utf-8"))
    known = set(labels(corpus))

    assert pairs
    for pair in pairs:
        assert (folder / pair["older"]).is_file() and (folder / pair["newer"]).is_file()
        assert set(pair["corpus_ids"]) <= known
        assert set(pair["clauses_added"]) | set(pair["clauses_removed"]) <= CLAUSES
        assert not set(pair["clauses_added"]) & set(pair["clauses_removed"])
