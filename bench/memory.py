"""Memory of the long-lived modes over 10,000 feed sources: `tracker run` and a Celery worker.

    python bench/memory.py [--sources 10000] [--latency-ms 200] [--max-seconds 180]
                           [--run-workers 16] [--concurrency 4]
                           [--broker redis://127.0.0.1:6379/13]
                           [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
                           [--skip-embedded] [--skip-distributed]

Both modes poll the same `--sources` feeds of bench/feedserver.py (its own process, 20-200
items a feed, `--latency-ms` per response), added with `tracker sources import` of a
generated TOML watch list (`every` 30 s, so every source is due from the start), for
`--max-seconds` or until every source has been polled once, whichever comes first. Memory
is sampled from the outside every 50 ms: the peak of the summed RSS of each process tree,
and each process's own peak (VmHWM in /proc/<pid>/status).

- embedded: `tracker run --no-watchlist --workers W` on SQLite, exactly as bench/scale.py
  runs it (its `run_once`), TRACKER_PER_HOST_LIMIT = min(W, 100) as there.
- distributed: `tracker worker --concurrency C --pool prefork` and `tracker beat`, with
  the broker on `--broker` (a Redis db of its own, emptied before and after) and the
  database in a fresh schema of `--postgres` (created, migrated by the tracker's own
  start-up, dropped at the end; the way tests/faults sets up its database). The worker's
  tree is its main process and its C pool processes; the beat is a tree of its own. The
  beat dispatches due sources every TRACKER_DISPATCH_EVERY_SECONDS (5 s, the default),
  500 at a time, each a `poll` task on the worker. TRACKER_PER_HOST_LIMIT=100.

"polled" is the count of sources with `last_polled_at`, read from the database every 0.5 s.
"""

from __future__ import annotations

import argparse
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
from scale import prepare, run_once, vm_hwm_kib  # noqa: E402

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


@dataclass
class Tree:
    """A process tree being watched: its summed-RSS peak and each process's own peak."""

    name: str
    process: subprocess.Popen
    sampler: TreeSampler
    hwm: dict[int, int] = field(default_factory=dict)  # pid -> VmHWM KiB

    def sample(self) -> None:
        pending = [self.process.pid]
        while pending:
            pid = pending.pop()
            self.hwm[pid] = max(self.hwm.get(pid, 0), vm_hwm_kib(pid))
            pending += children(pid)


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


def distributed(args, server: FeedServer, work: Path, env: dict) -> dict:
    import redis
    import sqlalchemy as sa

    schema = f"bench_memory_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.postgres)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    database_url = f"{args.postgres}?options=-csearch_path%3D{schema}"
    broker = redis.Redis.from_url(args.broker)
    broker.flushdb()
    home = work / "distributed"
    home.mkdir()
    denv = env | {
        "TRACKER_HOME": str(home),
        "TRACKER_DATABASE_URL": database_url,
        "TRACKER_BROKER_URL": args.broker,
        "TRACKER_PER_HOST_LIMIT": "100",
        "PYTHONUNBUFFERED": "1",
    }
    trees: list[Tree] = []
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
        worker_cmd = [args.tracker, "worker", "--concurrency", str(args.concurrency)]
        worker_cmd += ["--pool", "prefork", "-n", "memory@%h"]
        beat_cmd = [args.tracker, "beat", "--schedule", str(home / "celerybeat-schedule")]
        started = time.perf_counter()
        worker = start("worker", worker_cmd, denv, home)
        beat = start("beat", beat_cmd, denv, home)
        trees = [worker, beat]
        engine = sa.create_engine(database_url)
        count = 0
        first = None
        while True:
            time.sleep(0.5)
            for tree in trees:
                tree.sample()
                if tree.process.poll() is not None:
                    tail = (home / f"{tree.name}.log").read_text(errors="replace")[-1500:]
                    raise RuntimeError(f"{tree.name} exited {tree.process.returncode}: {tail}")
            with engine.connect() as connection:
                count = connection.execute(
                    sa.text("SELECT count(last_polled_at) FROM source")
                ).scalar_one()
            elapsed = time.perf_counter() - started
            if count and first is None:
                first = elapsed
            if count >= args.sources or elapsed > args.max_seconds:
                break
        for tree in trees:
            tree.sample()
        queued = broker.llen(POLL_QUEUE)
        engine.dispose()
        return {
            "polled": count,
            "elapsed": elapsed,
            "first": first,
            "worker_tree": worker.sampler.peak,
            "worker_hwm": dict(worker.hwm),
            "worker_pid": worker.process.pid,
            "beat_tree": beat.sampler.peak,
            "beat_hwm": max(beat.hwm.values(), default=0),
            "queued": queued,
        }
    finally:
        for tree in trees:
            stop(tree)
        broker.flushdb()
        with admin.begin() as connection:
            connection.execute(sa.text("SET lock_timeout = '30s'"))
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
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
    embedded = dist = None
    try:
        with FeedServer(args.sources, latency_ms=args.latency_ms) as server:
            if not args.skip_embedded:
                eenv = env | {"TRACKER_PER_HOST_LIMIT": str(min(args.run_workers, 100))}
                template, took = prepare(args.sources, server, work, "30s", args.tracker, eenv)
                print(f"  embedded: {args.sources} sources imported in {took:.1f}s", flush=True)
                scale_args = argparse.Namespace(
                    tick=None, tracker=args.tracker, max_seconds=args.max_seconds
                )
                embedded = run_once(
                    scale_args, args.sources, args.run_workers, template, work, eenv
                )
                print(
                    f"  embedded: {embedded.polled} polled in {embedded.elapsed:.1f}s", flush=True
                )
            if not args.skip_distributed:
                try:
                    dist = distributed(args, server, work, env)
                except Exception as error:
                    print(f"  distributed: failed: {str(error)[-1500:]}")
                else:
                    print(
                        f"  distributed: {dist['polled']} polled in {dist['elapsed']:.1f}s",
                        flush=True,
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(args, embedded, dist)


def report(args, embedded, dist) -> None:
    print()
    print(describe_setup())
    print(
        f"{'mode':<34}{'polled':>8}{'seconds':>9}{'sources/s':>10}{'tree MiB':>10}"
        f"{'main MiB':>10}{'largest child MiB':>19}"
    )
    if embedded:
        rate = embedded.rate
        print(
            f"{'tracker run, ' + str(args.run_workers) + ' workers (SQLite)':<34}"
            f"{embedded.polled:>8}{embedded.elapsed:>9.1f}{rate:>10.2f}"
            f"{embedded.tree_peak_kib / 1024:>10.0f}{embedded.main_hwm_kib / 1024:>10.0f}"
            f"{'-':>19}"
        )
    if dist:
        hwm = dict(dist["worker_hwm"])
        main = hwm.pop(dist["worker_pid"], 0)
        pool = sorted(hwm.values(), reverse=True)
        span = dist["elapsed"] - (dist["first"] or 0)
        rate = dist["polled"] / span if span > 0 else 0.0
        print(
            f"{'tracker worker, prefork ' + str(args.concurrency) + ' (PostgreSQL)':<34}"
            f"{dist['polled']:>8}{dist['elapsed']:>9.1f}{rate:>10.2f}"
            f"{dist['worker_tree'] / 1024:>10.0f}{main / 1024:>10.0f}"
            f"{(pool[0] if pool else 0) / 1024:>19.0f}"
        )
        print(
            f"{'tracker beat':<34}{'':>8}{'':>9}{'':>10}{dist['beat_tree'] / 1024:>10.0f}"
            f"{dist['beat_hwm'] / 1024:>10.0f}{'-':>19}"
        )
        print(
            f"worker processes' own peaks (VmHWM, MiB): main {main / 1024:.0f}, pool "
            + ", ".join(f"{k / 1024:.0f}" for k in pool)
            + f"; poll tasks still queued in the broker at the end: {dist['queued']}"
        )
    print(
        "(tree = peak of the summed RSS of the process tree, sampled every 50 ms: pages "
        "shared between forked processes are counted in each; main = VmHWM of the top process)"
    )
    if embedded:
        tree = embedded.tree_peak_kib / 1024
        print(
            f"[{'PASS' if tree < LIMIT_MIB else 'MISS'}] tracker run, {args.sources:,} sources: "
            f"under {LIMIT_MIB} MiB: {tree:.0f} MiB"
        )
    if dist:
        total = (dist["worker_tree"] + dist["beat_tree"]) / 1024
        print(
            f"distributed total (worker tree + beat tree): {total:.0f} MiB"
            + (
                "; worker tree / tracker run tree "
                f"{dist['worker_tree'] / embedded.tree_peak_kib:.2f}x"
                if embedded
                else ""
            )
        )


if __name__ == "__main__":
    main()
