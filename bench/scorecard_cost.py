"""The Hub cost of disclosure scorecards: requests per poll, and why the facts are not listed.

    python bench/scorecard_cost.py [--models 100]

1. Requests: a fake Hub on loopback (tests/fakehub.py, 1,000 rows a page) and a throwaway
   SQLite database; one watched author with `--models` models, baselined. Prints the Hub
   requests of a quiet poll, of polls bringing 1 new model, 5 new models beside 3 of the
   author's own quantized variants, and 30 new models (above the cap of 20 a poll), and
   the scorecards kept.
2. Bytes: what each listing row would weigh if the listing carried the fields a scorecard
   reads (`config`, `safetensors`, `siblings`, `model-index`, `evalResults`) instead of an
   info call per new model, measured on the real info answers recorded in
   ../shared/corpus/hub (skipped with one line without it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa

from bench.benchutil import ROOT, describe_setup
from tests.fakehub import FakeHub
from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.config import Settings
from tracker.db import Database
from tracker.models import ReleaseScorecard, table
from tracker.poller import poll_sources, select_sources
from tracker.sources.hubclient import EXPAND, RELEASE_EXPAND

AUTHOR = "lab"
CORPUS = ROOT.parent / "shared" / "corpus" / "hub"


def add_model(hub: FakeHub, name: str, day: int, **fields: Any) -> None:
    hub.add_repo(
        "model",
        f"{AUTHOR}/{name}",
        license="apache-2.0",
        createdAt=f"2025-{1 + day // 28:02d}-{1 + day % 28:02d}T10:00:00Z",
        files=[".gitattributes", "README.md", "config.json", "model.safetensors"],
        config={"architectures": ["ExampleForCausalLM"], "model_type": "example"},
        parameters={"BF16": 1_000_000_000 + day},
        **fields,
    )
    hub.set_readme("model", f"{AUTHOR}/{name}", f"# {name}\n\nA decoder-only transformer.\n")


def requests(models: int) -> list[tuple[str, int, int]]:
    rows: list[tuple[str, int, int]] = []
    with FakeHub(page_size=1000, strict_tokens=False) as hub, tempfile.TemporaryDirectory() as home:
        for n in range(models):
            add_model(hub, f"old-{n}", n)
        settings = Settings(_env_file=None, home=Path(home), hf_endpoint=hub.endpoint)
        db = Database(settings)
        with db.session() as session:
            catalog.add(
                session, catalog.checked(SourceSpec("hub", AUTHOR, types="model"), settings)
            )

        def run(label: str) -> None:
            report = poll_sources(db, select_sources(db, None))
            assert all(r.ok for r in report.results), [r.error for r in report.results]
            with db.read() as session:
                kept = session.execute(
                    sa.select(sa.func.count()).select_from(table(ReleaseScorecard))
                ).scalar_one()
            rows.append((label, report.hub_requests, int(kept)))

        run("baseline")
        run("quiet")
        day = models
        add_model(hub, "new-1", day)
        run("1 new model")
        for n in range(5):
            day += 1
            add_model(hub, f"new-batch-{n}", day)
        for n in range(3):
            day += 1
            add_model(hub, f"new-1-q{n}-GGUF", day, base_model=f"{AUTHOR}/new-1")
        run("5 new + 3 own variants")
        for n in range(30):
            day += 1
            add_model(hub, f"drop-{n}", day)
        run("30 new models")
        run("quiet again")
        db.dispose()
    return rows


def row_bytes() -> list[tuple[str, int, int]] | None:
    if not CORPUS.is_dir():
        return None
    found = []
    for path in sorted(CORPUS.glob("model_info.*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        listed = {k: body[k] for k in ("_id", "id", *EXPAND["model"]) if k in body}
        extra = {k: body[k] for k in RELEASE_EXPAND if k in body and k not in listed}
        found.append(
            (
                body["id"],
                len(json.dumps(listed, separators=(",", ":"))),
                len(json.dumps(listed | extra, separators=(",", ":"))),
            )
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    args = parser.parse_args()
    print(describe_setup())
    print(f"one watched author with {args.models} models (models only; one listing page)")
    print(f"{'poll':<24} {'Hub requests':>12} {'cards kept':>10}")
    for label, count, kept in requests(args.models):
        print(f"{label:<24} {count:>12} {kept:>10}")
    sizes = row_bytes()
    if sizes is None:
        print(f"listing bytes: skipped, no recorded Hub answers at {CORPUS}")
        return
    print("bytes of one listing row (recorded real answers):")
    print(f"{'repo':<40} {'as listed':>9} {'with release fields':>19} {'ratio':>5}")
    for repo_id, listed, full in sizes:
        print(f"{repo_id:<40} {listed:>9,} {full:>19,} {full / listed:>5.2f}")


if __name__ == "__main__":
    main()
