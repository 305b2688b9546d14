"""The request cost of reading the pages Hub cards name as their license (`license_link`).

    python bench/license_pages_cost.py [--sizes 10,100]

Runs a fake Hub (tests/fakehub.py, 1,000 rows per listing page) and a local web site on
loopback, and a throwaway SQLite database. One watched author holds N models whose cards
name their license in one of four ways:

- shared: every card names one URL off the Hub (a lab's terms page);
- distinct: each card names its own URL off the Hub;
- in repo: each card names `LICENSE`, a file of the repo (ungated), read from the Hub;
- gated in repo: the same, in gated repos (their files are refused to the public).

Prints, per way and N: the polls it takes until every page was read once (at most
MAX_PAGES reads a poll), the license requests those polls made, then those of a quiet poll,
of the poll after every repo got a new commit, and of a poll a day later (RECHECK elapsed:
conditional requests, answered 304). License requests are the site's hits plus the Hub's
`/resolve/` requests for LICENSE files; listings are not counted. With the corpus at hand
(../shared/corpus), it also times the detection of N repos gated with the real Llama 3.1
gate (a 12 KB prompt): the first poll reads every gate, later ones reuse the stored reading.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_httpserver import HTTPServer

from bench.benchutil import describe_setup
from tests.fakehub import FakeHub
from tests.sites import Site
from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.config import Settings
from tracker.db import Database
from tracker.poller import poll_sources, select_sources
from tracker.sources import licensepages

PAGE = 1000
AUTHOR = "lab"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TEXT = (
    "LAB MODEL LICENSE\n\nThe lab grants you a licence to use, copy and share the models.\n\n"
    "If your services have more than 700 million monthly active users, you must request a "
    "separate license from the lab.\n"
)
WAYS = ("shared", "distinct", "in repo", "gated in repo")


def world(hub: FakeHub, site: Site, way: str, size: int) -> None:
    shared = site.put("/terms", TEXT, content_type="text/plain")
    for n in range(size):
        repo_id = f"{AUTHOR}/model-{n}"
        if way in ("in repo", "gated in repo"):
            hub.add_repo(
                "model",
                repo_id,
                license="other",
                license_link="LICENSE",
                gated="manual" if way == "gated in repo" else False,
            )
            hub.set_file("model", repo_id, "LICENSE", TEXT)
        else:
            url = shared if way == "shared" else site.put(f"/terms/{n}", TEXT)
            hub.add_repo("model", repo_id, license="other", license_link=url)


def license_requests(hub: FakeHub, site: Site) -> int:
    return len(site.hits) + len([r for r in hub.requests if r.path.endswith("/LICENSE")])


def measure(way: str, size: int) -> dict[str, Any]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    site = Site(server)
    try:
        with (
            FakeHub(page_size=PAGE, strict_tokens=False) as hub,
            tempfile.TemporaryDirectory() as home,
        ):
            world(hub, site, way, size)
            settings = Settings(
                _env_file=None,
                home=Path(home),
                hf_endpoint=hub.endpoint,
                allow_private_networks=True,
            )
            db = Database(settings)
            with db.session() as session:
                spec = catalog.checked(SourceSpec("hub", AUTHOR, types="model"), settings)
                catalog.add(session, spec)

            def run() -> int:
                before = license_requests(hub, site)
                report = poll_sources(db, select_sources(db, None))
                assert all(r.ok for r in report.results), [r.error for r in report.results]
                return license_requests(hub, site) - before

            figures: dict[str, Any] = {"polls": 0, "reading": 0}
            while True:
                made = run()
                figures["polls"] += 1
                figures["reading"] += made
                if made == 0 or figures["polls"] > 100:
                    break
            # The last poll of the loop read nothing: it is the quiet poll.
            figures["polls"] -= 1
            figures["quiet"] = made
            for n in range(size):
                hub.commit("model", f"{AUTHOR}/model-{n}")
            figures["commit"] = run()
            while run():
                pass  # the rest of the commits' reads, beyond one poll's bound
            saved = licensepages.RECHECK
            licensepages.RECHECK = timedelta(0)
            try:
                figures["day_later"] = run()
            finally:
                licensepages.RECHECK = saved
            figures["not_modified"] = sum(hit.status == 304 for hit in site.hits)
            db.dispose()
            return figures
    finally:
        server.clear()
        server.stop()


def gate_timing(size: int) -> tuple[float, float] | None:
    path = CORPUS / "hub" / "model_info.meta-llama--Llama-3.1-8B-Instruct.json"
    if not path.is_file():
        return None
    card = json.loads(path.read_text(encoding="utf-8"))["cardData"]
    with FakeHub(page_size=PAGE, strict_tokens=False) as hub, tempfile.TemporaryDirectory() as home:
        for n in range(size):
            hub.add_repo("model", f"{AUTHOR}/gated-{n}", gated="manual", cardData=card)
        settings = Settings(_env_file=None, home=Path(home), hf_endpoint=hub.endpoint)
        db = Database(settings)
        with db.session() as session:
            catalog.add(session, catalog.checked(SourceSpec("hub", AUTHOR), settings))
        times = []
        for _ in range(2):
            started = time.perf_counter()
            poll_sources(db, select_sources(db, None))
            times.append(time.perf_counter() - started)
        db.dispose()
        return times[0], times[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the local site's request log
    sizes = [int(s) for s in args.sizes.split(",")]
    print(describe_setup())
    print(
        f"{'way':<14} {'repos':>5} {'polls':>5} {'reads':>5} {'quiet':>5} "
        f"{'commit':>6} {'day later':>9} {'304s':>4}"
    )
    for way in WAYS:
        for size in sizes:
            f = measure(way, size)
            print(
                f"{way:<14} {size:>5} {f['polls']:>5} {f['reading']:>5} {f['quiet']:>5} "
                f"{f['commit']:>6} {f['day_later']:>9} {f['not_modified']:>4}"
            )
    print(
        "(polls: until every page was read once; reads: their license requests; commit: "
        "the first poll after every repo's head moved; day later: a poll once RECHECK passed)"
    )
    for size in sizes:
        timed = gate_timing(size)
        if timed is None:
            print("gate timing skipped: ../shared/corpus is absent")
            break
        print(
            f"{size} repos gated with the real Llama 3.1 gate: first poll {timed[0]:.2f}s, "
            f"quiet poll {timed[1]:.2f}s"
        )


if __name__ == "__main__":
    main()
