"""Precision and recall of the clause recogniser, per clause, on labelled license texts.

    python bench/clauses_eval.py [--corpus ../shared/corpus/licenses] [--data bench/data/licenses]
                                 [--show-held] [--markdown] [--redos]
                                 [--min-precision P] [--min-recall R]

Three sets, reported separately:

- held:    the documents of ../shared/corpus/licenses kept aside before any pattern was
           written (bench/clauses_split.py). Only their figures are printed; --show-held
           adds each document's errors (looking at them is tuning: say so when you do).
- modeled: the project's own texts modeled on licenses outside that corpus
           (bench/data/licenses, see its README).
- tuned:   the rest of the corpus, which the patterns were written against (for reference).

A document's clause set is compared with its labels: a clause found and labelled is a true
positive, found and not labelled a false positive (counted as "arguable" too when the
labels list it as arguable), labelled and not found a false negative. For each true
positive the evidence sentence is checked against the labelled evidence (the spans
overlap). The versions pairs of the corpus (versions/versions.json) are checked too: the
clauses added and removed between each pair must be exactly the labelled ones.

--redos times every pattern against long adversarial strings and flags any slower than
50 ms. Exit status: 0, or 1 when --min-precision / --min-recall are given and the held-aside
figures miss them; 2 when a labels file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from clauses_split import HELD_ASIDE, TUNED  # noqa: E402

from tracker.detect.clauses import CLAUSES, find_clauses, rules_for  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "licenses"
DEFAULT_DATA = ROOT / "bench" / "data" / "licenses"


@dataclass
class Doc:
    id: str
    text: str
    clauses: set[str]
    evidence: dict[str, str]
    arguable: set[str]
    category: str


@dataclass
class Score:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    fp_arguable: Counter[str] = field(default_factory=Counter)
    evidence_ok: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    docs: int = 0
    open_docs: int = 0
    open_clean: int = 0


def load(labels_path: Path, text_dir: Path, ids: tuple[str, ...] | None) -> list[Doc]:
    try:
        labels = json.loads(labels_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"cannot read {labels_path}: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    docs = []
    for doc_id in ids if ids is not None else tuple(labels):
        label = labels[doc_id]
        path = text_dir / label.get("file", f"{doc_id}.txt")
        docs.append(
            Doc(
                doc_id,
                path.read_text(encoding="utf-8"),
                set(label["clauses"]),
                dict(label.get("evidence", {})),
                set(label.get("arguable", {})),
                label.get("category", "restricted"),
            )
        )
    return docs


def score(docs: list[Doc], *, detail: bool) -> Score:
    result = Score()
    for doc in docs:
        found = {f.clause: f for f in find_clauses(doc.text)}
        result.docs += 1
        if doc.category == "open_control":
            result.open_docs += 1
            result.open_clean += not found
        for clause in CLAUSES:
            got, want = clause in found, clause in doc.clauses
            if got and want:
                result.tp[clause] += 1
                if _overlaps(doc, clause, found[clause].span):
                    result.evidence_ok[clause] += 1
                elif detail:
                    result.errors.append(
                        f"{doc.id}: {clause}: other evidence: {found[clause].evidence[:160]!r}"
                    )
            elif got:
                result.fp[clause] += 1
                arguable = clause in doc.arguable
                result.fp_arguable[clause] += arguable
                if detail:
                    tag = " (arguable)" if arguable else ""
                    result.errors.append(
                        f"{doc.id}: FP {clause}{tag} [{found[clause].rule}]: "
                        f"{found[clause].evidence[:200]!r}"
                    )
            elif want:
                result.fn[clause] += 1
                if detail:
                    result.errors.append(f"{doc.id}: FN {clause}: {doc.evidence[clause][:160]!r}")
    return result


def _overlaps(doc: Doc, clause: str, span: tuple[int, int]) -> bool:
    evidence = doc.evidence.get(clause)
    if not evidence:
        return False
    start = doc.text.find(evidence)
    return start >= 0 and start < span[1] and span[0] < start + len(evidence)


def ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def table(name: str, s: Score, markdown: bool) -> list[str]:
    rows = []
    for clause in CLAUSES:
        tp, fp, fn = s.tp[clause], s.fp[clause], s.fn[clause]
        if not (tp or fp or fn):
            continue
        p, r = ratio(tp, tp + fp), ratio(tp, tp + fn)
        f1 = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)
        rows.append((clause, tp, fp, fn, p, r, f1, s.fp_arguable[clause], s.evidence_ok[clause]))
    tp, fp, fn = sum(s.tp.values()), sum(s.fp.values()), sum(s.fn.values())
    p, r = ratio(tp, tp + fp), ratio(tp, tp + fn)
    f1 = 2 * p * r / (p + r) if p and r else None
    total = (
        "all (micro)",
        tp,
        fp,
        fn,
        p,
        r,
        f1,
        sum(s.fp_arguable.values()),
        sum(s.evidence_ok.values()),
    )
    head = f"{name}: {s.docs} documents, open controls clean {s.open_clean}/{s.open_docs}"
    lines = [head]
    if markdown:
        lines += [
            "",
            "| clause | TP | FP | FN | precision | recall | F1 | FP arguable | evidence agrees |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in [*rows, total]:
            c, tp_, fp_, fn_, p_, r_, f_, arg, ev = row
            cells = [str(x) for x in (c, tp_, fp_, fn_, fmt(p_), fmt(r_), fmt(f_), arg)]
            lines.append("| " + " | ".join([*cells, f"{ev}/{tp_}"]) + " |")
    else:
        head_cells = ("TP", "FP", "FN", "prec", "rec", "F1", "FParg")
        lines.append(f"  {'clause':<20} " + " ".join(f"{h:>5}" for h in head_cells) + "   evid")
        for row in [*rows, total]:
            c, tp_, fp_, fn_, p_, r_, f_, arg, ev = row
            shown = (tp_, fp_, fn_, fmt(p_), fmt(r_), fmt(f_), arg)
            lines.append(f"  {c:<20} " + " ".join(f"{x:>5}" for x in shown) + f"  {ev:>3}/{tp_}")
    return lines


def versions(corpus: Path, *, show_held: bool, skip_held: bool) -> tuple[int, int, list[str]]:
    """(pairs right, pairs, lines) for versions/versions.json."""
    listing = json.loads((corpus / "versions" / "versions.json").read_text(encoding="utf-8"))
    if skip_held:
        listing = [p for p in listing if not any(i in HELD_ASIDE for i in p.get("corpus_ids", []))]
    right, lines = 0, []
    for pair in listing:
        old = set(c.clause for c in find_clauses((corpus / pair["older"]).read_text("utf-8")))
        new = set(c.clause for c in find_clauses((corpus / pair["newer"]).read_text("utf-8")))
        added, removed = sorted(new - old), sorted(old - new)
        ok = added == sorted(pair["clauses_added"]) and removed == sorted(pair["clauses_removed"])
        right += ok
        held = any(i in HELD_ASIDE for i in pair.get("corpus_ids", []))
        name = f"{Path(pair['older']).name} -> {Path(pair['newer']).name}"
        if ok or (held and not show_held):
            lines.append(
                f"  {'ok ' if ok else 'BAD'} {name}" + (" (held-aside text)" if held else "")
            )
        else:
            lines.append(
                f"  BAD {name}: added {added} (want {pair['clauses_added']}), "
                f"removed {removed} (want {pair['clauses_removed']})"
            )
    return right, len(listing), lines


def redos() -> list[str]:
    """Patterns slower than 50 ms on long adversarial strings."""
    words = (
        "not use output results to train improve model license request more than 700 million "
        'monthly active users revenue exceeds $1 display "Built with" name include at the '
        "beginning may terminate if breach violat policy incorporated by reference update "
        "these terms granted at discretion redistribute weights located in the EU "
    )
    hostile = [
        words * 200,
        "a" * 20000,
        "not " * 5000,
        "not use " * 3000 + "outputs " * 2000,
        ("(" * 50 + "x") * 200,
        "- " * 10000,
    ]
    slow = []
    for rule in rules_for(None):
        for pattern in rule.patterns + rule.unless + rule.unless_text:
            for text in hostile:
                started = time.perf_counter()
                pattern.search(text[:2000])
                spent = time.perf_counter() - started
                if spent > 0.05:
                    slow.append(
                        f"  {rule.id}: {spent * 1000:.0f} ms on a {len(text)}-char input: "
                        f"{pattern.pattern[:80]}"
                    )
    whole = {
        "rule words": words * 1000,
        "no full stop": "the model may be used to summarise text and " * 4600,
        "one sentence repeated": "You may not redistribute the weights. " * 5300,
    }
    for name, text in whole.items():
        started = time.perf_counter()
        find_clauses(text[:200_000])
        spent = time.perf_counter() - started
        slow.append(f"  whole recogniser, 200 kB of {name}: {spent:.2f} s")
    return slow


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--show-held", action="store_true", help="print the held-aside errors too")
    parser.add_argument("--skip-held", action="store_true", help="do not score the held-aside set")
    parser.add_argument("--markdown", action="store_true", help="tables for bench/RESULTS.md")
    parser.add_argument("--redos", action="store_true")
    parser.add_argument("--min-precision", type=float)
    parser.add_argument("--min-recall", type=float)
    args = parser.parse_args()

    out: list[str] = []
    held_score: Score | None = None
    if (args.corpus / "labels.json").is_file():
        if not args.skip_held:
            labels = args.corpus / "labels.json"
            held_score = score(load(labels, args.corpus, HELD_ASIDE), detail=args.show_held)
            out += table("(a) held aside (real corpus)", held_score, args.markdown)
            out += held_score.errors
            out.append("")
    else:
        out.append(f"corpus not found at {args.corpus}: real-corpus sets skipped")
    modeled = score(load(args.data / "labels.json", args.data, None), detail=True)
    out += table("(b) modeled set (bench/data/licenses)", modeled, args.markdown)
    out += modeled.errors
    out.append("")
    if (args.corpus / "labels.json").is_file():
        tuned = score(load(args.corpus / "labels.json", args.corpus, TUNED), detail=True)
        out += table("(c) tuned part (real corpus, for reference)", tuned, args.markdown)
        out += tuned.errors
        out.append("")
        right, pairs, lines = versions(
            args.corpus, show_held=args.show_held, skip_held=args.skip_held
        )
        out.append(
            f"versions pairs with exactly the labelled clauses added/removed: {right}/{pairs}"
        )
        out += lines
    if args.redos:
        out.append("")
        out.append("ReDoS check:")
        out += redos()
    print("\n".join(out))

    if held_score is not None and (args.min_precision or args.min_recall):
        tp, fp, fn = (sum(c.values()) for c in (held_score.tp, held_score.fp, held_score.fn))
        p, r = ratio(tp, tp + fp) or 0.0, ratio(tp, tp + fn) or 0.0
        if (args.min_precision and p < args.min_precision) or (
            args.min_recall and r < args.min_recall
        ):
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
