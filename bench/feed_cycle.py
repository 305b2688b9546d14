"""Feed polling cost: the tracker against an httpx floor, urlwatch and feedparser alone.

    python bench/feed_cycle.py [--feeds 1000] [--concurrency 100] [--latency-ms 200]
                               [--change 0.1] [--urlwatch PATH/TO/bin/urlwatch]
                               [--before PATH/TO/other/bin/tracker]
                               [--steady-rounds N] [--baseline-rounds N]

Starts bench/feedserver.py in its own process (N feeds of 20-200 items, ~86 MB for 1,000,
ETag/Last-Modified, 304s, 200 ms per response) and runs three cycles over the same URLs:
baseline (first poll), steady (nothing changed) and changed (`--change` of the feeds gained
one item). In each cycle every contender runs as a child process, one after the other:

- floor: bench/fetch_floor.py, httpx on `--concurrency` threads doing nothing but GETs;
  after the baseline it sends the validators it saved (conditional GET), as the tracker does;
- tracker: `tracker poll --json` on a fresh TRACKER_HOME (SQLite), TRACKER_POLL_CONCURRENCY
  and TRACKER_PER_HOST_LIMIT = `--concurrency` (all feeds are on one host);
- tracker-fp: the same with TRACKER_FEED_FAST_PATH=false, every document read by feedparser
  (the tracker before its fast path), so both are measured in one run;
- before: with `--before`, another tracker executable (another checkout's venv, e.g. the
  main branch) run exactly like `tracker`, so a change is measured against the code before
  it in the same run;
- urlwatch 2.29, given as `--urlwatch` (its executable in a venv of its own, so that it
  cannot touch the project's: `python3.11 -m venv DIR && DIR/bin/pip install
  urlwatch==2.29`), one `url:` job per feed, its cache and config in a temp dir, every
  reporter off. Left out, saying so, without `--urlwatch`. Its concurrency is fixed at 10 threads
  (urlwatch/worker.py MAX_WORKERS), it has no setting for it.

`--steady-rounds N` runs the steady cycle N times, the contenders taking turns each round,
and reports each contender's median run: on this shared machine the floor's own steady
cycle has taken from 2.3 to 4.3 s in one session, and one round's ratio says more about
the load than about the code. `--baseline-rounds N` does the same for the baseline, each
round after the first on fresh homes (the trackers' imported again, urlwatch's cache
emptied), the later cycles going on from the last round's.

Wall time is the child's whole life (interpreter start and imports included), measured
from the parent (children cache bytecode as Python does by default, whatever
PYTHONDONTWRITEBYTECODE says here: the baseline writes it, later cycles read it); peak
RSS is the child's own `ru_maxrss` from os.wait4, so it is measured from the outside and
per child. CPU is the child's own (os.wait4) plus, apart, that of its
descendants sampled from /proc (the tracker's parse workers, whose fork server nobody waits
for, are not in the child's rusage). Requests and body bytes come from the server's request log
(and, for the tracker, from its JSON output too). Then feedparser alone parses every body
(and the changed bodies) on one core, in a child process, with the tracker's own call.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from benchutil import TreeSampler, describe_setup, tree_rss_kib  # noqa: E402
from feedserver import FeedServer, feed_body  # noqa: E402

URLWATCH_CONFIG = """\
display:
  new: true
  error: true
  unchanged: false
  empty-diff: false
report:
  stdout:
    enabled: false
    color: false
  email:
    enabled: false
"""


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class CpuSampler(TreeSampler):
    """The memory sampler, also keeping the CPU seconds (user+sys) last seen of every
    process of the tree: the tracker's parse workers are children of its fork server, which
    nobody waits for, so the child's own rusage leaves them out. A process that ends between
    two samples loses at most its last 50 ms."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(pid, every)
        self.cpu: dict[int, float] = {}

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, tree_rss_kib(self.pid))
            self._sample_cpu()
            self.done.wait(self.every)

    def _sample_cpu(self) -> None:
        pending = [self.pid]
        while pending:
            current = pending.pop()
            try:
                with open(f"/proc/{current}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
                self.cpu[current] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
                for task in os.listdir(f"/proc/{current}/task"):
                    with open(f"/proc/{current}/task/{task}/children") as children:
                        pending.extend(int(c) for c in children.read().split())
            except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
                continue

    def others(self) -> float:
        """CPU seconds of the descendants (the child itself is measured by wait4)."""
        return sum(cpu for pid, cpu in self.cpu.items() if pid != self.pid)


@dataclass
class Run:
    """One contender in one cycle."""

    wall: float
    tree_kib: int  # peak of the summed RSS of the child and its descendants
    maxrss_kib: int  # ru_maxrss from wait4: the largest single process
    cpu: float
    descendants_cpu: float  # CPU seconds of the child's descendants (sampled)
    exit_code: int
    stdout: str
    server: dict
    inner: float | None = None  # the contender's own timing, where it reports one
    extra: dict = field(default_factory=dict)


def run_child(command: list[str], *, env: dict[str, str], cwd: Path) -> tuple:
    """Run a child: wall time, peak RSS of its process tree (KiB, summed over the child and
    its descendants, sampled every 50 ms), its own ru_maxrss (KiB, from wait4: the largest
    single process of the tree), its CPU seconds (wait4), its descendants' CPU seconds
    (sampled), exit code and stdout."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        sampler = CpuSampler(process.pid)
        sampler.start()
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        print(f"  ! {command[0]} exited {process.returncode}: {stderr.strip()[-800:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, sampler.peak, usage.ru_maxrss, cpu, sampler.others(), process.returncode, stdout


def measure(server: FeedServer, command: list[str], *, env: dict, cwd: Path) -> Run:
    server.reset()
    wall, tree, rss, cpu, others, code, stdout = run_child(command, env=env, cwd=cwd)
    return Run(wall, tree, rss, cpu, others, code, stdout, server.stats(paths=True))


def unchanged_bytes(stats: dict, changed: set[int]) -> int:
    """Body bytes the server sent for feeds that did not change in this cycle."""
    total = 0
    for path, (_requests, body, _not_modified) in stats.get("paths", {}).items():
        feed = int(path[len("/feed/") : -len(".xml")])
        if feed not in changed:
            total += body
    return total


def parse_child(feeds: int, ids: list[int] | None, version: int, pool: bool = False) -> dict:
    """Time feedparser (the tracker's call) over bodies, in a fresh child, one thread; with
    `pool`, also on a pool of one process per core."""
    command = [sys.executable, str(Path(__file__).resolve()), "--parse-only"]
    if pool:
        command.append("--pool")
    command += ["--feeds", str(feeds), "--version", str(version)]
    if ids is not None:
        command += ["--ids", ",".join(map(str, ids)) or "none"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output)


def parse_only(feeds: int, ids: list[int] | None, version: int, pool: bool) -> None:
    import feedparser

    from tracker.sources import feed as tracker_feed

    chosen = range(feeds) if ids is None else ids
    bodies = [(f"http://127.0.0.1/feed/{i}.xml", feed_body(i, version)) for i in chosen]
    content_type = "application/rss+xml; charset=utf-8"
    started = time.process_time()
    for url, body in bodies:
        headers = {"content-location": url, "content-type": content_type}
        feedparser.parse(body, response_headers=headers, sanitize_html=True)
    feedparser_seconds = time.process_time() - started
    started = time.process_time()
    for url, body in bodies:
        tracker_feed.parse(body, url=url, content_type=content_type)
    tracker_seconds = time.process_time() - started
    pool_seconds = None
    if pool and bodies:
        # What "spread over both cores" gives on this machine now: a process per core.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(os.cpu_count(), mp_context=context) as workers:
            list(workers.map(_parse_one, bodies[: os.cpu_count()]))  # started and warm
            started = time.perf_counter()
            list(workers.map(_parse_one, bodies, chunksize=4))
            pool_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "bodies": len(bodies),
                "bytes": sum(len(b) for _, b in bodies),
                "feedparser_seconds": round(feedparser_seconds, 3),
                "tracker_parse_seconds": round(tracker_seconds, 3),
                "pool_seconds": pool_seconds and round(pool_seconds, 3),
            }
        )
    )


def _parse_one(job: tuple[str, bytes]) -> int:
    import feedparser

    url, body = job
    headers = {"content-location": url, "content-type": "application/rss+xml; charset=utf-8"}
    return len(feedparser.parse(body, response_headers=headers, sanitize_html=True).entries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--change", type=float, default=0.1, help="fraction changed")
    parser.add_argument(
        "--steady-rounds",
        type=int,
        default=1,
        help="run the steady cycle this many times, contenders alternating, and report "
        "each contender's median run (the floor's own wall time varies from round to round)",
    )
    parser.add_argument(
        "--baseline-rounds",
        type=int,
        default=1,
        help="run the baseline cycle this many times, contenders alternating, each round on "
        "fresh homes, and report each contender's median run",
    )
    parser.add_argument(
        "--urlwatch", metavar="PATH", help="urlwatch 2.29's executable (compared when given)"
    )
    parser.add_argument("--tracker", default=shutil.which("tracker") or "tracker")
    parser.add_argument(
        "--before", metavar="PATH", help="another tracker executable, compared as 'before'"
    )
    parser.add_argument("--parse-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ids", help=argparse.SUPPRESS)
    parser.add_argument("--version", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--pool", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.parse_only:
        ids = None
        if args.ids is not None:
            ids = [] if args.ids == "none" else [int(x) for x in args.ids.split(",")]
        parse_only(args.feeds, ids, args.version, args.pool)
        return
    bench(args)


def bench(args: argparse.Namespace) -> None:
    urlwatch = args.urlwatch
    if urlwatch is None:
        print("urlwatch: not compared (pass --urlwatch PATH to compare with urlwatch 2.29)")
    for option, path in (("--urlwatch", urlwatch), ("--before", args.before)):
        if path is not None and not (Path(path).is_file() and os.access(path, os.X_OK)):
            print(f"feed_cycle: {option} {path}: no executable there", file=sys.stderr)
            sys.exit(2)
    work = Path(tempfile.mkdtemp(prefix="feed-cycle-"))
    results: dict[tuple[str, str], Run] = {}
    try:
        with FeedServer(args.feeds, latency_ms=args.latency_ms) as server:
            contenders = setup(args, server, work, urlwatch)
            cycles: list[tuple[str, set[int]]] = [("baseline", set()), ("steady", set())]
            cycles.append(("changed", set()))
            for cycle, changed in cycles:
                if cycle == "changed":
                    changed.update(server.change(args.change))
                rounds = {"steady": args.steady_rounds, "baseline": args.baseline_rounds}
                runs: dict[str, list[Run]] = {name: [] for name in contenders}
                for round_ in range(max(1, rounds.get(cycle, 1))):
                    if cycle == "baseline" and round_ > 0:
                        fresh_homes(args, server, work, contenders, round_)
                    for name, (command, env, cwd) in contenders.items():
                        if name == "floor" and cycle != "baseline":
                            command = [*command, "--conditional"]
                        run = measure(server, command, env=env, cwd=cwd)
                        run.extra["unchanged_bytes"] = unchanged_bytes(run.server, changed)
                        if name in (*TRACKERS, "floor") and run.exit_code == 0:
                            doc = json.loads(run.stdout)
                            run.inner = doc.get("wall_seconds", doc.get("duration_seconds"))
                            run.extra["doc"] = doc
                        runs[name].append(run)
                        print(f"  {cycle:<8} {name:<8} {run.wall:7.2f}s", flush=True)
                for name, made in runs.items():
                    results[(cycle, name)] = sorted(made, key=lambda r: r.wall)[len(made) // 2]
                made_rounds = len(runs["floor"])
                if made_rounds > 1:
                    for name in [n for n in runs if n != "floor"]:
                        ratios = " ".join(
                            f"{t.wall / f.wall:.2f}x"
                            for t, f in zip(runs[name], runs["floor"], strict=True)
                        )
                        print(f"  {cycle} rounds, {name}/floor each round: {ratios}", flush=True)
                    print(f"  (the medians are reported: {made_rounds} rounds)", flush=True)
            changed_list = sorted(cycles[2][1])
        parse_all = parse_child(args.feeds, None, 0, pool=True)
        parse_changed = parse_child(args.feeds, changed_list, 1)
        report(args, results, parse_all, parse_changed, len(changed_list))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def setup(args, server: FeedServer, work: Path, urlwatch: str | None) -> dict:
    """The contenders' commands, environments and working folders; sources imported."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "HF_"))}
    # Each child caches bytecode as Python does by default (and as an installed package
    # has it): with PYTHONDONTWRITEBYTECODE inherited, an editable checkout's modules are
    # compiled from source at every start, which installed packages (httpx, urlwatch)
    # never are.
    base_env.pop("PYTHONDONTWRITEBYTECODE", None)
    floor_dir = work / "floor"
    floor_dir.mkdir()
    floor = [sys.executable, str(BENCH / "fetch_floor.py"), "--base", server.base]
    floor += ["--feeds", str(args.feeds), "--concurrency", str(args.concurrency)]
    floor += ["--state", str(floor_dir / "validators.json")]
    contenders = {"floor": (floor, base_env, floor_dir)}

    for name, extra in (("tracker", {}), ("tracker-fp", {"TRACKER_FEED_FAST_PATH": "false"})):
        contenders[name] = _tracker(args, args.tracker, server, work / name, base_env | extra)
    if args.before:
        contenders["before"] = _tracker(args, args.before, server, work / "before", base_env)

    if urlwatch:
        uw = work / "urlwatch"
        uw.mkdir()
        (uw / "urls.yaml").write_text(
            "---\n".join(f"name: feed {i}\nurl: {url}\n" for i, url in enumerate(server.urls()))
        )
        (uw / "config.yaml").write_text(URLWATCH_CONFIG)
        command = [urlwatch, "--urls", str(uw / "urls.yaml"), "--cache", str(uw / "cache.db")]
        command += ["--config", str(uw / "config.yaml"), "--hooks", str(uw / "hooks.py")]
        contenders["urlwatch"] = (command, base_env | {"HOME": str(uw)}, uw)
    return contenders


def fresh_homes(args, server: FeedServer, work: Path, contenders: dict, round_: int) -> None:
    """Every contender as before its first poll: a baseline is measured once per home."""
    for name, (command, env, cwd) in list(contenders.items()):
        if name in TRACKERS:
            home = work / f"{name}-{round_}"
            contenders[name] = _tracker(args, command[0], server, home, env)
        elif name == "urlwatch":
            (cwd / "cache.db").unlink(missing_ok=True)


def _tracker(args, executable: str, server: FeedServer, home: Path, env: dict) -> tuple:
    """A tracker contender: its own TRACKER_HOME with every feed imported."""
    home.mkdir()
    tracker_env = env | {
        "TRACKER_HOME": str(home),
        "TRACKER_ALLOW_PRIVATE_NETWORKS": "true",
        "TRACKER_POLL_CONCURRENCY": str(args.concurrency),
        "TRACKER_PER_HOST_LIMIT": str(min(args.concurrency, 100)),
    }
    watchlist = home / "sources.toml"
    watchlist.write_text(
        "".join(f'[[sources]]\nkind = "feed"\ntarget = "{url}"\n\n' for url in server.urls())
    )
    subprocess.run(
        [executable, "sources", "import", str(watchlist)],
        env=tracker_env,
        cwd=home,
        check=True,
        capture_output=True,
    )
    return ([executable, "poll", "--json"], tracker_env, home)


CYCLES = ("baseline", "steady", "changed")
TRACKERS = ("tracker", "tracker-fp", "before")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(args, results, parse_all: dict, parse_changed: dict, changed: int) -> None:
    print()
    print(describe_setup())
    print(
        f"{args.feeds:,} feeds, {parse_all['bytes'] / 1e6:.1f} MB, {args.latency_ms:.0f} ms per "
        f"response, {args.concurrency} in flight; {changed} feeds changed in the 'changed' cycle"
    )
    print(
        f"{'cycle':<9}{'contender':<11}{'wall s':>8}{'inner s':>9}{'CPU s':>8}{'+kids':>7}"
        f"{'tree MiB':>9}"
        f"{'max1 MiB':>9}{'requests':>9}{'200':>6}{'304':>6}{'body MB':>9}{'unchanged B':>12}"
    )
    for (cycle, name), run in results.items():
        inner = f"{run.inner:.2f}" if run.inner is not None else "-"
        print(
            f"{cycle:<9}{name:<11}{run.wall:>8.2f}{inner:>9}{run.cpu:>8.2f}"
            f"{run.descendants_cpu:>7.2f}"
            f"{run.tree_kib / 1024:>9.0f}{run.maxrss_kib / 1024:>9.0f}"
            f"{run.server['requests']:>9}{run.server['ok']:>6}"
            f"{run.server['not_modified']:>6}{run.server['body_bytes'] / 1e6:>9.2f}"
            f"{run.extra['unchanged_bytes']:>12}"
        )
    for cycle, name in [(c, n) for n in TRACKERS for c in CYCLES if (c, n) in results]:
        doc = results[(cycle, name)].extra.get("doc", {})
        if doc:
            print(
                f"{name} {cycle}: ok {doc['ok']}, failed {doc['failed']}, unchanged "
                f"{doc['unchanged']}, events {doc['events']}, requests {doc['requests']}, "
                f"body_bytes {doc['body_bytes']:,}"
            )
    pa, pc = parse_all["feedparser_seconds"], parse_changed["feedparser_seconds"]
    print(
        f"feedparser alone, one core: all {parse_all['bodies']} bodies {pa:.2f}s "
        f"({parse_all['bytes'] / 1e6 / pa:.1f} MB/s); the {parse_changed['bodies']} changed "
        f"bodies {pc:.2f}s. The tracker's parse (its fast path where it applies): "
        f"{parse_all['tracker_parse_seconds']:.2f}s and "
        f"{parse_changed['tracker_parse_seconds']:.2f}s"
    )
    if parse_all.get("pool_seconds"):
        print(
            f"feedparser on a pool of {os.cpu_count()} processes (spawned and warm before "
            f"timing): all bodies {parse_all['pool_seconds']:.2f}s, "
            f"{pa / parse_all['pool_seconds']:.2f}x faster than one core"
        )

    def r(cycle: str, name: str) -> Run | None:
        return results.get((cycle, name))

    print()
    print(
        "ratios (wall = whole child process; inner = the contender's own timer; "
        "RSS = peak of the process tree's summed RSS)"
    )
    for cycle in ("baseline", "steady", "changed"):
        t, f, u = r(cycle, "tracker"), r(cycle, "floor"), r(cycle, "urlwatch")
        line = f"  {cycle:<9} tracker/floor wall {t.wall / f.wall:5.2f}x"
        if t.inner and f.inner:
            line += f"  inner {t.inner / f.inner:5.2f}x"
        line += f"  RSS tracker/floor {t.tree_kib / f.tree_kib:4.2f}x"
        if u:
            line += (
                f"  urlwatch/tracker wall {u.wall / t.wall:5.2f}x"
                f"  RSS urlwatch/tracker {u.tree_kib / t.tree_kib:4.2f}x"
            )
        print(line)
        fp = r(cycle, "tracker-fp")
        if fp:
            print(
                f"  {'':<9} tracker-fp/floor wall {fp.wall / f.wall:5.2f}x  (without the fast "
                f"path); tracker-fp/tracker wall {fp.wall / t.wall:5.2f}x"
            )
        before = r(cycle, "before")
        if before:
            line = f"  {'':<9} before/tracker wall {before.wall / t.wall:5.2f}x"
            if t.inner and before.inner:
                line += f"  inner {before.inner / t.inner:5.2f}x"
            line += f"  CPU {before.cpu:.2f}s vs {t.cpu:.2f}s"
            print(line)
    steady_t, changed_t = r("steady", "tracker"), r("changed", "tracker")
    print(
        f"  tracker steady/changed wall {steady_t.wall / changed_t.wall:.2f}x "
        f"({steady_t.wall:.2f}s vs {changed_t.wall:.2f}s)"
    )

    print()
    print("targets")
    f = r("steady", "floor")
    ratio = steady_t.wall / f.wall
    print(
        f"  [{verdict(ratio <= 1.2)}] steady within 1.2x of the floor: {ratio:.2f}x "
        f"({steady_t.wall:.2f}s vs {f.wall:.2f}s; inner {steady_t.inner:.2f}s vs {f.inner:.2f}s "
        f"= {steady_t.inner / f.inner:.2f}x)"
    )
    u = r("steady", "urlwatch")
    if u:
        speed = u.wall / steady_t.wall
        print(
            f"  [{verdict(speed >= 5)}] steady >=5x faster than urlwatch: {speed:.2f}x "
            f"({u.wall:.2f}s vs {steady_t.wall:.2f}s)"
        )
        print(
            f"  [{verdict(steady_t.tree_kib < u.tree_kib)}] steady with less memory than "
            f"urlwatch (peak RSS of the process tree): {steady_t.tree_kib / 1024:.0f} vs "
            f"{u.tree_kib / 1024:.0f} MiB"
        )
    b, bf = r("baseline", "tracker"), r("baseline", "floor")
    bfp = r("baseline", "tracker-fp")
    print(
        f"  [{verdict(b.wall <= 1.1 * bf.wall)}] baseline within 1.1x of the floor: "
        f"{b.wall:.2f}s vs {bf.wall:.2f}s = {b.wall / bf.wall:.2f}x"
        + (f" (without the fast path {bfp.wall:.2f}s = {bfp.wall / bf.wall:.2f}x)" if bfp else "")
    )
    cores = os.cpu_count() or 1
    spent = b.cpu + b.descendants_cpu
    print(
        f"         CPU of the baseline: floor {bf.cpu:.2f}s; tracker {spent:.2f}s = main process "
        f"{b.cpu:.2f}s + parse workers and fork server {b.descendants_cpu:.2f}s (its parse "
        f"alone, one core: {parse_all['tracker_parse_seconds']:.2f}s). Spread perfectly over "
        f"{cores} cores that CPU takes {spent / cores:.2f}s = {spent / cores / bf.wall:.2f}x "
        f"the floor's wall; the parse alone {parse_all['tracker_parse_seconds'] / cores:.2f}s"
    )
    goal = bf.wall + pa / 2
    print(
        f"  [{verdict(b.wall <= 1.2 * goal)}] baseline within 1.2x of floor + feedparser/2 "
        f"cores: {b.wall:.2f}s vs {goal:.2f}s ({bf.wall:.2f} + {pa:.2f}/2) = "
        f"{b.wall / goal:.2f}x"
    )
    if parse_all.get("pool_seconds"):
        measured = bf.wall + parse_all["pool_seconds"]
        print(
            f"         (for context: floor + feedparser on a {os.cpu_count()}-process pool as "
            f"measured in this run = {measured:.2f}s; baseline/that = {b.wall / measured:.2f}x)"
        )
    cf = r("changed", "floor")
    goal = cf.wall + pc
    print(
        f"  [{verdict(changed_t.wall <= 1.3 * goal)}] changed cycle ~ floor + parsing the "
        f"changed feeds (within 1.3x): {changed_t.wall:.2f}s vs {goal:.2f}s "
        f"({cf.wall:.2f} + {pc:.2f}) = {changed_t.wall / goal:.2f}x"
    )
    steady_bytes = steady_t.server["body_bytes"]
    changed_unchanged = changed_t.extra["unchanged_bytes"]
    tracker_bytes = steady_t.extra.get("doc", {}).get("body_bytes")
    print(
        f"  [{verdict(steady_bytes == 0 and changed_unchanged == 0)}] zero body bytes for "
        f"unchanged feeds: steady {steady_bytes} B (tracker says {tracker_bytes}), changed "
        f"cycle {changed_unchanged} B on unchanged feeds; steady requests "
        f"{steady_t.server['requests']} ({steady_t.server['not_modified']} answered 304)"
    )


if __name__ == "__main__":
    main()
