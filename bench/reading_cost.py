"""What reading a text for its terms costs (`tracker.detect.terms.terms_of`: sentences,
clauses, the open-license check), per text, beside another tree of the code.

Every page a `page` source watches is read so when its text is new or changed, and so is
every license page and gate text; this is most of a page's first check. Two sets: the
license texts of ../shared/corpus/licenses (what the reading is for) and 100 article pages
as bench/page_peers.py serves them, turned into main text by the tracker (prose without
a single license word: what most watched pages are). Each contender is a Python process
importing `tracker` from its own tree (`--baseline TREE` adds one: a checkout with the
older code); they alternate `--rounds` times and the median CPU per text is printed, with
the ratio to this tree.

    python bench/reading_cost.py [--baseline /path/to/old/checkout] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
HERE = BENCH.parent
DEFAULT_CORPUS = HERE.parent / "shared" / "corpus" / "licenses"
PAGES = 100


def texts(corpus: Path) -> dict[str, list[str]]:
    """The two sets, as plain text."""
    sys.path.insert(0, str(BENCH))
    from page_peers import page_html

    from tracker.sources.page import extract_text

    licenses = [
        path.read_text(encoding="utf-8", errors="replace") for path in sorted(corpus.rglob("*.txt"))
    ]
    pages = ["\n\n".join(extract_text(page_html(i).decode()).lines) for i in range(PAGES)]
    return {"licenses": licenses, "pages": pages}


def measure(corpus: Path) -> dict[str, object]:
    """CPU milliseconds per text of each set, in this process (warm: rules compiled)."""
    import tracker
    from tracker.detect.clauses import rules_for
    from tracker.detect.terms import terms_of

    rules = rules_for(None)
    found: dict[str, object] = {"from": str(Path(tracker.__file__).resolve().parent.parent)}
    for name, group in texts(corpus).items():
        terms_of(group[0], rules)
        started = time.process_time()
        for text in group:
            terms_of(text, rules)
        found[name] = (time.process_time() - started) / len(group) * 1000
    return found


def run(tree: Path, corpus: Path) -> dict[str, float]:
    env = os.environ | {"PYTHONPATH": str(tree)}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--measure", "--corpus", str(corpus)],
        env=env,
        cwd=tree,
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(done.stdout)
    if Path(found.pop("from")) != tree.resolve():
        raise SystemExit(f"{tree}: its Python imported another tree's tracker")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--baseline", type=Path, help="a checkout of older code")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not any(args.corpus.rglob("*.txt")):
        print(f"license corpus not found at {args.corpus}: pass --corpus", file=sys.stderr)
        return 2
    if args.measure:
        print(json.dumps(measure(args.corpus)))
        return 0

    sys.path.insert(0, str(BENCH))
    from benchutil import describe_setup

    print(describe_setup())
    trees = {"this tree": HERE} | ({"baseline": args.baseline} if args.baseline else {})
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            runs[name].append(run(tree, args.corpus))
    sets = list(runs["this tree"][0])
    print(f"CPU ms per text, median of {args.rounds} alternating rounds")
    print(f"{'contender':<12}" + "".join(f"{name:>12}" for name in sets))
    medians = {
        name: {s: statistics.median(r[s] for r in rounds) for s in sets}
        for name, rounds in runs.items()
    }
    for name, values in medians.items():
        print(f"{name:<12}" + "".join(f"{values[s]:>12.2f}" for s in sets))
    if args.baseline:
        ratios = "".join(
            f"{medians['this tree'][s] / medians['baseline'][s]:>11.2f}x" for s in sets
        )
        print(f"{'this/base':<12}" + ratios)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
