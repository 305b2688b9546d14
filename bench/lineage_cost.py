"""The Hub request cost of lineage: what a base that closes up costs, by how much is built on it.

    python bench/lineage_cost.py [--sizes 10,1000,10000] [--watched 31]

Runs a fake Hub on loopback (tests/fakehub.py, 1,000 rows per listing page as the real Hub
serves at most) and a throwaway SQLite database. The world: a base model under a watched
author, `--watched` derivatives under a second watched author, and the rest of the
derivatives (every relation, in turn) under an author nobody watches. Prints, per number
of derivatives, the Hub requests of a quiet poll, of the poll where the base is gated (its
derivatives counted with `childrenModelCount` and one page of the most downloaded) and of
the poll where it is withdrawn (counted from listing pages filtered by its tag, at most
MAX_DERIVATIVE_PAGES of them), what `lineage.exposed` said, and the wall time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlmodel import col, select

from bench.benchutil import describe_setup
from tests.fakehub import FakeHub
from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.config import Settings
from tracker.db import Database
from tracker.models import Event
from tracker.poller import poll_sources, select_sources

PAGE = 1000
BASE = "lab/base-7b"
RELATIONS = ("finetune", "adapter", "quantized", "merge")


def world(hub: FakeHub, derivatives: int, watched: int) -> None:
    hub.add_repo("model", BASE, license="llama2", files=["config.json", "model.safetensors"])
    for n in range(derivatives):
        owner = "fans" if n < watched else "community"
        hub.add_repo(
            "model",
            f"{owner}/derivative-{n}",
            license="llama2" if n % 7 else "apache-2.0",
            downloads=derivatives - n,
            base_model=BASE,
            base_model_relation=RELATIONS[n % len(RELATIONS)],
        )


def measure(derivatives: int, watched: int) -> dict[str, Any]:
    with FakeHub(page_size=PAGE, strict_tokens=False) as hub, tempfile.TemporaryDirectory() as home:
        world(hub, derivatives, watched)
        settings = Settings(_env_file=None, home=Path(home), hf_endpoint=hub.endpoint)
        db = Database(settings)
        with db.session() as session:
            for author in ("lab", "fans"):
                spec = catalog.checked(SourceSpec("hub", author, types="model"), settings)
                catalog.add(session, spec)
        figures: dict[str, Any] = {}

        def run(label: str) -> None:
            started = time.perf_counter()
            report = poll_sources(db, select_sources(db, None))
            figures[f"{label}_s"] = time.perf_counter() - started
            figures[f"{label}_requests"] = report.hub_requests
            assert all(r.ok for r in report.results), [r.error for r in report.results]
            with db.read() as session:
                exposed = list(
                    session.exec(
                        select(Event).where(
                            col(Event.id).in_(report.event_ids), Event.kind == "lineage.exposed"
                        )
                    )
                )
            if exposed:
                figures[f"{label}_said"] = exposed[0].title.split(": ", 1)[1]
                figures[f"{label}_counted_by"] = exposed[0].data["derivatives_counted_by"]

        run("baseline")
        run("quiet")
        hub.set_gated("model", BASE, "manual")
        run("gated")
        hub.remove_repo("model", BASE)
        run("withdrawn")
        db.dispose()
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--watched", type=int, default=31)
    args = parser.parse_args()
    print(describe_setup())
    print(
        f"{'derivatives':>11} {'quiet req':>9} {'gated req':>9} {'extra':>5} "
        f"{'withdrawn req':>13} {'extra':>5} {'gated s':>7} {'withdrawn s':>11}"
    )
    said = []
    for size in (int(s) for s in args.sizes.split(",")):
        f = measure(size, min(args.watched, size))
        quiet = f["quiet_requests"]
        print(
            f"{size:>11,} {quiet:>9} {f['gated_requests']:>9} {f['gated_requests'] - quiet:>5} "
            f"{f['withdrawn_requests']:>13} {f['withdrawn_requests'] - quiet - 1:>5} "
            f"{f['gated_s']:>7.2f} {f['withdrawn_s']:>11.2f}"
        )
        said.append(
            f"  {size:,}: gated → {f.get('gated_said')} [{f.get('gated_counted_by')}]; "
            f"withdrawn → {f.get('withdrawn_said')} [{f.get('withdrawn_counted_by')}]"
        )
    print("(withdrawn extra: beyond the quiet poll and the info call that confirms a withdrawal)")
    print("what lineage.exposed said:")
    print("\n".join(said))


if __name__ == "__main__":
    main()
