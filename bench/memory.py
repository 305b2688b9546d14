"""Memory of the long-lived modes over 10,000 feed sources: `tracker run` and a Celery worker.

    python bench/memory.py [--sources 10000] [--latency-ms 200] [--max-seconds 180]
                           [--run-workers 16] [--concurrency 4]
                           [--broker redis://127.0.0.1:6379/13]
                           [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
                           [--skip-embedded] [--skip-distributed] [--preloaded]

Both modes poll the same `--sources` feeds of bench/feedserver.py (its own process, 20-200
items a feed, `--latency-ms` per response), added with `tracker sources import` of a
generated TOML watch list (`every` 30 s, so every source is due from the start), for
`--max-seconds` or until every source has been polled once, whichever comes first. Memory
is sampled from the outside: the peak of the summed RSS of each process tree every 50 ms
(as bench/scale.py), and every 0.5 s the peak of its summed PSS (/proc/<pid>/smaps_rollup:
pages shared by forked processes divided among them, not counted in each) and each
process's own peak (VmHWM in /proc/<pid>/status).

- embedded: `tracker run --no-watchlist --workers W` on SQLite, as bench/scale.py runs it
  (its watch list and import), TRACKER_PER_HOST_LIMIT = min(W, 100) as there.
- distributed: `tracker worker --concurrency C --pool prefork` and `tracker beat`, with
  the broker on `--broker` (a Redis db of its own, emptied before and after) and the
  database in a fresh schema of `--postgres` (created, migrated by the tracker's own
  start-up, dropped at the end; the way tests/faults sets up its database). The worker's
  tree is its main process and its C pool processes; the beat is a tree of its own. The
  beat dispatches due sources every TRACKER_DISPATCH_EVERY_SECONDS (5 s, the default),
  500 at a time, each a `poll` task on the worker. TRACKER_PER_HOST_LIMIT=100.

With `--preloaded`, a second worker is measured the same way on a fresh schema: launched
through this script, its main process imports what a poll imports lazily (the source
kinds, the feed parser) and freezes the garbage collector's objects (`gc.freeze()` in
Celery's `worker_init`) before the pool is forked, so the pool processes share those pages
instead of each importing and touching its own copy. `tracker worker` itself does the same
since (tracker/cli/workers.py), so with it the two workers should measure alike.

"polled" is the count of sources with `last_polled_at`, read from the database every 0.5 s.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from benchutil import TreeSampler, describe_setup  # noqa: E402
from feedserver import FeedServer  # noqa: E402
from scale import free_port, polled, prepare, vm_hwm_kib  # noqa: E402

from workers.names import POLL_QUEUE  # noqa: E402

LIMIT_MIB = 300


def children(pid: int) -> list[int]:
    found = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def pss_kib(pid: int) -> int:
    """Proportional set size: the process's private pages plus its share of the pages it
    shares with others (forked children), so a tree's PSS sums to what it really holds."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


@dataclass
class Tree:
    """A process tree being watched: its summed-RSS peak (50 ms), its summed-PSS peak and
    each process's own peak (VmHWM), these two read whenever `sample` is called."""

    name: str
    process: subprocess.Popen
    sampler: TreeSampler
    hwm: dict[int, int] = field(default_factory=dict)  # pid -> VmHWM KiB
    pss_peak: int = 0

    def sample(self) -> None:
        pending = [self.process.pid]
        pss = 0
        while pending:
            pid = pending.pop()
            self.hwm[pid] = max(self.hwm.get(pid, 0), vm_hwm_kib(pid))
            pss += pss_kib(pid)
            pending += children(pid)
        self.pss_peak = max(self.pss_peak, pss)


def start(name: str, command: list[str], env: dict, cwd: Path) -> Tree:
    log = open(cwd / f"{name}.log", "wb")  # noqa: SIM115 - the child keeps it open
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    sampler = TreeSampler(process.pid)
    sampler.start()
    return Tree(name, process, sampler)


def stop(tree: Tree, timeout: float = 60) -> None:
    if tree.process.poll() is None:
        os.killpg(tree.process.pid, signal.SIGTERM)
        try:
            tree.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(tree.process.pid, signal.SIGKILL)
            tree.process.wait()
    tree.sampler.done.set()
    tree.sampler.join()


@dataclass
class Outcome:
    mode: str
    polled: int
    elapsed: float
    first: float | None
    trees: list[Tree]
    note: str = ""

    @property
    def rate(self) -> float:
        span = self.elapsed - (self.first or 0.0)
        return self.polled / span if span > 0 and self.polled else 0.0


def watch(trees: list[Tree], count, total: int, max_seconds: float, logs: Path) -> tuple:
    """Sample the trees every 0.5 s until `count()` reaches `total` or time is up."""
    started = time.perf_counter()
    done, first, elapsed = 0, None, 0.0
    while True:
        time.sleep(0.5)
        for tree in trees:
            tree.sample()
            if tree.process.poll() is not None:
                tail = (logs / f"{tree.name}.log").read_text(errors="replace")[-1500:]
                raise RuntimeError(f"{tree.name} exited {tree.process.returncode}: {tail}")
        done = count()
        elapsed = time.perf_counter() - started
        if done and first is None:
            first = elapsed
        if done >= total or elapsed > max_seconds:
            break
    for tree in trees:
        tree.sample()
    return done, elapsed, first


def embedded(args, server: FeedServer, work: Path, env: dict) -> Outcome:
    eenv = env | {"TRACKER_PER_HOST_LIMIT": str(min(args.run_workers, 100))}
    home, took = prepare(args.sources, server, work, "30s", args.tracker, eenv)
    print(f"  embedded: {args.sources} sources imported into SQLite in {took:.1f}s", flush=True)
    command = [args.tracker, "run", "--no-watchlist", "--port", str(free_port())]
    command += ["--workers", str(args.run_workers)]
    tree = start("run", command, eenv | {"TRACKER_HOME": str(home)}, home)
    try:
        done, elapsed, first = watch(
            [tree], lambda: polled(home / "tracker.db")[0], args.sources, args.max_seconds, home
        )
    finally:
        stop(tree)
    return Outcome(
        f"tracker run, {args.run_workers} workers (SQLite)", done, elapsed, first, [tree]
    )


PRELOAD = [
    "workers.tasks",
    "tracker.feedparse",
    "tracker.sources.feed",
    "tracker.sources.page",
    "tracker.sources.hub",
]


def launch_preloaded(argv: list[str]) -> None:
    """`tracker ARGV` (a worker) whose main process imports what a poll imports lazily and
    freezes the garbage collector's objects before it forks its pool: what the pool
    processes then share instead of each importing and touching its own copy. It changes
    nothing in the product's files."""
    import gc
    import importlib

    from celery.signals import worker_init

    for name in PRELOAD:
        importlib.import_module(name)

    def freeze(**_: object) -> None:
        gc.collect()
        gc.freeze()

    worker_init.connect(freeze, weak=False)
    from tracker.cli import run

    sys.argv = ["tracker", *argv]
    run()


def distributed(args, server: FeedServer, work: Path, env: dict, preload: bool = False) -> Outcome:
    import redis
    import sqlalchemy as sa

    schema = f"bench_memory_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.postgres)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    database_url = f"{args.postgres}?options=-csearch_path%3D{schema}"
    broker = redis.Redis.from_url(args.broker)
    broker.flushdb()
    home = work / ("distributed-preloaded" if preload else "distributed")
    home.mkdir()
    denv = env | {
        "TRACKER_HOME": str(home),
        "TRACKER_DATABASE_URL": database_url,
        "TRACKER_BROKER_URL": args.broker,
        "TRACKER_PER_HOST_LIMIT": "100",
        "PYTHONUNBUFFERED": "1",
    }
    trees: list[Tree] = []
    engine = sa.create_engine(database_url)
    try:
        watchlist = work / "distributed.toml"
        watchlist.write_text(
            "".join(
                f'[[sources]]\nkind = "feed"\ntarget = "{url}"\nevery = "30s"\n\n'
                for url in server.urls()
            )
        )
        started = time.perf_counter()
        subprocess.run(
            [args.tracker, "sources", "import", str(watchlist)],
            env=denv,
            cwd=home,
            check=True,
            capture_output=True,
        )
        print(
            f"  distributed: {args.sources} sources imported into PostgreSQL in "
            f"{time.perf_counter() - started:.1f}s",
            flush=True,
        )
        worker_cmd = [args.tracker]
        if preload:
            worker_cmd = [sys.executable, str(Path(__file__).resolve()), "--launch-preloaded"]
        worker_cmd += ["worker", "--concurrency", str(args.concurrency)]
        worker_cmd += ["--pool", "prefork", "-n", "memory@%h"]
        beat_cmd = [args.tracker, "beat", "--schedule", str(home / "celerybeat-schedule")]
        trees = [start("worker", worker_cmd, denv, home), start("beat", beat_cmd, denv, home)]

        def count() -> int:
            with engine.connect() as connection:
                query = sa.text("SELECT count(last_polled_at) FROM source")
                return int(connection.execute(query).scalar_one())

        done, elapsed, first = watch(trees, count, args.sources, args.max_seconds, home)
        note = f"poll tasks still queued in the broker at the end: {broker.llen(POLL_QUEUE)}"
        mode = f"tracker worker, prefork {args.concurrency} (PostgreSQL)"
        if preload:
            mode = f"tracker worker, prefork {args.concurrency}, preloaded"
        return Outcome(mode, done, elapsed, first, trees, note)
    finally:
        for tree in trees:
            stop(tree)
        engine.dispose()
        broker.flushdb()
        with admin.begin() as connection:
            connection.execute(sa.text("SET lock_timeout = '30s'"))
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    if sys.argv[1:2] == ["--launch-preloaded"]:
        launch_preloaded(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--max-seconds", type=float, default=180)
    parser.add_argument("--run-workers", type=int, default=16)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--skip-embedded", action="store_true")
    parser.add_argument("--skip-distributed", action="store_true")
    parser.add_argument(
        "--preloaded",
        action="store_true",
        help="also measure a worker launched with its poll modules imported and gc frozen "
        "before the fork by this script (as `tracker worker` now does itself)",
    )
    parser.add_argument("--tracker", default=shutil.which("tracker") or "tracker")
    args = parser.parse_args()
    if args.sources < 1 or args.concurrency < 1 or args.run_workers < 1:
        parser.exit(2, "memory: --sources, --concurrency and --run-workers must be positive\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "HF_"))}
    env["TRACKER_ALLOW_PRIVATE_NETWORKS"] = "true"
    print(
        f"{args.sources:,} feed sources, {args.latency_ms:.0f} ms per response, cut at "
        f"{args.max_seconds:.0f}s",
        flush=True,
    )
    work = Path(tempfile.mkdtemp(prefix="memory-"))
    outcomes: list[Outcome] = []
    try:
        with FeedServer(args.sources, latency_ms=args.latency_ms) as server:
            modes = [] if args.skip_embedded else [("embedded", embedded)]
            modes += [] if args.skip_distributed else [("distributed", distributed)]
            if args.preloaded:
                modes.append(("preloaded", functools.partial(distributed, preload=True)))
            for name, measure in modes:
                try:
                    outcome = measure(args, server, work, env)
                except Exception as error:
                    print(f"  {name}: failed: {str(error)[-1500:]}", flush=True)
                    continue
                outcomes.append(outcome)
                print(f"  {name}: {outcome.polled} polled in {outcome.elapsed:.1f}s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(args, outcomes)


def report(args, outcomes: list[Outcome]) -> None:
    print()
    print(describe_setup())
    print(
        f"{'process tree':<40}{'polled':>7}{'seconds':>8}{'src/s':>7}{'RSS MiB':>8}"
        f"{'PSS MiB':>8}{'main MiB':>9}{'children (own peaks, MiB)':>27}"
    )
    for o in outcomes:
        for n, tree in enumerate(o.trees):
            hwm = dict(tree.hwm)
            main = hwm.pop(tree.process.pid, 0)
            kids = ", ".join(f"{k / 1024:.0f}" for k in sorted(hwm.values(), reverse=True))
            label = o.mode if n == 0 else f"  {tree.name}"
            figures = f"{o.polled:>7}{o.elapsed:>8.1f}{o.rate:>7.1f}" if n == 0 else f"{'':>22}"
            print(
                f"{label:<40}{figures}{tree.sampler.peak / 1024:>8.0f}{tree.pss_peak / 1024:>8.0f}"
                f"{main / 1024:>9.0f}  {kids or '-'}"
            )
        if o.note:
            print(f"  ({o.note})")
    print(
        "(RSS = peak of the summed RSS of the tree, sampled every 50 ms: pages that forked "
        "processes share are counted in each; PSS = peak of the summed proportional set "
        "size, every 0.5 s: shared pages divided among their sharers; main = VmHWM of the "
        "top process; src/s = sources polled a second from the first poll)"
    )
    by = {o.mode.split(",")[0]: o for o in outcomes}
    run = by.get("tracker run")
    if run:
        tree = run.trees[0].sampler.peak / 1024
        print(
            f"[{'PASS' if tree < LIMIT_MIB else 'MISS'}] tracker run, {args.sources:,} sources, "
            f"under {LIMIT_MIB} MiB (summed RSS of the tree): {tree:.0f} MiB"
        )
    dist = next((o for o in outcomes if o.mode.startswith("tracker worker")), None)
    if dist:
        rss = sum(t.sampler.peak for t in dist.trees) / 1024
        pss = sum(t.pss_peak for t in dist.trees) / 1024
        line = f"distributed, worker tree + beat tree: RSS {rss:.0f} MiB, PSS {pss:.0f} MiB"
        if run:
            line += (
                f"; worker tree / tracker run tree: RSS "
                f"{dist.trees[0].sampler.peak / run.trees[0].sampler.peak:.2f}x, PSS "
                f"{dist.trees[0].pss_peak / max(run.trees[0].pss_peak, 1):.2f}x"
            )
        print(line)


if __name__ == "__main__":
    main()
