"""Embedded mode at scale: `tracker run` with 100, 1,000 and 10,000 feed sources.

    python bench/scale.py [--sizes 100,1000,10000] [--workers 4,64] [--latency-ms 200]
                          [--max-seconds 60] [--every 30s] [--tick SECONDS]

Per size: bench/feedserver.py serves that many feeds (20-200 items each, its own process),
the sources are added with `tracker sources import` of a generated TOML watch list (`every`
30 s), and the imported TRACKER_HOME (SQLite) is copied fresh for each `--workers` value.
Then `tracker run --no-watchlist --workers W` starts, and one full cycle is measured: the
time until every source has `last_polled_at` set, read from the SQLite file (read-only)
every 0.5 s. Memory is sampled from the outside every 50 ms: the `tracker run` process's
own peak (VmHWM in /proc/<pid>/status) and the peak of the summed RSS of its process tree
(it spawns worker processes to parse feeds). The run is stopped with SIGINT (Ctrl-C).

A cycle that has not finished after `--max-seconds` is cut short: the rate measured so far
(sources polled per second, from the first poll) gives a projected cycle time, marked "~".

`--tick S` runs the same command through a launcher that sets the scheduler's tick (how
often it claims due sources, 5 s in `tracker run`) to S seconds, to separate the cost of
polling from the wait between ticks. It changes nothing in the product's files.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from benchutil import TreeSampler, describe_setup  # noqa: E402
from feedserver import FeedServer  # noqa: E402

LIMIT_MIB = 300


@dataclass
class Outcome:
    size: int
    workers: int
    polled: int
    failed: int
    first_poll: float | None  # seconds after start when the first source was polled
    elapsed: float  # seconds after start when the cycle ended (or was cut short)
    complete: bool
    main_hwm_kib: int
    tree_peak_kib: int

    @property
    def rate(self) -> float:
        """Sources polled per second, from the first poll on."""
        span = self.elapsed - (self.first_poll or 0.0)
        return self.polled / span if span > 0 and self.polled else 0.0

    @property
    def cycle(self) -> float:
        """Seconds for one full cycle from start: measured, or projected from the rate."""
        if self.complete:
            return self.elapsed
        if not self.rate:
            return float("inf")
        return (self.first_poll or 0.0) + self.size / self.rate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def vm_hwm_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def polled(db_path: Path) -> tuple[int, int]:
    """Sources with last_polled_at set, and of those, with an error."""
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as conn:
            row = conn.execute(
                "SELECT count(last_polled_at), count(CASE WHEN last_polled_at IS NOT NULL "
                "AND last_error IS NOT NULL THEN 1 END) FROM source"
            ).fetchone()
        return int(row[0]), int(row[1])
    except sqlite3.Error:
        return 0, 0


def prepare(size: int, server: FeedServer, work: Path, every: str, tracker: str, env: dict):
    """A TRACKER_HOME with `size` imported feed sources; returns it and the import time."""
    home = work / f"home-{size}"
    home.mkdir()
    watchlist = work / f"sources-{size}.toml"
    watchlist.write_text(
        "".join(
            f'[[sources]]\nkind = "feed"\ntarget = "{url}"\nevery = "{every}"\n\n'
            for url in server.urls()
        )
    )
    started = time.perf_counter()
    subprocess.run(
        [tracker, "sources", "import", str(watchlist)],
        env=env | {"TRACKER_HOME": str(home)},
        cwd=home,
        check=True,
        capture_output=True,
    )
    return home, time.perf_counter() - started


def run_once(args, size: int, workers: int, template: Path, work: Path, env: dict) -> Outcome:
    home = work / f"run-{size}-{workers}"
    shutil.copytree(template, home)
    db_path = home / "tracker.db"
    if args.tick:
        command = [sys.executable, str(Path(__file__).resolve()), "--launch", str(args.tick)]
    else:
        command = [args.tracker]
    command += ["run", "--no-watchlist", "--port", str(free_port()), "--workers", str(workers)]
    log = open(home / "run.log", "w")  # noqa: SIM115 - closed below, after the child ends
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env | {"TRACKER_HOME": str(home)}, cwd=home, stdout=log, stderr=log
    )
    sampler = TreeSampler(process.pid)
    sampler.start()
    first_poll = None
    count = failed = 0
    hwm = 0
    try:
        while True:
            time.sleep(0.5)
            hwm = max(hwm, vm_hwm_kib(process.pid))
            elapsed = time.perf_counter() - started
            count, failed = polled(db_path)
            if count and first_poll is None:
                first_poll = elapsed
            if count >= size or elapsed > args.max_seconds or process.poll() is not None:
                break
        elapsed = time.perf_counter() - started
        hwm = max(hwm, vm_hwm_kib(process.pid))
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        sampler.done.set()
        sampler.join()
        log.close()
    if process.returncode not in (0, -signal.SIGINT, 130) and count < size:
        tail = (home / "run.log").read_text()[-800:]
        print(f"  ! tracker run exited {process.returncode}: {tail}")
    outcome = Outcome(
        size, workers, count, failed, first_poll, elapsed, count >= size, hwm, sampler.peak
    )
    shutil.rmtree(home, ignore_errors=True)
    return outcome


def launch(tick: float, argv: list[str]) -> None:
    """`tracker ARGV` with the embedded scheduler's tick set to `tick` seconds."""
    from tracker import embedded

    original = embedded.Scheduler.__init__

    def init(self, db, *, workers: int = 4, tick_seconds: float = 5.0) -> None:
        original(self, db, workers=workers, tick_seconds=tick)

    embedded.Scheduler.__init__ = init
    from tracker.cli import run

    sys.argv = ["tracker", *argv]
    run()


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--launch":
        launch(float(sys.argv[2]), sys.argv[3:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--workers", default="4,64")
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--max-seconds", type=float, default=60)
    parser.add_argument("--every", default="30s")
    parser.add_argument("--tick", type=float, default=None)
    parser.add_argument("--per-host-limit", type=int, default=None)
    parser.add_argument("--tracker", default=shutil.which("tracker") or "tracker")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    workers_list = [int(w) for w in args.workers.split(",")]
    per_host = args.per_host_limit or max(workers_list)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "HF_"))}
    env |= {
        "TRACKER_ALLOW_PRIVATE_NETWORKS": "true",
        # All feeds are on one host: without this the default 4 would cap every run at 4.
        "TRACKER_PER_HOST_LIMIT": str(min(per_host, 100)),
    }
    tick = f"tick {args.tick:g}s (launcher)" if args.tick else "stock tick (5 s)"
    print(
        f"tracker run, {tick}, every {args.every}, {args.latency_ms:.0f} ms per response, "
        f"TRACKER_PER_HOST_LIMIT={env['TRACKER_PER_HOST_LIMIT']}, cut at {args.max_seconds:.0f}s",
        flush=True,
    )
    outcomes: list[Outcome] = []
    work = Path(tempfile.mkdtemp(prefix="scale-"))
    try:
        for size in sizes:
            with FeedServer(size, latency_ms=args.latency_ms) as server:
                template, import_s = prepare(size, server, work, args.every, args.tracker, env)
                print(f"  {size:>6} sources imported in {import_s:.1f}s", flush=True)
                for workers in workers_list:
                    outcome = run_once(args, size, workers, template, work, env)
                    outcomes.append(outcome)
                    mark = "" if outcome.complete else "~"
                    print(
                        f"  {size:>6} sources, {workers:>2} workers: {outcome.polled}/{size} "
                        f"polled in {outcome.elapsed:.1f}s (cycle {mark}{outcome.cycle:.0f}s)",
                        flush=True,
                    )
            shutil.rmtree(template, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(outcomes, sizes, workers_list)


def report(outcomes: list[Outcome], sizes: list[int], workers_list: list[int]) -> None:
    print()
    print(describe_setup())
    print(
        f"{'sources':>8}{'workers':>8}{'polled':>8}{'failed':>7}{'first s':>8}{'cycle s':>10}"
        f"{'ms/source':>10}{'sources/s':>10}{'main MiB':>9}{'tree MiB':>9}"
    )
    for o in outcomes:
        mark = "" if o.complete else "~"
        print(
            f"{o.size:>8}{o.workers:>8}{o.polled:>8}{o.failed:>7}{o.first_poll or 0:>8.1f}"
            f"{mark + format(o.cycle, '.1f'):>10}{1000 * o.cycle / o.size:>10.1f}"
            f"{o.rate:>10.2f}{o.main_hwm_kib / 1024:>9.0f}{o.tree_peak_kib / 1024:>9.0f}"
        )
    print("(~ projected from the rate of a cycle cut short; main = VmHWM of `tracker run`;")
    print(" tree = peak summed RSS of `tracker run` and its worker processes)")
    print()
    by = {(o.size, o.workers): o for o in outcomes}
    for workers in workers_list:
        steps = []
        for small, large in itertools.pairwise(sizes):
            a, b = by.get((small, workers)), by.get((large, workers))
            if a and b and a.cycle and b.cycle:
                growth = (b.cycle / b.size) / (a.cycle / a.size)
                steps.append(f"{small}->{large}: x{growth:.2f}")
        if steps:
            print(f"cost per source growth, {workers} workers: " + ", ".join(steps) + " (1 = flat)")
    for workers in workers_list:
        largest = by.get((max(sizes), workers))
        if largest is None:
            continue
        tree = largest.tree_peak_kib / 1024
        note = "" if largest.complete else f" (cycle cut short at {largest.polled} polled)"
        print(
            f"[{'PASS' if tree < LIMIT_MIB else 'MISS'}] {largest.size:,} sources, {workers} "
            f"workers: under {LIMIT_MIB} MiB resident: tree {tree:.0f} MiB, main process "
            f"{largest.main_hwm_kib / 1024:.0f} MiB{note}"
        )


if __name__ == "__main__":
    main()
