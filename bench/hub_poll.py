"""Hub polling cost: requests per poll against the floor, and detection throughput.

    python bench/hub_poll.py [--sizes 10,1000,5000] [--detect 100000]

Runs a fake Hub on loopback (tests/fakehub.py, 1,000 repos per listing page as the real Hub
serves at most) and a throwaway SQLite database. Prints, per author size: requests of the
baseline and of an unchanged poll against the floor (the number of listing pages), and the
wall time of each; then the pure detection's throughput in repo states per second.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakehub import FakeHub
from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.config import Settings
from tracker.db import Database
from tracker.detect.hub import detect_repos
from tracker.observations import HubSnapshot, RepoState
from tracker.poller import poll_sources, select_sources

PAGE = 1000


def poll_cost(size: int) -> dict[str, float]:
    with FakeHub(page_size=PAGE, strict_tokens=False) as hub, tempfile.TemporaryDirectory() as home:
        author = f"org{size}"
        for n in range(size):
            hub.add_repo("model", f"{author}/model-{n}", license="apache-2.0")
        settings = Settings(_env_file=None, home=Path(home), hf_endpoint=hub.endpoint)
        db = Database(settings)
        spec = catalog.checked(SourceSpec("hub", author, types="model"), settings)
        with db.session() as session:
            catalog.add(session, spec)
        figures: dict[str, float] = {"floor": max(1, math.ceil(size / PAGE))}
        for label in ("baseline", "steady"):
            started = time.perf_counter()
            report = poll_sources(db, select_sources(db, None))
            figures[f"{label}_s"] = time.perf_counter() - started
            figures[f"{label}_requests"] = report.hub_requests
            assert report.results[0].ok, report.results[0].error
        hub.update_repo("model", f"{author}/model-0", gated="manual")
        started = time.perf_counter()
        report = poll_sources(db, select_sources(db, None))
        figures["one_change_s"] = time.perf_counter() - started
        figures["one_change_events"] = len(report.event_ids)
        db.dispose()
        return figures


def detection_throughput(count: int) -> tuple[float, int]:
    repos = [
        RepoState(type="model", id=f"org/model-{n}", sha=f"{n:040x}", license="llama2")
        for n in range(count)
    ]
    previous = {r.key: r.state() | {"status": "available", "rev": 0} for r in repos}
    # One in a hundred repos changed its gate: the realistic busy case.
    current = [
        RepoState(type="model", id=r.id, sha=r.sha, license=r.license, gated="manual")
        if n % 100 == 0
        else r
        for n, r in enumerate(repos)
    ]
    snapshot = HubSnapshot(listed={r.key: r for r in current})
    started = time.perf_counter()
    detection = detect_repos(
        previous, snapshot, baselined=True, endpoint="https://hf.co", author="org"
    )
    return time.perf_counter() - started, len(detection.events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,5000")
    parser.add_argument("--detect", type=int, default=100_000)
    args = parser.parse_args()
    print(
        f"{'repos':>7} {'floor':>5} {'base req':>8} {'steady req':>10} {'req/floor':>9} "
        f"{'base s':>7} {'steady s':>8} {'1 change s':>10}"
    )
    for size in (int(s) for s in args.sizes.split(",")):
        f = poll_cost(size)
        print(
            f"{size:>7} {f['floor']:>5.0f} {f['baseline_requests']:>8.0f} "
            f"{f['steady_requests']:>10.0f} {f['steady_requests'] / f['floor']:>9.2f} "
            f"{f['baseline_s']:>7.2f} {f['steady_s']:>8.2f} {f['one_change_s']:>10.2f}"
        )
    seconds, events = detection_throughput(args.detect)
    print(
        f"detection: {args.detect:,} repo states in {seconds:.3f}s "
        f"= {args.detect / seconds:,.0f} states/s ({events:,} events)"
    )


if __name__ == "__main__":
    main()
