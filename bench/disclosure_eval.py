"""Precision and recall of the withheld-details rules on the labelled sentences.

    python bench/disclosure_eval.py [--rules tracker/rules/withheld.toml]
                                    [--sentences tests/fixtures/disclosure/sentences.jsonl]
                                    [--per-rule] [--redos]

Stand-alone: reads the TOML rules with tomllib and the JSON-lines sentences, nothing else
from the package. Each line of the sentences file is one sentence (nothing is split). A
rule fires on a sentence when any of its `patterns` matches (re.search, re.IGNORECASE)
and none of its `unless` patterns does; a sentence is predicted "withheld" when any rule
fires. Prints precision, recall and F1, then every false positive (with the rules that
fired) and every false negative (with the rules whose `unless` suppressed a match, if any).

--per-rule adds how many true and false positives each rule produced on its own.
--redos times every pattern against long adversarial strings and flags any slower than
50 ms (a sign of catastrophic backtracking).

Exit status: 0, or 1 when --min-precision / --min-recall are given and not met.
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
DEFAULT_SENTENCES = ROOT / "tests" / "fixtures" / "disclosure" / "sentences.jsonl"


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
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            row = json.loads(line)
            for key in ("text", "withheld", "source", "where"):
                if key not in row:
                    raise SystemExit(f"{path}:{n}: missing {key!r}")
            if not isinstance(row["withheld"], bool):
                raise SystemExit(f"{path}:{n}: 'withheld' must be true or false")
            rows.append(row)
    return rows


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
    ap.add_argument("--sentences", type=Path, default=DEFAULT_SENTENCES)
    ap.add_argument("--per-rule", action="store_true", help="print true/false positives per rule")
    ap.add_argument("--redos", action="store_true", help="time patterns on adversarial input")
    ap.add_argument("--min-precision", type=float, default=None)
    ap.add_argument("--min-recall", type=float, default=None)
    args = ap.parse_args(argv)

    rules = load_rules(args.rules)
    rows = load_sentences(args.sentences)

    tp = fp = fn = tn = 0
    false_pos: list[tuple[dict, list[str]]] = []
    false_neg: list[tuple[dict, list[str]]] = []
    per_rule = {r.id: [0, 0] for r in rules}  # [true positives, false positives]
    for row in rows:
        text = row["text"]
        fired = [r.id for r in rules if r.fires(text)]
        for rid in fired:
            per_rule[rid][0 if row["withheld"] else 1] += 1
        predicted = bool(fired)
        if predicted and row["withheld"]:
            tp += 1
        elif predicted:
            fp += 1
            false_pos.append((row, fired))
        elif row["withheld"]:
            fn += 1
            blocked = [r.id for r in rules if r.matches(text) and r.suppressed(text)]
            false_neg.append((row, blocked))
        else:
            tn += 1

    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    positives = tp + fn
    print(
        f"rules: {args.rules} ({len(rules)} rules, {sum(len(r.patterns) for r in rules)} patterns)"
    )
    negatives = len(rows) - positives
    print(f"sentences: {args.sentences} ({len(rows)}: {positives} withheld, {negatives} not)")
    print(f"TP={tp} FP={fp} FN={fn} TN={tn}")
    print(f"precision={precision:.3f} recall={recall:.3f} F1={f1:.3f}")

    if args.per_rule:
        print("\nper rule (true positives / false positives):")
        for r in rules:
            t, f = per_rule[r.id]
            print(f"  {r.id:32s} {t:3d} / {f:d}")

    print(f"\nfalse positives ({len(false_pos)}):")
    for row, fired in false_pos:
        print(f"  [{', '.join(fired)}] {row['text']}")
        print(f"      source: {row['source']}")
    print(f"\nfalse negatives ({len(false_neg)}):")
    for row, blocked in false_neg:
        note = f" (suppressed by unless of: {', '.join(blocked)})" if blocked else ""
        print(f"  [-]{note} {row['text']}")
        print(f"      source: {row['source']}")

    if args.redos:
        slow = redos_check(rules)
        print(f"\nredos check: {len(slow)} slow pattern(s)")
        for rid, pat, secs in slow:
            print(f"  [{rid}] {secs * 1000:.0f} ms: {pat}")

    failed = (args.min_precision is not None and precision < args.min_precision) or (
        args.min_recall is not None and recall < args.min_recall
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
