"""Precision, recall and dimensions of the withheld-details rules on the labelled corpus.

    python bench/disclosure_eval.py [--corpus DIR] [--rules FILE ...] [--errors]
                                    [--per-rule] [--redos] [--write-results]
                                    [--min-precision P] [--min-recall R]

Reads the two labelled files of DIR (default ../shared/corpus/disclosure):
`sentences.jsonl` (the first set: `withheld` true/false, no dimensions) and
`more_sentences.jsonl` (the second: `label` withheld/open/negative, the `dimensions` each
withholding sentence withholds, and a `tune`/`check` split by document). The rules were
written on the first set and on `tune`; `check` is held aside: this script prints its
figures and never its sentences, so that nothing read here can leak into the rules.

The package's own `load_rules` and `find_withheld` are measured (what ships, including the
sentence splitting and the dimension vocabulary), on each line of the files as one text.

Prints, per set: precision, recall and F1 of "this sentence withholds something"; for the
withholding sentences of the second set, precision and recall per dimension (a dimension
predicted for a sentence whose label lacks it is a false positive, one missed a false
negative) and how many sentences got exactly their labelled set; the cost per sentence
(median of repeated runs over all the sentences). --errors lists the false positives and
negatives of the first set and of `tune` only. --write-results replaces this benchmark's
section of bench/RESULTS.md with the run's figures.

Exit status: 0; 1 when --min-precision / --min-recall are given and `check` misses them;
2 with one line when the corpus or a rules file cannot be read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchutil import describe_setup  # noqa: E402

from tracker.disclosure import (  # noqa: E402
    BUILTIN_RULES,
    DIMENSIONS,
    Rule,
    find_withheld,
    load_rules,
    withheld_dimensions,
)
from tracker.errors import UserError  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "disclosure"
FIRST, SECOND = "sentences.jsonl", "more_sentences.jsonl"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Withheld details and their dimensions (`python bench/disclosure_eval.py`)"


@dataclass(frozen=True)
class Labelled:
    text: str
    withheld: bool
    dimensions: tuple[str, ...] | None  # None: the set does not label dimensions
    source: str


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    errors: list[tuple[str, Labelled, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class DimensionScore:
    per: dict[str, list[int]] = field(default_factory=lambda: {d: [0, 0, 0] for d in DIMENSIONS})
    exact: int = 0
    detected: int = 0

    def add(self, gold: tuple[str, ...], predicted: list[str]) -> None:
        self.detected += 1
        self.exact += set(gold) == set(predicted)
        for dim in DIMENSIONS:
            counts = self.per[dim]  # [tp, fp, fn]
            if dim in gold and dim in predicted:
                counts[0] += 1
            elif dim in predicted:
                counts[1] += 1
            elif dim in gold:
                counts[2] += 1


def fail(message: str) -> SystemExit:
    print(message, file=sys.stderr)
    return SystemExit(2)


def read_jsonl(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise fail(f"cannot read {path}: {exc.strerror or exc}") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise fail(f"{path}:{n}: not JSON: {exc.msg}") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise fail(f"{path}:{n}: expected an object with a text")
        rows.append(row)
    return rows


def load_corpus(corpus: Path) -> dict[str, list[Labelled]]:
    """The first set, and the second set's tune and check splits."""
    if not (corpus / FIRST).is_file() or not (corpus / SECOND).is_file():
        raise fail(f"no disclosure corpus at {corpus} (expected {FIRST} and {SECOND}); skipped")
    sets: dict[str, list[Labelled]] = {"first set": [], "tune": [], "check": []}
    for row in read_jsonl(corpus / FIRST):
        if not isinstance(row.get("withheld"), bool):
            raise fail(f"{corpus / FIRST}: 'withheld' must be true or false")
        row_source = row.get("source", "")
        sets["first set"].append(Labelled(row["text"], row["withheld"], None, row_source))
    for row in read_jsonl(corpus / SECOND):
        split, label = row.get("split"), row.get("label")
        if split not in ("tune", "check") or label not in ("withheld", "open", "negative"):
            raise fail(f"{corpus / SECOND}: each line needs split tune|check and a label")
        dims = tuple(row.get("dimensions") or ())
        sets[split].append(Labelled(row["text"], label == "withheld", dims, row.get("source", "")))
    return sets


def evaluate(rows: list[Labelled], rules: tuple[Rule, ...]) -> tuple[Score, DimensionScore]:
    score, dims = Score(), DimensionScore()
    for row in rows:
        findings = find_withheld(row.text, rules)
        if findings and row.withheld:
            score.tp += 1
            if row.dimensions is not None:
                dims.add(row.dimensions, withheld_dimensions(findings))
        elif findings:
            score.fp += 1
            score.errors.append(("FP", row, findings[0].rule))
        elif row.withheld:
            score.fn += 1
            score.errors.append(("FN", row, ""))
        else:
            score.tn += 1
    return score, dims


def cost_per_sentence(texts: list[str], rules: tuple[Rule, ...], repeats: int = 15) -> float:
    """Median µs per sentence of find_withheld over all the texts."""
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for text in texts:
            find_withheld(text, rules)
        runs.append((time.perf_counter() - start) / len(texts) * 1e6)
    return statistics.median(runs)


def redos_check(rules: tuple[Rule, ...], limit: float = 0.05) -> list[tuple[str, str, float]]:
    """Time each pattern on long hostile inputs; return the slow ones."""
    probes = [
        "a " * 20000,
        "details " * 5000,
        "not " * 5000 + "x",
        "weights " * 5000 + "are",
        "the model weights and code and data " * 800,
        "x" * 50000,
        ("available " * 3000) + "to",
        "only " * 5000 + "via",
        "access " * 5000 + "granted",
    ]
    slow = []
    for rule in rules:
        for pattern in rule.patterns + rule.unless:
            worst = 0.0
            for probe in probes:
                start = time.perf_counter()
                pattern.search(probe)
                worst = max(worst, time.perf_counter() - start)
            if worst > limit:
                slow.append((rule.id, pattern.pattern, worst))
    return slow


def report(
    sets: dict[str, list[Labelled]], rules: tuple[Rule, ...], rule_files: list[Path]
) -> tuple[list[str], dict[str, tuple[Score, DimensionScore]]]:
    results = {name: evaluate(rows, rules) for name, rows in sets.items()}
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in rule_files)).hexdigest()[:12]
    texts = [row.text for rows in sets.values() for row in rows]
    micros = cost_per_sentence(texts, rules)
    names = ", ".join(str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p) for p in rule_files)
    lines = [
        f"setup: {describe_setup()}",
        f"rules: {names}"
        f" (sha256 {digest}; {len(rules)} rules, {sum(len(r.patterns) for r in rules)} patterns)",
        "",
        "set          sentences withheld   TP  FP  FN   TN  precision recall    F1",
    ]
    for name, (score, _) in results.items():
        rows = sets[name]
        lines.append(
            f"{name:12s} {len(rows):9d} {sum(r.withheld for r in rows):8d} {score.tp:4d}"
            f" {score.fp:3d} {score.fn:3d} {score.tn:4d}      {score.precision:.3f}"
            f"  {score.recall:.3f} {score.f1:.3f}"
        )
    for name in ("tune", "check"):
        if name not in results:
            continue
        _, dims = results[name]
        lines += [
            "",
            f"dimensions on {name} (withholding sentences detected: {dims.detected}; "
            f"exactly the labelled set: {dims.exact})",
            "dimension        labelled predicted  TP  FP  FN  precision recall",
        ]
        for dim in DIMENSIONS:
            tp, fp, fn = dims.per[dim]
            if tp + fp + fn == 0:
                continue
            p = f"{tp / (tp + fp):.3f}" if tp + fp else "  -  "
            r = f"{tp / (tp + fn):.3f}" if tp + fn else "  -  "
            lines.append(
                f"{dim:16s} {tp + fn:8d} {tp + fp:9d} {tp:3d} {fp:3d} {fn:3d}      {p}  {r}"
            )
    lines += ["", f"cost: {micros:.1f} µs per sentence (median of 15 runs over {len(texts)})"]
    return lines, results


def write_results(lines: list[str], argv: list[str]) -> None:
    """Replace this benchmark's section of bench/RESULTS.md (or append it)."""
    shown = [a for a in argv if a != "--write-results"]
    command = " ".join(["python bench/disclosure_eval.py", *shown])
    body = "\n".join(
        [
            SECTION,
            "",
            "The withheld-details rules (`tracker/rules/withheld.toml`) on the labelled real",
            "sentences of ../shared/corpus/disclosure. They were written on `sentences.jsonl`",
            "(the first set) and the `tune` split of `more_sentences.jsonl`; `check` (25",
            "documents, split by document) was held aside and only measured. Dimension figures",
            "are over the withholding sentences the rules detected.",
            "",
            f"Command: `{command.strip()}`",
            "",
            "```",
            *lines,
            "```",
            "",
        ]
    )
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    start = text.find(SECTION)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + body
    else:
        after = text.find("\n## ", start + len(SECTION))
        text = text[:start] + body + (text[after + 1 :] if after != -1 else "")
    RESULTS.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--rules", type=Path, action="append", help="rules files (default: built-in)")
    ap.add_argument("--errors", action="store_true", help="list errors on the first set and tune")
    ap.add_argument("--per-rule", action="store_true", help="true/false positives per rule")
    ap.add_argument("--redos", action="store_true", help="time patterns on adversarial input")
    ap.add_argument("--write-results", action="store_true", help="update bench/RESULTS.md")
    ap.add_argument("--no-check", action="store_true", help="leave check out (while tuning)")
    ap.add_argument("--min-precision", type=float, default=None)
    ap.add_argument("--min-recall", type=float, default=None)
    args = ap.parse_args(argv)

    rule_files = [p.resolve() for p in args.rules] if args.rules else [BUILTIN_RULES]
    missing = [p for p in rule_files if not p.is_file()]
    if missing:
        raise fail(f"no rules file {missing[0]}")
    try:
        rules = load_rules(*rule_files)
    except UserError as exc:
        raise fail(str(exc)) from None
    sets = load_corpus(args.corpus)
    if args.no_check:
        del sets["check"]

    lines, results = report(sets, rules, rule_files)
    print("\n".join(lines))

    if args.per_rule:
        print("\nper rule on the first set and tune (true positives / false positives):")
        counts = {r.id: [0, 0] for r in rules}
        for name in ("first set", "tune"):
            for row in sets[name]:
                for rule in rules:
                    if rule.fires(row.text):
                        counts[rule.id][0 if row.withheld else 1] += 1
        for rid, (t, f) in counts.items():
            print(f"  {rid:32s} {t:3d} / {f:d}")

    if args.errors:
        for name in ("first set", "tune"):
            errors = results[name][0].errors
            print(f"\nerrors on {name} ({len(errors)}):")
            for kind, row, rule_id in errors:
                print(f"  {kind} {('[' + rule_id + '] ') if rule_id else ''}{row.text}")

    if args.redos:
        slow = redos_check(rules)
        print(f"\nredos check: {len(slow)} slow pattern(s)")
        for rid, pattern, secs in slow:
            print(f"  [{rid}] {secs * 1000:.0f} ms: {pattern}")

    if args.write_results:
        write_results(lines, argv)
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")

    if "check" not in results:
        return 0
    check = results["check"][0]
    failed = (args.min_precision is not None and check.precision < args.min_precision) or (
        args.min_recall is not None and check.recall < args.min_recall
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
