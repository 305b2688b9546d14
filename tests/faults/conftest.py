"""Fixtures of the fault tests (run with TRACKER_TEST_FAULTS=1): the real Redis and
PostgreSQL (skipped when unreachable, failed instead with TRACKER_TEST_REQUIRE_SERVICES=1),
a schema and a Redis db per test, and tracker processes that are always killed at the end."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tracker.catalog import SourceSpec
from tracker.catalog import add as add_source
from tracker.config import Settings
from tracker.db import Database

from ..feeds import rss

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 9
BROKER_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_START = [
    "redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
    "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
    "--logfile", "/var/log/redis/ci.log",
]  # fmt: skip
TRACKER = str(Path(sys.executable).with_name("tracker"))
EVENT_LINK = re.compile(r"/events/(\d+)\b")


# --- the servers ---------------------------------------------------------------------------


def redis_problem() -> str | None:
    """None if Redis answers PING on 127.0.0.1:6379, else what is wrong."""
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2) as conn:
            conn.sendall(b"PING\r\n")
            answer = conn.recv(64)
    except OSError as exc:
        return f"Redis is unreachable on {REDIS_HOST}:{REDIS_PORT}: {exc}"
    if not answer.startswith(b"+PONG"):
        return f"Redis on {REDIS_HOST}:{REDIS_PORT} answered {answer!r} to PING"
    return None


def postgres_problem() -> str | None:
    """None if PostgreSQL accepts a connection to the `test` database, else what is wrong."""
    engine = sa.create_engine(PG_BASE, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        return f"PostgreSQL is unreachable at {PG_BASE}: {str(exc.orig).strip()}"
    finally:
        engine.dispose()
    return None


def redis_cli(*args: str) -> str:
    done = subprocess.run(
        ["redis-cli", "-h", REDIS_HOST, "-p", str(REDIS_PORT), *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    return (done.stdout + done.stderr).strip()


def flush_test_db() -> None:
    redis_cli("-n", str(REDIS_DB), "FLUSHDB")


def start_redis(timeout: float = 20) -> None:
    """Start Redis (the CI command line) if it does not answer, and wait until it does."""
    if redis_problem() is None:
        return
    subprocess.run(REDIS_START, check=True, timeout=20, capture_output=True)
    wait_for(lambda: redis_problem() is None, timeout, "Redis to answer PING")


def stop_redis() -> None:
    """SHUTDOWN NOSAVE: Redis dies with everything it held, every client's connection drops."""
    redis_cli("SHUTDOWN", "NOSAVE")
    wait_for(lambda: redis_problem() is not None, 10, "Redis to stop")


def restart_redis_empty() -> None:
    """FLUSHALL, SHUTDOWN NOSAVE, start again: every queued and unacknowledged message is
    gone, and every client's connection drops."""
    redis_cli("FLUSHALL")
    stop_redis()
    start_redis()


def pg_cluster() -> list[str]:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]


def pg_ctl(action: str) -> None:
    subprocess.run([*pg_cluster(), action], check=True, timeout=60, capture_output=True)


def ensure_postgres_running(timeout: float = 30) -> None:
    if postgres_problem() is None:
        return
    subprocess.run([*pg_cluster(), "start"], check=False, timeout=60, capture_output=True)
    wait_for(lambda: postgres_problem() is None, timeout, "PostgreSQL to accept connections")


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- waiting --------------------------------------------------------------------------------


@contextlib.contextmanager
def _sigint_as_from_a_terminal() -> Iterator[None]:
    """Commands started inside get SIGINT's default action, as from a terminal. A suite
    started in the background by a script begins with SIGINT ignored, and children inherit
    that: Ctrl-C (SIGINT to the group) would then do nothing to them."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.25):
    """The first truthy value of `predicate()`; AssertionError after `timeout` seconds.
    Database errors (a server restarting) count as "not yet"."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except sa.exc.DBAPIError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# --- a database handle for the test process --------------------------------------------------


class Store:
    """Plain SQL on the test's schema: what the workers recorded."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url, pool_pre_ping=True, pool_size=2)

    def rows(self, sql: str, **params: Any) -> list[sa.Row]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params))

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as connection:
            return connection.execute(sa.text(sql), params).scalar()

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text(sql), params)

    def baselined(self) -> int:
        return self.scalar("SELECT count(*) FROM source WHERE baselined_at IS NOT NULL")

    def posts(self) -> dict[tuple[int, str], int]:
        """post.published events per (source, subject)."""
        rows = self.rows(
            "SELECT source_id, subject, count(*) FROM event "
            "WHERE kind = 'post.published' GROUP BY source_id, subject"
        )
        return {(r[0], r[1]): r[2] for r in rows}

    def dispose(self) -> None:
        self.engine.dispose()


# --- a feed server ----------------------------------------------------------------------------


class _QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
        pass  # a client killed mid-request is what these tests do on purpose


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: Any = None

    def log_message(self, format, *args):  # type: ignore[no-untyped-def]
        pass

    def do_GET(self) -> None:
        self.owner.get(self)

    def do_POST(self) -> None:
        self.owner.post(self)


def _serve(owner: Any) -> tuple[_QuietServer, threading.Thread]:
    handler = type("Handler", (_Handler,), {"owner": owner})
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    return server, thread


def _answer(request: http.server.BaseHTTPRequestHandler, status: int, body: bytes, ctype: str):
    try:
        request.send_response(status)
        request.send_header("Content-Type", ctype)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
    except OSError:
        pass  # the client was killed while we waited


def _drip(request: http.server.BaseHTTPRequestHandler, body: bytes, every: float) -> None:
    """Headers at once, then the body a byte at a time, until it is sent or the client goes."""
    try:
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.flush()
        for index in range(len(body)):
            request.wfile.write(body[index : index + 1])
            request.wfile.flush()
            time.sleep(every)
    except OSError:
        pass  # the client gave up (or was interrupted) mid-body


@dataclass(frozen=True)
class FeedRequest:
    feed: int
    at: float  # time.monotonic() when the request arrived


class FeedServer:
    """Serves `feeds` RSS feeds at /feeds/<n>, each answer after `delay` seconds; logs every
    request. Entries are unique across feeds, so an event's subject names its entry.

    `delays` gives some feeds a delay of their own; a feed in `drip` sends its headers at
    once, then its body one byte every `drip_every` seconds (a server that stalls mid-body).
    """

    def __init__(
        self,
        feeds: int,
        *,
        delay: float = 0.0,
        initial: int = 2,
        delays: dict[int, float] | None = None,
        drip: Iterable[int] = (),
        drip_every: float = 0.5,
    ) -> None:
        self.delay = delay
        self.delays = dict(delays or {})
        self.drip = set(drip)
        self.drip_every = drip_every
        self.lock = threading.Lock()
        self.entries: dict[int, list[tuple[str, str]]] = {
            n: [(f"f{n}-e{k}", f"Feed {n} entry {k}") for k in range(initial)] for n in range(feeds)
        }
        self.added: dict[int, list[str]] = {n: [] for n in range(feeds)}  # subjects
        self.requests: list[FeedRequest] = []
        self.in_flight: dict[int, int] = {}  # client port -> feed, while the answer waits
        self.server, self.thread = _serve(self)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, feed: int) -> str:
        return f"http://127.0.0.1:{self.port}/feeds/{feed}"

    def add_entry(self, feed: int) -> str:
        """A new entry at the top of the feed; returns its subject (the entry's link)."""
        with self.lock:
            number = len(self.entries[feed])
            guid = f"f{feed}-new{number}"
            self.entries[feed].insert(0, (guid, f"Feed {feed} post {number}"))
            subject = f"https://lab.example/posts/{guid}"
            self.added[feed].append(subject)
            return subject

    def expected_posts(self) -> set[tuple[int, str]]:
        """(feed number, subject) of every entry added after the start."""
        with self.lock:
            return {
                (feed, subject) for feed, subjects in self.added.items() for subject in subjects
            }

    def get(self, request: http.server.BaseHTTPRequestHandler) -> None:
        match = re.fullmatch(r"/feeds/(\d+)", request.path)
        feed = int(match.group(1)) if match else -1
        port = request.client_address[1]
        with self.lock:
            known = feed in self.entries
            if known:
                self.requests.append(FeedRequest(feed, time.monotonic()))
                self.in_flight[port] = feed
        if not known:
            _answer(request, 404, b"not found", "text/plain")
            return
        try:
            delay = self.delays.get(feed, self.delay)
            if delay:
                time.sleep(delay)
            with self.lock:
                body = rss(*self.entries[feed], title=f"Feed {feed}").encode()
            if feed in self.drip:
                _drip(request, body, self.drip_every)
            else:
                _answer(request, 200, body, "application/rss+xml; charset=utf-8")
        finally:
            with self.lock:
                self.in_flight.pop(port, None)

    def poller_ports(self) -> list[int]:
        """Client ports of the requests being answered now (polls in flight)."""
        with self.lock:
            return list(self.in_flight)

    def feeds_in_flight(self) -> set[int]:
        """The feeds whose answer is being waited for now."""
        with self.lock:
            return set(self.in_flight.values())

    def requests_per_feed(self) -> dict[int, list[float]]:
        with self.lock:
            log = list(self.requests)
        per: dict[int, list[float]] = {n: [] for n in self.entries}
        for hit in log:
            per[hit.feed].append(hit.at)
        return per

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# --- an alert sink ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Alert:
    path: str
    title: str
    event_ids: tuple[int, ...]
    at: float
    wall: float = 0.0  # time.time() of the arrival, to compare with stored timestamps


class Sink:
    """Records every JSON alert POSTed to it (on arrival), then answers after `delay`.

    A path in `hang` accepts the request and never answers: the connection stays open
    until the client gives up and closes it. `peak` holds, per path, the most requests
    that were in flight at once; `held` the seconds each hung request was held open.
    """

    def __init__(self, *, delay: float = 0.0, hang: Iterable[str] = ()) -> None:
        self.delay = delay
        self.hang = set(hang)
        self.lock = threading.Lock()
        self.alerts: list[Alert] = []
        self.in_flight: dict[int, str] = {}  # client port -> path, while the answer waits
        self.concurrent: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.held: list[float] = []
        self._closing = threading.Event()
        self.server, self.thread = _serve(self)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "alerts") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def post(self, request: http.server.BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        try:
            payload = json.loads(request.rfile.read(length) or b"{}")
        except (OSError, ValueError):
            payload = {}
        message = str(payload.get("message", ""))
        alert = Alert(
            request.path.lstrip("/"),
            str(payload.get("title", "")),
            tuple(int(i) for i in EVENT_LINK.findall(message)),
            time.monotonic(),
            time.time(),
        )
        port = request.client_address[1]
        with self.lock:
            self.alerts.append(alert)
            self.in_flight[port] = alert.path
            self.concurrent[alert.path] = self.concurrent.get(alert.path, 0) + 1
            self.peak[alert.path] = max(self.peak.get(alert.path, 0), self.concurrent[alert.path])
        try:
            if alert.path in self.hang:
                started = time.monotonic()
                self._hold(request)
                with self.lock:
                    self.held.append(time.monotonic() - started)
                return
            if self.delay:
                time.sleep(self.delay)
            _answer(request, 200, b'{"ok": true}', "application/json")
        finally:
            with self.lock:
                self.in_flight.pop(port, None)
                self.concurrent[alert.path] -= 1

    def _hold(self, request: http.server.BaseHTTPRequestHandler) -> None:
        """Say nothing until the client closes the connection (or the sink closes)."""
        connection = request.connection
        while not self._closing.is_set():
            readable, _, _ = select.select([connection], [], [], 0.05)
            if not readable:
                continue
            try:
                if not connection.recv(1, socket.MSG_PEEK):
                    return  # the client closed its end
            except OSError:
                return
            time.sleep(0.05)  # a pipelined byte: not ours to read; keep waiting

    def received(self) -> dict[tuple[str, int], int]:
        """How many times each (path, event id) arrived."""
        counts: dict[tuple[str, int], int] = {}
        with self.lock:
            for alert in self.alerts:
                for event_id in alert.event_ids:
                    counts[alert.path, event_id] = counts.get((alert.path, event_id), 0) + 1
        return counts

    def sender_ports(self) -> list[int]:
        with self.lock:
            return list(self.in_flight)

    def arrivals(self, path: str) -> list[Alert]:
        with self.lock:
            return [alert for alert in self.alerts if alert.path == path]

    def close(self) -> None:
        self._closing.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# --- processes ----------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """The direct children of a process (from /proc)."""
    found: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as file:
                found.extend(int(p) for p in file.read().split())
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def socket_owner(local_port: int, candidates: Iterable[int]) -> int | None:
    """Which of `candidates` holds the loopback TCP socket bound to `local_port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as file:
                next(file)
                for line in file:
                    parts = line.split()
                    if int(parts[1].rsplit(":", 1)[1], 16) == local_port:
                        inodes.add(f"socket:[{parts[9]}]")
        except FileNotFoundError:
            continue
    if not inodes:
        return None
    for pid in candidates:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


@dataclass
class Proc:
    """One `tracker worker` or `tracker beat`, in a process group of its own."""

    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def pool(self) -> list[int]:
        """The worker's pool processes (its children)."""
        return children(self.pid)

    def signal(self, signum: int) -> None:
        """Send a signal to the main process only (what systemd's KillMode=mixed and Docker
        do first)."""
        os.kill(self.pid, signum)

    def wait_exit(self, timeout: float) -> int | None:
        """The exit status once the process has ended, None if still running after `timeout`."""
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill_group(self) -> None:
        """SIGKILL the main process and every process of its group (the pool)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(10)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Cluster:
    """Starts tracker processes with the test's settings and kills them all at the end."""

    directory: Path
    env: dict[str, str]
    procs: list[Proc] = field(default_factory=list)

    def _start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Proc:
        log = self.directory / f"{name}.log"
        with open(log, "ab") as out, _sigint_as_from_a_terminal():
            popen = subprocess.Popen(
                [TRACKER, *args],
                env=env or self.env,
                cwd=self.directory,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def worker(
        self, name: str, *, concurrency: int = 2, wait: bool = True, queues: str | None = None
    ) -> Proc:
        args = ["worker", "--concurrency", str(concurrency), "--pool", "prefork"]
        args += ["-n", f"{name}@%h", *(["-Q", queues] if queues else [])]
        proc = self._start(name, args)
        if wait:
            self.wait_ready(proc)
        return proc

    def command(self, name: str, *args: str, env: dict[str, str] | None = None) -> Proc:
        """Any `tracker` command line, started now (`tracker run`, `tracker poll`)."""
        return self._start(name, list(args), env=env)

    def beat(self, name: str = "beat") -> Proc:
        home = self.directory / name
        home.mkdir(exist_ok=True)
        return self._start(name, ["beat", "--schedule", str(home / "celerybeat-schedule")])

    def wait_ready(self, proc: Proc, timeout: float = 60) -> None:
        """Until the worker answers a control ping (it consumes from the broker)."""
        from celery import Celery

        app = Celery("faults-control", broker=BROKER_URL, set_as_current=False)

        def ready() -> bool:
            if not proc.alive():
                raise AssertionError(f"{proc.name} exited:\n{proc.log_text()[-3000:]}")
            try:
                replies = app.control.ping(timeout=0.5)
            except Exception:  # a connection of this process that a Redis restart broke
                return False
            return any(name.startswith(f"{proc.name}@") for reply in replies for name in reply)

        try:
            wait_for(ready, timeout, f"{proc.name} to be ready", interval=0.2)
        finally:
            app.close()

    def worker_pids(self) -> dict[int, Proc]:
        """Every live worker process (main and pool) and the worker it belongs to."""
        found = {}
        for proc in self.procs:
            if proc.alive():
                found[proc.pid] = proc
                for child in proc.pool():
                    found[child] = proc
        return found

    def owners(self, ports: Iterable[int]) -> dict[int, tuple[int, Proc]]:
        """For each loopback client port: the worker process holding it, and its worker."""
        pids = self.worker_pids()
        found = {}
        for port in ports:
            pid = socket_owner(port, pids)
            if pid is not None:
                found[port] = (pid, pids[pid])
        return found

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill_group()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log_text()[-4000:]}" for p in self.procs)


def tracker_env(home: Path, database_url: str, **overrides: object) -> dict[str, str]:
    """The environment of a tracker process: the test's database and Redis db, short leases,
    fast dispatch and sweep; no TRACKER_*/HF_* variables of the caller leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "HF_"))}
    values: dict[str, object] = {
        "TRACKER_HOME": home,
        "TRACKER_DATABASE_URL": database_url,
        "TRACKER_BROKER_URL": BROKER_URL,
        "TRACKER_ALLOW_PRIVATE_NETWORKS": "true",
        "TRACKER_LEASE_SECONDS": 8,
        "TRACKER_DISPATCH_EVERY_SECONDS": 1,
        "TRACKER_SWEEP_EVERY_SECONDS": 2,
        "TRACKER_DELIVERY_RETRY_SECONDS": 1,
        "TRACKER_TASK_SOFT_TIME_LIMIT": 20,
        "TRACKER_TASK_TIME_LIMIT": 30,
        "TRACKER_HTTP_TIMEOUT_SECONDS": 10,
        # One message per event, so every alert names its event (no grouped storms).
        "TRACKER_STORM_THRESHOLD": 1000,
        "PYTHONUNBUFFERED": "1",
        **overrides,
    }
    env.update({name: str(value) for name, value in values.items()})
    return env


# --- what the tests share ---------------------------------------------------------------


def report(test: str, **figures: object) -> None:
    print(f"\n[{test}] " + ", ".join(f"{name}={value}" for name, value in figures.items()))


def post_counts(store: Store, feed_of: dict[int, int]) -> Counter[tuple[int, str]]:
    """post.published events per (feed, subject)."""
    return Counter({(feed_of[s], subject): n for (s, subject), n in store.posts().items()})


def kill_busy(
    cluster: Cluster, ports_in_flight, *, whole_worker: bool, timeout: float = 20
) -> tuple[Proc, int]:
    """SIGKILL a worker process that is in the middle of a request to one of our servers:
    only that pool process, or its whole worker (main process and pool). Returns the
    worker and how many of our requests were in flight from what was killed."""

    def busy():
        return cluster.owners(ports_in_flight())

    owners = wait_for(busy, timeout, "a worker in the middle of a request", interval=0.05)
    pid, proc = next(iter(owners.values()))
    if whole_worker:
        killed = {p for p, owner in cluster.worker_pids().items() if owner is proc}
        proc.kill_group()
    else:
        killed = {pid}
        kill(pid)
    return proc, sum(1 for p, _ in owners.values() if p in killed)


def alerts_expected(store: Store, paths: dict[int, str]) -> set[tuple[str, int]]:
    """(sink path, event id) for every delivery row: what must arrive."""
    rows = store.rows("SELECT subscription_id, event_id FROM delivery")
    return {(paths[sub], event) for sub, event in rows}


def subscribe(db: Database, sink: Sink, path: str) -> int:
    """A subscription to posts and source lifecycle events (baselines included, which a
    catch-all subscription does not get) at json://…/path of the sink, stored as `tracker
    subscriptions add` does, without starting a process for it; its id."""
    from tracker.alerts.subscriptions import SubscriptionSpec
    from tracker.alerts.subscriptions import add as add_subscription

    # apprise's e-mail plugin imports `imghdr`, which Python 3.11 deprecates; the suite
    # turns warnings into errors.
    with warnings.catch_warnings(), db.session() as session:
        warnings.filterwarnings("ignore", "'imghdr' is deprecated", DeprecationWarning)
        spec = SubscriptionSpec(sink.url(path), kinds=["post.*", "source.*"])
        subscription = add_subscription(session, spec, db.settings)
        return int(subscription.id or 0)


# --- fixtures ---------------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "faults: kills workers and restarts the real Redis and PostgreSQL of this machine",
    )


@pytest.fixture(scope="session")
def _services() -> None:
    # These tests kill processes, restart the machine's PostgreSQL and empty all of Redis:
    # they run only when asked to (CI asks).
    if os.environ.get("TRACKER_TEST_FAULTS") != "1":
        pytest.skip("fault tests restart PostgreSQL and empty Redis: set TRACKER_TEST_FAULTS=1")
    problems = [p for p in (redis_problem(), postgres_problem()) if p]
    if not problems:
        return
    message = "fault tests need the real Redis and PostgreSQL: " + "; ".join(problems)
    if os.environ.get("TRACKER_TEST_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (TRACKER_TEST_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(message + " (set TRACKER_TEST_REQUIRE_SERVICES=1 to fail instead)")


@pytest.fixture
def pg_url(_services: None) -> Iterator[str]:
    """A fresh, migrated schema of the `test` database; dropped at the end (PostgreSQL is
    started again first if a test left it stopped)."""
    schema = f"faults_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_BASE, pool_pre_ping=True)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        ensure_postgres_running()
        admin.dispose()
        with admin.begin() as connection:
            connection.execute(sa.text("SET lock_timeout = '30s'"))
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def redis_db(_services: None) -> Iterator[str]:
    """The tests' own Redis db, empty at the start and at the end."""
    flush_test_db()
    yield BROKER_URL
    start_redis()  # a test that restarted Redis leaves it running
    flush_test_db()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def db(pg_url: str, home: Path) -> Iterator[Database]:
    """The product's database object on the test's schema (migrates it)."""
    settings = Settings(_env_file=None, home=home, database_url=pg_url, allow_private_networks=True)
    database = Database(settings)
    yield database
    database.dispose()


@pytest.fixture
def store(db: Database, pg_url: str) -> Iterator[Store]:
    handle = Store(pg_url)
    yield handle
    handle.dispose()


@pytest.fixture
def cluster(tmp_path: Path, db: Database, redis_db: str, pg_url: str, home: Path):
    """Start tracker processes with `cluster.worker(...)` and `cluster.beat(...)`; every
    process group is SIGKILLed at the end. `cluster.env` may be changed before starting."""
    running = Cluster(tmp_path, tracker_env(home, pg_url))
    try:
        yield running
    finally:
        running.stop()


def add_feeds(db: Database, server: FeedServer, *, every: int) -> dict[int, int]:
    """One feed source per served feed, polled every `every` seconds; {feed: source id}.

    The catalog refuses intervals under 30 s to users; the tests store shorter ones
    directly so that minutes of operation fit into seconds.
    """
    ids = {}
    with db.session() as session:
        for feed in server.entries:
            source = add_source(session, SourceSpec("feed", server.url(feed), every_seconds=every))
            ids[feed] = source.id
    return ids


@pytest.fixture
def make_feeds() -> Iterator[Callable[..., FeedServer]]:
    """`make_feeds(n, delay=...)`: a feed server, closed at the end."""
    opened: list[FeedServer] = []

    def make(feeds: int, *, delay: float = 0.0, initial: int = 2, **options: Any) -> FeedServer:
        server = FeedServer(feeds, delay=delay, initial=initial, **options)
        opened.append(server)
        return server

    yield make
    for server in opened:
        server.close()


@pytest.fixture
def make_sink() -> Iterator[Callable[..., Sink]]:
    """`make_sink(delay=...)`: an alert sink, closed at the end."""
    opened: list[Sink] = []

    def make(*, delay: float = 0.0, hang: Iterable[str] = ()) -> Sink:
        sink = Sink(delay=delay, hang=hang)
        opened.append(sink)
        return sink

    yield make
    for sink in opened:
        sink.close()
