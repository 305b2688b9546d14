"""Hub polling cost: requests per poll against the floor, and detection throughput.

    python bench/hub_poll.py [--sizes 10,1000,5000] [--detect 100000]
    python bench/hub_poll.py --large 50000 [--baseline-python OTHER/.venv/bin/python]
        [--baseline-name old] [--steady 3] [--contender-python PY]

Runs a fake Hub on loopback (tests/fakehub.py, 1,000 repos per listing page as the real Hub
serves at most) and a throwaway SQLite database. Prints, per author size: requests of the
baseline and of an unchanged poll against the floor (the number of listing pages), and the
wall time of each; then the pure detection's throughput in repo states per second.

With `--large N`: one author with N repos (nine tenths models, one tenth data sets, so
N / 1,000 listing pages), with lineage and terms as a user has them: models built on the
author's own bases and on the bases of a second watched author, a third watched author
whose models are built on the first one's, gated repos with the real Llama 3.1 gate
prompt (../shared/corpus, else a short one), cards whose `license_link` names one page
off the Hub (a local site) or a LICENSE file of the repo. Each contender (this tree's
code, and with `--baseline-python` another tree's, e.g. a worktree of an older commit with
its own venv) runs in a process of its own against the same fake Hub and site, with its
own database; they poll alternately: the baseline, `--steady` unchanged polls, a busy poll
(heads moved, a base gated, new models, repos deleted), one unchanged poll after it.
Prints per poll and contender: requests by kind from the fake Hub's and the site's logs
(listing pages against the extras), CPU of the poll (user+sys of the contender's process)
split into the listing fetch, detection and the store, CPU per repo state, and the peak RSS
of the contender's process during the poll.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pytest_httpserver import HTTPServer

from bench.benchutil import TreeSampler, describe_setup
from tests.fakehub import FakeHub
from tests.sites import Site
from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.config import Settings
from tracker.db import Database
from tracker.detect.hub import detect_repos
from tracker.observations import HubSnapshot, RepoState
from tracker.poller import poll_sources, select_sources

PAGE = 1000
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
CONTENDER = Path(__file__).resolve().parent / "hub_contender.py"


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


# ---------------------------------------------------------------- --large: one big author

LAB, UPSTREAM, FANS = "lab", "upstream", "fans"
RELATIONS = ("finetune", "adapter", "quantized", "merge")
OWN_BASES, UPSTREAM_BASES, FAN_MODELS = 50, 20, 30
LICENSE_TEXT = (
    "LAB MODEL LICENSE\n\nThe lab grants you a licence to use, copy and share the models.\n\n"
    "If your services have more than 700 million monthly active users, you must request a "
    "separate license from the lab.\n"
)
SHORT_GATE = {
    "extra_gated_prompt": "You agree not to use the model to harm anyone, and to share "
    "your contact details with the lab.",
    "extra_gated_fields": {"Name": "text", "Affiliation": "text"},
}


class ListingHub(FakeHub):
    """The fake Hub, with each listing's ordered rows kept until the world changes (the
    plain fake copies every repo of the world for every page: 50 pages of 50,000 repos
    would be 2.5 million copies a poll, seconds of the server's time per page)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kept: dict[Any, Any] = {}

    def changed(self) -> None:
        with self._lock:
            self._kept.clear()

    def _ordered_rows(self, kind: str, query: Any, viewer: Any) -> Any:
        key = (
            kind,
            tuple(sorted((k, tuple(v)) for k, v in query.items() if k not in ("cursor", "limit"))),
            viewer,
        )
        with self._lock:
            if key not in self._kept:
                self._kept[key] = super()._ordered_rows(kind, query, viewer)
            return self._kept[key]


def gate_card() -> dict[str, Any]:
    """The real Llama 3.1 gate (a 12 KB prompt) when the corpus is at hand."""
    path = CORPUS / "hub" / "model_info.meta-llama--Llama-3.1-8B-Instruct.json"
    if not path.is_file():
        return dict(SHORT_GATE)
    card = json.loads(path.read_text(encoding="utf-8"))["cardData"]
    return {k: v for k, v in card.items() if k.startswith("extra_gated_")}


def large_world(hub: ListingHub, site: Site, size: int) -> dict[str, int]:
    """The watched world: LAB with `size` repos, UPSTREAM's bases, FANS' derivatives."""
    shared = site.put("/lab-license", LICENSE_TEXT, content_type="text/plain")
    gate = gate_card()
    facts = dict.fromkeys(("gated", "license_link", "license_file", "derivatives"), 0)
    for b in range(UPSTREAM_BASES):
        hub.add_repo("model", f"{UPSTREAM}/base-{b}", license="llama3.1", cardData=dict(gate),
                     gated="manual", files=["config.json", "model.safetensors"])  # fmt: skip
    models = size * 9 // 10
    for n in range(models):
        fields: dict[str, Any] = {"license": ("apache-2.0", "llama3.1", "mit")[n % 3]}
        if n < OWN_BASES:
            repo_id = f"{LAB}/base-{n}"
            fields["files"] = ["config.json", "model.safetensors"]
        else:
            repo_id = f"{LAB}/model-{n:05d}"
            if n % 10 < 4:
                fields |= {"base_model": f"{LAB}/base-{n % OWN_BASES}",
                           "base_model_relation": RELATIONS[n % 4]}  # fmt: skip
            elif n % 10 < 7:
                fields["base_model"] = f"{UPSTREAM}/base-{n % UPSTREAM_BASES}"
            facts["derivatives"] += n % 10 < 7
        if n % 20 == 0:
            fields |= {"gated": "manual", "cardData": dict(gate), "license": "llama3.1"}
            facts["gated"] += 1
        elif n % 9000 == 2:
            fields |= {"license": "other", "license_link": "LICENSE"}
            facts["license_file"] += 1
        elif n % 25 == 1:
            fields |= {"license": "other", "license_name": "lab-license", "license_link": shared}
            facts["license_link"] += 1
        hub.add_repo("model", repo_id, **fields)
        if fields.get("license_link") == "LICENSE":
            hub.set_file("model", repo_id, "LICENSE", LICENSE_TEXT)
    for n in range(size - models):
        fields = {"license": "cc-by-4.0"}
        if n % 50 == 0:
            fields |= {"gated": "auto", "cardData": dict(SHORT_GATE)}
            facts["gated"] += 1
        hub.add_repo("dataset", f"{LAB}/data-{n:05d}", **fields)
    for n in range(FAN_MODELS):
        hub.add_repo("model", f"{FANS}/tune-{n}", license="apache-2.0",
                     base_model=f"{LAB}/base-{n % 3}", base_model_relation="finetune")  # fmt: skip
    hub.changed()
    return facts


def busy_change(hub: ListingHub, size: int) -> str:
    """What a busy day brings: heads moved, a base gated, new models, repos deleted."""
    models = size * 9 // 10
    moved = [n for n in range(OWN_BASES, models) if n % 9000 == 2][:5]
    moved += list(range(OWN_BASES + 1, OWN_BASES + 1 + 95 * 7, 7))
    for n in moved:
        hub.commit("model", f"{LAB}/model-{n:05d}")
    hub.set_gated("model", f"{LAB}/base-0", "manual")
    for n in range(30):
        hub.add_repo("model", f"{LAB}/new-{n}", license="apache-2.0",
                     createdAt=f"2026-11-{1 + n % 28:02d}T10:00:00Z")  # fmt: skip
    gone = [n for n in range(OWN_BASES + 3, models, 701)][:60]
    for n in gone:
        hub.remove_repo("model", f"{LAB}/model-{n:05d}")
    hub.changed()
    return f"{len(moved)} heads moved, {LAB}/base-0 gated, 30 new models, {len(gone)} repos deleted"


def request_kind(request: Any) -> str:
    """What a request to the fake Hub was for, from its path and query."""
    path, query = request.path, request.query
    if "/resolve/" in path:
        return "readme" if path.endswith("/README.md") else "license file"
    if path in ("/api/models", "/api/datasets"):
        if any(f.startswith("base_model:") for f in query.get("filter", [])):
            return "lineage"
        if query.get("limit") == ["1"]:
            return "probe"
        return "listing"
    expand = set(query.get("expand", []))
    if expand == {"childrenModelCount"}:
        return "lineage"
    if "siblings" in expand and "config" not in expand:
        return "contents"
    if "config" in expand:
        return "release"
    return "confirm"


class Contender:
    """One tree's tracker in a process of its own, polling when told."""

    def __init__(self, name: str, python: str, endpoint: str, home: Path) -> None:
        self.name = name
        home.mkdir(parents=True)
        self.process = subprocess.Popen(
            [python, str(CONTENDER), "--endpoint", endpoint, "--home", str(home),
             "--authors", ",".join((LAB, UPSTREAM, FANS))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=home,
            env={"HF_HOME": str(home / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1",
                 "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        line = self._line()
        if not line.startswith("READY "):
            raise SystemExit(f"{name}: the contender did not start: {line!r}")
        self.tree = line.removeprefix("READY ").strip()

    def _line(self) -> str:
        assert self.process.stdout is not None
        while True:
            line = self.process.stdout.readline()
            if not line or line.startswith(("READY ", "RESULT ")):
                return line

    def poll(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        sampler = TreeSampler(self.process.pid, every=0.02)
        sampler.start()
        self.process.stdin.write("poll\n")
        self.process.stdin.flush()
        line = self._line()
        sampler.done.set()
        sampler.join()
        if not line.startswith("RESULT "):
            raise SystemExit(f"{self.name}: the contender stopped")
        figures: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
        figures["peak_kib"] = sampler.peak
        return figures

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("quit\n")
        self.process.stdin.close()
        self.process.wait(timeout=60)


def cpu_split(figures: Mapping[str, Any]) -> tuple[float, float, float]:
    """CPU seconds of the poll's listing fetch, detection and store (polling threads)."""
    parts = figures["parts"]
    detect_fetch = parts.get("detect@fetch", 0.0)
    pages = parts.get("license_pages", 0.0)
    detect = parts.get("detect", 0.0) + pages
    fetch = parts.get("fetch", 0.0) - detect_fetch - pages
    store = (
        parts.get("load", 0.0)
        + parts.get("record", 0.0)
        - (parts.get("detect", 0.0) - detect_fetch)
    )
    return fetch, detect, store


def large(size: int, steady: int, contenders: list[tuple[str, str]]) -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    print(describe_setup())
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    site = Site(server)
    try:
        with (
            ListingHub(page_size=PAGE, strict_tokens=False) as hub,
            tempfile.TemporaryDirectory() as tmp,
        ):
            started = time.perf_counter()
            facts = large_world(hub, site, size)
            built = time.perf_counter() - started
            real = len(json.dumps(gate_card())) > 1000
            gate = "the real Llama 3.1 gate on models" if real else "a short gate"
            repos = size + UPSTREAM_BASES + FAN_MODELS
            print(
                f"world: {LAB} with {size:,} repos ({size * 9 // 10:,} models, "
                f"{size - size * 9 // 10:,} data sets), {UPSTREAM} with {UPSTREAM_BASES} bases, "
                f"{FANS} with {FAN_MODELS} derivatives of {LAB}'s; {facts['derivatives']:,} of "
                f"{LAB}'s models built on a base, {facts['gated']:,} gated "
                f"({gate}), {facts['license_link']:,} naming one license page off the Hub, "
                f"{facts['license_file']} a LICENSE file; built in {built:.0f}s"
            )
            running = [
                Contender(name, python, hub.endpoint, Path(tmp) / name)
                for name, python in contenders
            ]
            for c in running:
                print(f"  {c.name}: {c.tree}")
            polls = ["baseline", *(f"steady {n + 1}" for n in range(steady)), "busy", "after busy"]
            rows: list[tuple[str, str, dict[str, Any], dict[str, int]]] = []
            for index, label in enumerate(polls):
                if label == "busy":
                    print(f"busy: {busy_change(hub, size)}")
                order = running if index % 2 == 0 else running[::-1]
                for c in order:
                    mark, hits = len(hub.requests), len(site.hits)
                    figures = c.poll()
                    if not figures["ok"]:
                        raise SystemExit(f"{c.name} {label}: {figures['errors']}")
                    counts: dict[str, int] = {}
                    for request in hub.requests[mark:]:
                        kind = request_kind(request)
                        counts[kind] = counts.get(kind, 0) + 1
                    if len(site.hits) > hits:
                        counts["license page"] = len(site.hits) - hits
                    rows.append((label, c.name, figures, counts))
            for c in running:
                c.close()
        print_large(rows, repos, [name for name, _ in contenders])
    finally:
        server.clear()
        server.stop()


def print_large(
    rows: list[tuple[str, str, dict[str, Any], dict[str, int]]], repos: int, names: list[str]
) -> None:
    print("requests per poll (fake Hub and site logs); the floor is the listing pages")
    print(f"{'poll':<11} {'code':<4} {'listing':>7} {'extras':>6}  extras by kind")
    for label, name, _, counts in rows:
        extras = {k: v for k, v in counts.items() if k != "listing"}
        said = ", ".join(f"{k} {v}" for k, v in sorted(extras.items())) or "-"
        print(
            f"{label:<11} {name:<4} {counts.get('listing', 0):>7} {sum(extras.values()):>6}  {said}"
        )
    print("CPU per poll, seconds (the contender's process; parts on the polling threads)")
    print(
        f"{'poll':<11} {'code':<4} {'process':>7} {'fetch':>6} {'detect':>6} {'store':>6} "
        f"{'µs/state':>8} {'µs/repo':>7} {'gc s':>5} {'wall s':>6} {'peak MiB':>8} {'events':>6}"
    )
    per_state: dict[str, list[float]] = {n: [] for n in names}
    per_repo: dict[str, list[float]] = {n: [] for n in names}
    peaks: dict[str, list[float]] = {n: [] for n in names}
    for label, name, f, _ in rows:
        fetch, detect, store = cpu_split(f)
        state_us = (detect + store) / repos * 1e6
        repo_us = f["cpu"] / repos * 1e6
        if label.startswith("steady"):
            per_state[name].append(state_us)
            per_repo[name].append(repo_us)
            peaks[name].append(f["peak_kib"] / 1024)
        print(
            f"{label:<11} {name:<4} {f['cpu']:>7.2f} {fetch:>6.2f} {detect:>6.2f} {store:>6.2f} "
            f"{state_us:>8.1f} {repo_us:>7.1f} {f['parts'].get('gc', 0.0):>5.2f} {f['wall']:>6.2f} "
            f"{f['peak_kib'] / 1024:>8.0f} "
            f"{f['events']:>6}"
        )
    print(
        "µs/state: detection + store per repo state; µs/repo: the whole poll's CPU per repo; "
        "gc s: wall time of the collector's full passes during the poll"
    )
    mean = {n: (sum(v) / len(v) if v else float("nan")) for n, v in per_state.items()}
    whole = {n: (sum(v) / len(v) if v else float("nan")) for n, v in per_repo.items()}
    for n in names:
        print(
            f"steady mean {n}: {mean[n]:.1f} µs per repo state (detection + store), "
            f"{whole[n]:.1f} µs per repo (whole poll), peak {max(peaks[n] or [0]):.0f} MiB"
        )
    if len(names) == 2:
        new, old = names
        print(
            f"ratio {new}/{old}: {mean[new] / mean[old]:.2f}x per repo state, "
            f"{whole[new] / whole[old]:.2f}x per repo (whole poll)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,5000")
    parser.add_argument("--detect", type=int, default=100_000)
    parser.add_argument("--large", type=int, help="one author with this many repos, alone")
    parser.add_argument("--steady", type=int, default=3, help="unchanged polls (--large)")
    parser.add_argument(
        "--contender-python", default=sys.executable, help="this tree's Python (--large)"
    )
    parser.add_argument(
        "--baseline-python", help="another tree's Python, measured beside it (--large)"
    )
    parser.add_argument("--baseline-name", default="old", help="its name in the tables")
    args = parser.parse_args()
    if args.large:
        contenders = [("new", args.contender_python)]
        if args.baseline_python:
            contenders.append((args.baseline_name[:4], args.baseline_python))
        large(args.large, args.steady, contenders)
        return
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
