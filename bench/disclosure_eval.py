"""Precision and recall of the withheld-details rules on real labelled sentences.

    python bench/disclosure_eval.py [--rules tracker/rules/withheld.toml]
                                    [--corpus ../shared/corpus] [--sentences FILE]...
                                    [--per-rule] [--redos]

By default it scores the two real labelled sets of the corpus kept beside the project,
../shared/corpus/disclosure/sentences.jsonl and more_sentences.jsonl (their README says
where each sentence comes from and how the sets were used); --corpus points elsewhere, and
--sentences scores the given files instead (e.g. the test suite's own set,
tests/fixtures/disclosure/sentences.jsonl, which was written knowing the rules: its score is
no accuracy figure). A line is one sentence, labelled either `"withheld": true|false` or
`"label": "withheld"|"open"|"negative"`; files with a `split` field (`tune`, `check`) are
also scored per split, and the `check` split is the one set aside before tuning.

Stand-alone: reads the TOML rules with tomllib and the JSON-lines sentences, nothing else
from the package. Each line is one sentence (nothing is split). A rule fires on a sentence
when any of its `patterns` matches (re.search, re.IGNORECASE) and none of its `unless`
patterns does; a sentence is predicted "withheld" when any rule fires. Prints precision,
recall and F1 per file (and split), then every false positive (with the rules that fired)
and every false negative (with the rules whose `unless` suppressed a match, if any).

--per-rule adds how many true and false positives each rule produced on its own.
--redos times every pattern against long adversarial strings and flags any slower than
50 ms (a sign of catastrophic backtracking).

Exit status: 0; 1 when --min-precision / --min-recall are given and a file misses them;
2 when there is nothing to score (no corpus and no --sentences).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RULES = ROOT / "tracker" / "rules" / "withheld.toml"
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"
CORPUS_SETS = ("sentences.jsonl", "more_sentences.jsonl")


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...]

    def matches(self, text: str) -> bool:
        return any(p.search(text) for p in self.patterns)

    def suppressed(self, text: str) -> bool:
        return any(p.search(text) for p in self.unless)

    def fires(self, text: str) -> bool:
        return self.matches(text) and not self.suppressed(text)


def load_rules(path: Path) -> list[Rule]:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, raw in enumerate(data.get("rule", [])):
        rid = raw.get("id")
        if not rid or not isinstance(rid, str):
            raise SystemExit(f"{path}: rule #{i + 1} has no id")
        if rid in seen:
            raise SystemExit(f"{path}: duplicate rule id {rid!r}")
        seen.add(rid)
        unknown = set(raw) - {"id", "description", "patterns", "unless"}
        if unknown:
            raise SystemExit(f"{path}: rule {rid!r} has unknown keys {sorted(unknown)}")
        patterns = raw.get("patterns") or []
        if not patterns:
            raise SystemExit(f"{path}: rule {rid!r} has no patterns")

        rules.append(
            Rule(
                id=rid,
                description=raw.get("description", ""),
                patterns=_compile_all(path, rid, patterns, "pattern"),
                unless=_compile_all(path, rid, raw.get("unless") or [], "unless"),
            )
        )
    return rules


def _compile_all(path: Path, rid: str, items: list[str], key: str) -> tuple[re.Pattern[str], ...]:
    out = []
    for src in items:
        try:
            out.append(re.compile(src, re.IGNORECASE))
        except re.error as exc:
            raise SystemExit(f"{path}: rule {rid!r} {key} {src!r}: {exc}") from exc
    return tuple(out)


def load_sentences(path: Path) -> list[dict]:
    """Rows with `text`, a boolean `withheld` (read from `label` when that is the format),
    `source` and, when the file has one, `split`."""
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{n}: not JSON ({exc})") from None
            if not isinstance(row.get("text"), str):
                raise SystemExit(f"{path}:{n}: missing 'text'")
            if "withheld" not in row and "label" in row:
                row["withheld"] = row["label"] == "withheld"
            if not isinstance(row.get("withheld"), bool):
                raise SystemExit(f"{path}:{n}: needs 'withheld' (true/false) or 'label'")
            row["source"] = row.get("source") or row.get("document") or ""
            rows.append(row)
    return rows


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

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

    def line(self) -> str:
        return (
            f"TP={self.tp} FP={self.fp} FN={self.fn} TN={self.tn}  "
            f"precision={self.precision:.3f} recall={self.recall:.3f} F1={self.f1:.3f}"
        )


def score(rules: list[Rule], rows: list[dict], args: argparse.Namespace, path: Path) -> Score:
    """Score one file, print its figures and errors; return the whole file's score."""
    total = Score()
    by_split: dict[str, Score] = {}
    false_pos: list[tuple[dict, list[str]]] = []
    false_neg: list[tuple[dict, list[str]]] = []
    per_rule = {r.id: [0, 0] for r in rules}  # [true positives, false positives]
    for row in rows:
        text = row["text"]
        fired = [r.id for r in rules if r.fires(text)]
        for rid in fired:
            per_rule[rid][0 if row["withheld"] else 1] += 1
        part = by_split.setdefault(str(row["split"]), Score()) if "split" in row else None
        predicted = bool(fired)
        if predicted:
            outcome = "tp" if row["withheld"] else "fp"
        else:
            outcome = "fn" if row["withheld"] else "tn"
        for counted in (total, part):
            if counted is not None:
                setattr(counted, outcome, getattr(counted, outcome) + 1)
        if outcome == "fp":
            false_pos.append((row, fired))
        elif outcome == "fn":
            blocked = [r.id for r in rules if r.matches(text) and r.suppressed(text)]
            false_neg.append((row, blocked))

    positives = total.tp + total.fn
    print(f"\nsentences: {path} ({len(rows)}: {positives} withheld, {len(rows) - positives} not)")
    print(f"  all     {total.line()}")
    for split, counted in sorted(by_split.items()):
        print(f"  {split:<7} {counted.line()}")

    if args.per_rule:
        print("  per rule (true positives / false positives):")
        for r in rules:
            t, f = per_rule[r.id]
            print(f"    {r.id:32s} {t:3d} / {f:d}")

    print(f"  false positives ({len(false_pos)}):")
    for row, fired in false_pos:
        print(f"    [{', '.join(fired)}] {row['text']}")
        print(f"        source: {row['source']}")
    print(f"  false negatives ({len(false_neg)}):")
    for row, blocked in false_neg:
        note = f" (suppressed by unless of: {', '.join(blocked)})" if blocked else ""
        print(f"    [-]{note} {row['text']}")
        print(f"        source: {row['source']}")
    return total


def redos_check(rules: list[Rule], limit: float = 0.05) -> list[tuple[str, str, float]]:
    """Time each pattern on long hostile inputs; return the slow ones."""
    probes = [
        "a " * 20000,
        "details " * 5000,
        "not " * 5000 + "x",
        "weights " * 5000 + "are",
        "the model weights and code and data " * 800,
        "x" * 50000,
        ("available " * 3000) + "to",
    ]
    slow = []
    for rule in rules:
        for pat in rule.patterns + rule.unless:
            worst = 0.0
            for probe in probes:
                start = time.perf_counter()
                pat.search(probe)
                worst = max(worst, time.perf_counter() - start)
            if worst > limit:
                slow.append((rule.id, pat.pattern, worst))
    return slow


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rules", type=Path, default=DEFAULT_RULES)
    ap.add_argument(
        "--corpus", type=Path, default=DEFAULT_CORPUS, help="the corpus of real recordings"
    )
    ap.add_argument(
        "--sentences", type=Path, action="append", help="score this file instead (repeatable)"
    )
    ap.add_argument("--per-rule", action="store_true", help="print true/false positives per rule")
    ap.add_argument("--redos", action="store_true", help="time patterns on adversarial input")
    ap.add_argument("--min-precision", type=float, default=None)
    ap.add_argument("--min-recall", type=float, default=None)
    args = ap.parse_args(argv)

    paths = args.sentences or [args.corpus / "disclosure" / name for name in CORPUS_SETS]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        where = "" if args.sentences else " (the corpus's real labelled sentences)"
        hint = "pass --corpus DIR or --sentences FILE"
        print(f"disclosure_eval: {missing[0]} not found{where}; {hint}", file=sys.stderr)
        return 2

    rules = load_rules(args.rules)
    print(
        f"rules: {args.rules} ({len(rules)} rules, {sum(len(r.patterns) for r in rules)} patterns)"
    )
    failed = False
    for path in paths:
        total = score(rules, load_sentences(path), args, path)
        failed |= (args.min_precision is not None and total.precision < args.min_precision) or (
            args.min_recall is not None and total.recall < args.min_recall
        )

    if args.redos:
        slow = redos_check(rules)
        print(f"\nredos check: {len(slow)} slow pattern(s)")
        for rid, pat, secs in slow:
            print(f"  [{rid}] {secs * 1000:.0f} ms: {pat}")

    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
