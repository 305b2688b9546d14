"""Webhook to alert: a Hub webhook for a watched repo whose gate closed, to the alert at a sink.

    python bench/webhook_latency.py [--webhooks 100] [--gap 0.2] [--modes embedded,distributed]
        [--redis-db 12] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--concurrency 2] [--warmup 2] [--burst 20] [--keep-logs]

A stand-in Hub on loopback (tests/fakehub.py, a real HTTP server; the tracker reaches it
through HF_ENDPOINT, which huggingface_hub honours) serves the author `northwind-ai` with
the two repos of tests/fixtures/hub, `Northwind-3-8B-Instruct` starting ungated. A json://
sink on loopback (a real HTTP server) records when each alert arrives. The tracker runs as
child processes, with `northwind-ai` watched (`tracker sources add hub northwind-ai`), one
subscription to the sink for `access.gated` and `access.ungated` (`tracker subscriptions
add`) and a baseline (`tracker poll`) before the service starts:

- embedded: `tracker run` (SQLite in a fresh TRACKER_HOME);
- distributed: `tracker serve`, `tracker worker --concurrency N --pool prefork` and
  `tracker beat` on this machine's Redis (db `--redis-db`, emptied before and after) and
  PostgreSQL (a fresh schema of the `test` database, dropped at the end, as tests/faults do).

Each round closes the repo's gate at the stand-in Hub (`gated: manual`), sends the Hub's
webhook (`repo.config` update, with the `X-Webhook-Secret` the tracker is given as
TRACKER_WEBHOOK_SECRET) and measures until the `access.gated` alert arrives at the sink;
then it opens the gate again the same way and waits for `access.ungated` (measured too, as
the second figure), then waits `--gap` seconds. Webhooks go one after another, never two
at once: this is the latency of one change, not the throughput of a burst (a burst is
one poll, tests/test_requested_polls.py). The first `--warmup` rounds of each mode (each
process's first poll and first delivery) are shown but not counted.

Per mode: p50, p95 and max of webhook → alert over the gate closings, PASS when p95 ≤ 2 s;
and where the time goes (p50 of: the webhook's answer, webhook → the poll's info call
at the Hub, that call → the alert at the sink). Then a check that the latency is not
bought by giving up coalescing: the gate closes and `--burst` webhooks are sent at once;
the info calls at the Hub and the alerts that follow are counted (one poll, one alert).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchutil import describe_setup

from tests.fakehub import FakeHub

TRACKER = [sys.executable, "-m", "tracker"]
AUTHOR = "northwind-ai"
REPO = f"{AUTHOR}/Northwind-3-8B-Instruct"
FIXTURES = (
    "model_info.northwind-ai--Northwind-3-8B-Instruct.json",
    "model_info.northwind-ai--encoder-base-uncased.json",
)
SECRET = "bench-webhook-secret"
TARGET_P95 = 2.0


# --- the stand-in Hub and the sink ------------------------------------------------------------


class TimedHub(FakeHub):
    """The test suite's fake Hub, noting when each info call for a repo arrives."""

    def __init__(self) -> None:
        super().__init__(page_size=1000, strict_tokens=False)
        self.info_calls: list[float] = []

    def _handle(self, method: str, raw_path: str, headers: Mapping[str, str]) -> Any:
        if raw_path.startswith(f"/api/models/{REPO}"):
            with self._lock:
                self.info_calls.append(time.monotonic())
        return super()._handle(method, raw_path, headers)


@dataclass(frozen=True)
class Arrival:
    at: float
    title: str


@dataclass
class AlertSink:
    """Records each JSON alert POSTed to it (time of arrival, title); answers 200 at once."""

    arrivals: list[Arrival] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.changed = threading.Condition()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.monotonic()
                try:
                    title = str(json.loads(body).get("title", ""))
                except ValueError:
                    title = ""
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                with sink.changed:
                    sink.arrivals.append(Arrival(at, title))
                    sink.changed.notify_all()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_address[1]}/alerts"

    def wait_for(self, count: int, timeout: float) -> Arrival | None:
        """The `count`-th alert (1-based), once it has arrived; None after `timeout`."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.arrivals) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(left)
            return self.arrivals[count - 1]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- the tracker's processes ------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Processes:
    """Child `tracker` processes, each in a group of its own, with their logs."""

    directory: Path
    env: dict[str, str]
    started: list[tuple[str, subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def command(self, *args: str) -> str:
        """Run a short `tracker` command to its end; its output."""
        done = subprocess.run(
            [*TRACKER, *args], env=self.env, cwd=self.directory, capture_output=True, timeout=120
        )
        if done.returncode != 0:
            raise RuntimeError(f"tracker {' '.join(args)}: {done.stderr.decode()[-2000:]}")
        return done.stdout.decode()

    def start(self, name: str, *args: str) -> None:
        log = self.directory / f"{name}.log"
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                [*TRACKER, *args],
                env=self.env,
                cwd=self.directory,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.started.append((name, popen, log))

    def check_alive(self) -> None:
        for name, popen, log in self.started:
            if popen.poll() is not None:
                raise RuntimeError(f"{name} exited ({popen.returncode}):\n{tail(log)}")

    def stop(self) -> None:
        """SIGTERM each group (a worker finishes its tasks), SIGKILL what is left after 20 s."""
        for _name, popen, _log in self.started:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(popen.pid, signal.SIGTERM)
        for _name, popen, _log in self.started:
            try:
                popen.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(10)

    def logs(self) -> str:
        return "\n".join(f"--- {name} ---\n{tail(log)}" for name, _p, log in self.started)


def tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except FileNotFoundError:
        return ""


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, procs: Processes) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        procs.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}:\n{procs.logs()}")
        time.sleep(0.1)


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
            return answer.status == 200
    except (OSError, urllib.error.URLError):
        return False


def base_env(home: Path, hub: FakeHub) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "HF_"))}
    env.update(
        TRACKER_HOME=str(home),
        TRACKER_ALLOW_PRIVATE_NETWORKS="true",
        TRACKER_WEBHOOK_SECRET=SECRET,
        HF_ENDPOINT=hub.endpoint,
        HF_HOME=str(home / "hf-home"),
        HF_HUB_DISABLE_TELEMETRY="1",
        PYTHONUNBUFFERED="1",
    )
    return env


# --- one round --------------------------------------------------------------------------------


def webhook_body() -> bytes:
    """The Hub's webhook for a change of a repo's settings (gating is one)."""
    return json.dumps(
        {
            "event": {"action": "update", "scope": "repo.config"},
            "repo": {
                "type": "model",
                "name": REPO,
                "id": "67c6e41f2d9a8b7c6e5f4a30",
                "private": False,
                "url": {"web": f"https://huggingface.co/{REPO}"},
            },
            "webhook": {"id": "6622a1b2c3d4e5f607182930", "version": 3},
        }
    ).encode()


def send_webhook(port: int) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/hooks/huggingface",
        data=webhook_body(),
        headers={"Content-Type": "application/json", "X-Webhook-Secret": SECRET},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, answer.read().decode()


@dataclass
class Timing:
    total: float  # webhook sent → alert arrived
    answered: float  # webhook sent → its answer (202)
    to_fetch: float | None  # webhook sent → the poll's info call at the Hub
    fetch_to_alert: float | None  # that call → the alert


def one_change(
    hub: TimedHub, sink: AlertSink, port: int, gated: Any, expect: str, timeout: float
) -> Timing | None:
    """Change the gate, send the webhook, wait for the alert; None if it never came."""
    expected = len(sink.arrivals) + 1
    calls = len(hub.info_calls)
    hub.set_gated("model", REPO, gated)
    sent = time.monotonic()
    status, body = send_webhook(port)
    answered = time.monotonic() - sent
    if status != 202 or "polling" not in body:
        raise RuntimeError(f"webhook answered {status}: {body}")
    arrival = sink.wait_for(expected, timeout)
    if arrival is None:
        return None
    if expect not in arrival.title:
        raise RuntimeError(f"expected an alert saying {expect!r}, got {arrival.title!r}")
    fetched = next((at for at in hub.info_calls[calls:] if at >= sent), None)
    return Timing(
        total=arrival.at - sent,
        answered=answered,
        to_fetch=None if fetched is None else fetched - sent,
        fetch_to_alert=None if fetched is None else arrival.at - fetched,
    )


def measure(
    hub: TimedHub, sink: AlertSink, port: int, args: argparse.Namespace, procs: Processes
) -> dict[str, list[Timing]]:
    timings: dict[str, list[Timing]] = {"warmup": [], "gated": [], "ungated": []}
    for round_number in range(args.warmup + args.webhooks):
        warm = round_number < args.warmup
        timeout = 120.0 if warm else args.timeout
        for gated, expect, label in (("manual", "Gated", "gated"), (False, "Ungated", "ungated")):
            timing = one_change(hub, sink, port, gated, expect, timeout)
            if timing is None:
                procs.check_alive()
                raise RuntimeError(
                    f"no {label} alert within {timeout:.0f}s (round {round_number}):\n"
                    f"{procs.logs()}"
                )
            timings["warmup" if warm else label].append(timing)
            time.sleep(args.gap)
    return timings


def burst(hub: TimedHub, sink: AlertSink, port: int, size: int) -> dict[str, Any]:
    """Close the gate and send `size` webhooks at once (one push fires several): still one
    poll (info calls at the Hub) and one alert, checked 3 s after the alert came."""
    from concurrent.futures import ThreadPoolExecutor

    alerts, calls = len(sink.arrivals), len(hub.info_calls)
    hub.set_gated("model", REPO, "manual")
    sent = time.monotonic()
    with ThreadPoolExecutor(size) as pool:
        statuses = [status for status, _ in pool.map(lambda _: send_webhook(port), range(size))]
    arrival = sink.wait_for(alerts + 1, 60)
    time.sleep(3)
    return {
        "size": size,
        "accepted": statuses.count(202),
        "info_calls": len(hub.info_calls) - calls,
        "alerts": len(sink.arrivals) - alerts,
        "latency": None if arrival is None else arrival.at - sent,
    }


# --- the modes --------------------------------------------------------------------------------


def prepare(procs: Processes, sink: AlertSink) -> None:
    procs.command("sources", "add", "hub", AUTHOR, "--types", "model")
    procs.command(
        "subscriptions", "add", sink.url, "--kind", "access.gated", "--kind", "access.ungated"
    )
    procs.command("poll")  # the baseline: nothing is alerted


def embedded(hub: TimedHub, sink: AlertSink, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="webhook-embedded-") as folder:
        home = Path(folder)
        procs = Processes(home, base_env(home, hub))
        try:
            prepare(procs, sink)
            port = free_port()
            procs.start("run", "run", "--port", str(port), "--no-watchlist")
            wait_until(lambda: healthy(port), 60, "`tracker run` to answer /healthz", procs)
            timings = measure(hub, sink, port, args, procs)
            bursts = burst(hub, sink, port, args.burst)
        finally:
            procs.stop()
            if args.keep_logs:
                keep(home, "embedded")
    return {
        "mode": "embedded",
        "processes": "tracker run",
        "burst": bursts,
        **summarise(timings),
    }


def distributed(hub: TimedHub, sink: AlertSink, args: argparse.Namespace) -> dict[str, Any]:
    import redis
    import sqlalchemy as sa

    broker = f"redis://127.0.0.1:6379/{args.redis_db}"
    queue = redis.Redis.from_url(broker)
    queue.flushdb()
    schema = f"bench_webhook_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.postgres)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{args.postgres}?options=-csearch_path%3D{schema}"
    try:
        with tempfile.TemporaryDirectory(prefix="webhook-distributed-") as folder:
            home = Path(folder)
            env = base_env(home, hub)
            env.update(TRACKER_DATABASE_URL=url, TRACKER_BROKER_URL=broker)
            procs = Processes(home, env)
            try:
                prepare(procs, sink)
                port = free_port()
                worker = ["--concurrency", str(args.concurrency), "--pool", "prefork"]
                procs.start("worker", "worker", *worker, "-n", f"bench-{os.getpid()}@%h")
                (home / "beat").mkdir()
                procs.start("beat", "beat", "--schedule", str(home / "beat" / "schedule"))
                procs.start("serve", "serve", "--port", str(port))
                wait_until(lambda: healthy(port), 60, "`tracker serve` to answer", procs)
                wait_until(
                    lambda: "ready." in tail(home / "worker.log", 100_000),
                    60,
                    "the worker to be ready",
                    procs,
                )
                timings = measure(hub, sink, port, args, procs)
                bursts = burst(hub, sink, port, args.burst)
            finally:
                procs.stop()
                if args.keep_logs:
                    keep(home, "distributed")
    finally:
        queue.flushdb()
        queue.close()
        with admin.begin() as connection:
            connection.execute(sa.text("SET lock_timeout = '30s'"))
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    processes = f"tracker serve + worker (prefork, {args.concurrency}) + beat"
    return {"mode": "distributed", "processes": processes, "burst": bursts, **summarise(timings)}


def keep(home: Path, mode: str) -> None:
    target = Path(tempfile.gettempdir()) / f"webhook-latency-logs-{mode}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for log in home.glob("*.log"):
        shutil.copy(log, target / log.name)
    print(f"  logs of {mode} kept in {target}")


# --- figures ----------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 100 values is the 95th smallest)."""
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def summarise(timings: dict[str, list[Timing]]) -> dict[str, Any]:
    def figures(items: list[Timing]) -> dict[str, float]:
        totals = [t.total for t in items]
        return {
            "p50": percentile(totals, 0.50),
            "p95": percentile(totals, 0.95),
            "max": max(totals),
            "n": len(totals),
        }

    gated = timings["gated"]
    to_fetch = [t.to_fetch for t in gated if t.to_fetch is not None]
    after = [t.fetch_to_alert for t in gated if t.fetch_to_alert is not None]
    return {
        "gated": figures(gated),
        "ungated": figures(timings["ungated"]),
        "warmup": [round(t.total, 3) for t in timings["warmup"]],
        "answered_p50": statistics.median(t.answered for t in gated),
        "to_fetch_p50": statistics.median(to_fetch) if to_fetch else float("nan"),
        "fetch_to_alert_p50": statistics.median(after) if after else float("nan"),
        "fetch_to_alert_p95": percentile(after, 0.95) if after else float("nan"),
    }


def report(result: dict[str, Any]) -> None:
    g, u = result["gated"], result["ungated"]
    verdict = "PASS" if g["p95"] <= TARGET_P95 else "MISS"
    print(
        f"{result['mode']:<12} {g['n']:>4} {g['p50']:>7.3f} {g['p95']:>7.3f} {g['max']:>7.3f}"
        f"   {u['p50']:>7.3f} {u['p95']:>7.3f}   {verdict} (p95 ≤ {TARGET_P95:.0f} s)"
    )
    print(
        f"{'':<12} where the time goes (p50): answer {result['answered_p50'] * 1000:.0f} ms, "
        f"webhook → info call at the Hub {result['to_fetch_p50'] * 1000:.0f} ms, "
        f"info call → alert {result['fetch_to_alert_p50'] * 1000:.0f} ms "
        f"(p95 {result['fetch_to_alert_p95'] * 1000:.0f} ms); "
        f"warm-up, not counted (close, open per round) {result['warmup']} s; "
        f"{result['processes']}"
    )
    b = result["burst"]
    latency = "none" if b["latency"] is None else f"{b['latency']:.3f} s"
    print(
        f"{'':<12} burst of {b['size']} webhooks at once after closing the gate: "
        f"{b['accepted']} answered 202, {b['info_calls']} info call(s) at the Hub, "
        f"{b['alerts']} alert(s), first alert after {latency}"
    )


def settings_line(args: argparse.Namespace) -> str:
    from tracker.config import Settings

    defaults = Settings(_env_file=None)
    return (
        "settings (the defaults): "
        f"poll_request_delay_seconds={defaults.poll_request_delay_seconds}, "
        f"dispatch_every_seconds={defaults.dispatch_every_seconds}, "
        f"sweep_every_seconds={defaults.sweep_every_seconds}, "
        f"lease_seconds={defaults.lease_seconds}; worker --concurrency {args.concurrency} "
        f"--pool prefork; Redis db {args.redis_db}; gap {args.gap} s between webhooks"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--webhooks", type=int, default=100, help="gate closings measured")
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between webhooks")
    parser.add_argument("--modes", default="embedded,distributed")
    parser.add_argument("--redis-db", type=int, default=12)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes")
    parser.add_argument("--warmup", type=int, default=2, help="rounds shown, not counted")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait per alert")
    parser.add_argument("--burst", type=int, default=20, help="webhooks of the burst check")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = set(modes) - {"embedded", "distributed"}
    if unknown or args.webhooks < 1:
        print(f"webhook_latency: unknown mode(s) {sorted(unknown)} or no webhooks", file=sys.stderr)
        raise SystemExit(2)

    print(describe_setup())
    print(settings_line(args))
    print(
        f"{args.webhooks} gate closings (each followed by the opening, measured as well), one "
        f"webhook at a time; webhook sent → alert arrived at the json:// sink, seconds"
    )
    results = []
    with TimedHub() as hub:
        for fixture in FIXTURES:
            hub.seed_fixture(fixture, gated=False)
        sink = AlertSink()
        try:
            print(
                f"{'mode':<12} {'n':>4} {'p50':>7} {'p95':>7} {'max':>7}   "
                f"{'open p50':>7} {'p95':>7}   (closing the gate; opening it)"
            )
            for mode in modes:
                hub.set_gated("model", REPO, False)
                result = (embedded if mode == "embedded" else distributed)(hub, sink, args)
                report(result)
                results.append(result)
        finally:
            sink.close()
    print(f"load after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
