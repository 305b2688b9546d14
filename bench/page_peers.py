"""Page watching side by side: the tracker, urlwatch and changedetection.io on 200 pages.

    python bench/page_peers.py [--pages 200] [--change 0.1] [--interval 60]
                               [--latency-ms 50] [--max-seconds 240]
                               [--urlwatch PATH/TO/bin/urlwatch]
                               [--changedetection PATH/TO/bin/changedetection.py]

A loopback page server (its own process, real HTTP/1.1, the same asyncio core as
bench/feedserver.py) serves /page/<i>.html: an HTML article of 6-14 paragraphs with a
navigation bar and a footer, an ETag and a Last-Modified, honouring If-None-Match and
If-Modified-Since with 304, `--latency-ms` per response. Each contender in turn gets the
same pages at version 0 and the same interval, and is measured the same way:

1. it starts on a fresh data folder and checks every page once (the baseline);
2. one second after its baseline is complete, `--change` of the pages (every k-th one)
   gain a paragraph of text at the top of the article, with a new ETag and Last-Modified.
   That moment is T0;
3. the bench reads the contender's own record every 0.25 s, from the outside (so that
   reading costs the contender nothing), until every changed page is recorded as changed
   or `--max-seconds` after T0.

What each contender is and how its record is read:

- tracker: `tracker run --no-watchlist` (its own scheduler, 16 workers, the default) with
  one `page` source per page (main-text mode, `every` = `--interval`), added by
  `tracker sources import`; SQLite. TRACKER_PER_HOST_LIMIT=16 since every page is on one
  host (the default of 4 a host would otherwise cap it). Recorded = a `page.changed` event
  in the event table.
- urlwatch 2.29 (`--urlwatch`, in a venv of its own): it has no scheduler, so the bench
  runs it like cron, a whole `urlwatch` run every `--interval` seconds from its start, one
  `url:` job per page with `filter: html2text` (its text conversion, method `re`), every
  reporter off. It sends conditional requests. Recorded = a second distinct `data` for the
  job's guid in its cache (cache.db, minidb/SQLite). Its CPU and memory are those of its
  runs (each run's process tree, summed CPU, highest peak).
- changedetection.io (`--changedetection`, its `changedetection.py` in a venv of its own):
  `changedetection.py -C -d DIR -h 127.0.0.1 -p PORT` with every page added on the
  command line (`-u URL -uN '{"time_between_check": {"seconds": I},
  "time_between_check_use_default": false}'`), its own scheduler (a ticker that queues due
  watches every second), its default fetcher (`html_requests`, the requests library), its
  default 5 fetch workers, processor `text_json_diff` (text of the page, inscriptis).
  ALLOW_IANA_RESTRICTED_ADDRESSES=true (loopback is refused otherwise) and
  LOGGER_LEVEL=WARNING (its default is DEBUG on stdout). It sends no conditional requests.
  Recorded = a second line in the watch's history.txt (a new snapshot); checked at the end
  against its API (`GET /api/v1/watch`, `last_changed` set, with the API key from its
  changedetection.json).

Measured per contender: start to baseline, T0 to every change recorded, and for each changed
page the lag from the first request the server saw for it after T0 to the moment it was
seen recorded (processing and recording, without the wait for the interval); CPU (user+sys)
and the peak summed RSS of the whole process tree, sampled from /proc every 50 ms, from the
start until every change was recorded, and the CPU of the window from T0; requests the
page server saw (200s and 304s). Minimum intervals: the tracker refuses `every` below 30 s,
changedetection.io below MINIMUM_SECONDS_RECHECK_TIME (3 s by default), urlwatch has none.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from benchutil import PAGE_KIB, describe_setup  # noqa: E402
from feed_cycle import URLWATCH_CONFIG  # noqa: E402
from feedserver import _WORDS, BASE_TIME, _not_modified, _Server  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
MIN_TRACKER_INTERVAL = 30

# --- the pages -------------------------------------------------------------------------


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text.capitalize() + "."


def page_html(i: int, version: int = 0) -> bytes:
    """Page `i` after `version` changes: each change adds a paragraph at the top."""
    rng = random.Random(i * 104_729 + 3)
    paragraphs = [
        " ".join(_sentence(rng, rng.randrange(8, 20)) for _ in range(rng.randrange(2, 6)))
        for _ in range(rng.randrange(6, 15))
    ]
    for v in range(1, version + 1):
        update = random.Random(i * 31 + v)
        paragraphs.insert(0, f"Update {v}: " + _sentence(update, 16))
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Lab notes {i}</title></head>\n<body>\n"
        '<nav><a href="/">Home</a> <a href="/research">Research</a> '
        '<a href="/blog">Blog</a> <a href="/about">About</a></nav>\n'
        f"<main><article><h1>Lab notes {i}: {rng.choice(_WORDS)} {rng.choice(_WORDS)}</h1>\n"
        f"{body}</article></main>\n"
        "<footer><p>Example research lab. All rights reserved.</p></footer>\n"
        "</body></html>\n"
    ).encode()


def _modified(version: int) -> int:
    return BASE_TIME + version * 3600


class _PageServer(_Server):
    """The feed server's HTTP core serving pages; remembers, for each page changed, when it
    was first asked for after its change."""

    def __init__(self, pages: int, latency: float) -> None:
        super().__init__(pages, latency)
        self.changed_at: dict[int, float] = {}
        self.first_after: dict[int, float] = {}

    def body(self, i: int) -> bytes:
        body = self._cache.get(i)
        if body is None:
            body = self._cache[i] = page_html(i, self.versions[i])
        return body

    def change(self, ids: list[int]) -> None:
        super().change(ids)
        now = time.time()
        for i in ids:
            self.changed_at[i] = now
            self.first_after.pop(i, None)

    async def respond(self, method: str, target: str, headers: dict[str, str]):
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/control/"):
            return self.control(path, parse_qs(parts.query))
        if method not in ("GET", "HEAD"):
            return 405, {}, b""
        number = path[len("/page/") : -len(".html")] if path.startswith("/page/") else ""
        if not (path.endswith(".html") and number.isdigit() and int(number) < self.feeds):
            self.requests += 1
            self.other += 1
            return 404, {"Content-Type": "text/plain"}, b"not found\n"
        page = int(number)
        if page in self.changed_at and page not in self.first_after:
            self.first_after[page] = time.time()
        if self.latency:
            await asyncio.sleep(self.latency)
        version = self.versions[page]
        etag = f'"p{page}-v{version}"'
        validators = {"ETag": etag, "Last-Modified": formatdate(_modified(version), usegmt=True)}
        self.requests += 1
        if _not_modified(headers, etag, _modified(version)):
            self.not_modified += 1
            return 304, validators, b""
        body = self.body(page)
        self.ok += 1
        self.body_bytes += len(body)
        return 200, {"Content-Type": "text/html; charset=utf-8", **validators}, body

    def control(self, path: str, query: dict[str, list[str]]):
        if path == "/control/restart":  # every page back to version 0, log emptied
            self.versions = [0] * self.feeds
            self._cache.clear()
            self.changed_at.clear()
            self.first_after.clear()
            self.reset()
            answer: dict = {"restarted": True}
        elif path == "/control/seen":
            answer = {"first_after": self.first_after, "changed_at": self.changed_at}
        else:
            return super().control(path, query)
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


async def _serve(pages: int, latency: float) -> None:
    state = _PageServer(pages, latency)
    for i in range(pages):
        state.body(i)
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0, backlog=1024)
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


class PageServer:
    """The page server in a child process (its CPU is never the contenders')."""

    def __init__(self, pages: int, latency_ms: float) -> None:
        self.pages = pages
        command = [sys.executable, str(Path(__file__).resolve()), "--serve"]
        command += ["--pages", str(pages), "--latency-ms", str(latency_ms)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("READY "):
            self.process.kill()
            raise RuntimeError(f"page server did not start: {line!r}")
        self.base = f"http://127.0.0.1:{int(line.split()[1])}"

    def urls(self) -> list[str]:
        return [f"{self.base}/page/{i}.html" for i in range(self.pages)]

    def control(self, what: str) -> dict:
        with urllib.request.urlopen(f"{self.base}/control/{what}", timeout=60) as response:
            return json.loads(response.read())

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# --- measuring a process tree --------------------------------------------------------


def tree_usage(pid: int) -> tuple[int, float]:
    """(resident KiB, CPU seconds) of a process and all its descendants now; CPU counts
    user+sys of each process and of its children that have ended and been waited for."""
    rss, ticks, pending = 0, 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/statm") as statm:
                rss += int(statm.read().split()[1]) * PAGE_KIB
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
            continue
    return rss, ticks / CLK_TCK


class Sampler(threading.Thread):
    """Samples a process tree every 50 ms: peak summed RSS and the latest CPU seconds."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kib, self.cpu = pid, 0, 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            rss, cpu = tree_usage(self.pid)
            self.peak_kib = max(self.peak_kib, rss)
            self.cpu = max(self.cpu, cpu)
            self.done.wait(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop(process: subprocess.Popen, sig: int = signal.SIGINT) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- the contenders ---------------------------------------------------------------------


class Contender:
    """Started on a fresh folder; tells which pages it has checked and which it has
    recorded as changed; reports CPU and peak memory so far."""

    name = ""
    settings = ""

    def start(self) -> None: ...

    def baselined(self) -> int:
        """Pages checked at least once."""
        raise NotImplementedError

    def recorded(self) -> set[int]:
        """Pages recorded as changed."""
        raise NotImplementedError

    def usage(self) -> tuple[int, float]:
        """(peak tree KiB, CPU seconds) so far."""
        raise NotImplementedError

    def confirm(self) -> str:
        return ""

    def stop(self) -> None: ...


class Daemon(Contender):
    """A contender that is one long-lived process tree."""

    process: subprocess.Popen
    sampler: Sampler

    def launch(self, command: list[str], env: dict[str, str], cwd: Path) -> None:
        self.log = open(cwd / "run.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(command, env=env, cwd=cwd, stdout=self.log, stderr=self.log)
        self.sampler = Sampler(self.process.pid)
        self.sampler.start()

    def usage(self) -> tuple[int, float]:
        if self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited {self.process.returncode}: {self.tail()}")
        return self.sampler.peak_kib, self.sampler.cpu

    def tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-800:]

    def stop(self) -> None:
        stop(self.process)
        self.sampler.done.set()
        self.log.close()


class Tracker(Daemon):
    name = "tracker"

    def __init__(self, tracker: str, urls: list[str], interval: int, work: Path, env: dict):
        self.tracker, self.urls, self.home = tracker, urls, work / "tracker"
        self.home.mkdir()
        self.env = env | {
            "TRACKER_HOME": str(self.home),
            "TRACKER_ALLOW_PRIVATE_NETWORKS": "true",
            "TRACKER_PER_HOST_LIMIT": "16",
        }
        watchlist = self.home / "pages.toml"
        watchlist.write_text(
            "".join(
                f'[[sources]]\nkind = "page"\ntarget = "{url}"\nevery = "{interval}s"\n\n'
                for url in urls
            )
        )
        subprocess.run(
            [tracker, "sources", "import", str(watchlist)],
            env=self.env,
            cwd=self.home,
            check=True,
            capture_output=True,
        )
        self.settings = (
            f"`tracker run --no-watchlist` (16 workers, scheduler tick 5 s, SQLite), {len(urls)} "
            f"`page` sources (main text), every {interval}s (spread by ±5%), "
            "TRACKER_PER_HOST_LIMIT=16"
        )

    def start(self) -> None:
        command = [self.tracker, "run", "--no-watchlist", "--port", str(free_port())]
        self.launch(command, self.env, self.home)
        self.ids: dict[int, int] = {}

    def _query(self, sql: str) -> list[tuple]:
        try:
            with sqlite3.connect(f"file:{self.home / 'tracker.db'}?mode=ro", uri=True) as conn:
                return conn.execute(sql).fetchall()
        except sqlite3.Error:
            return []

    def baselined(self) -> int:
        rows = self._query("SELECT count(baselined_at) FROM source")
        return int(rows[0][0]) if rows else 0

    def recorded(self) -> set[int]:
        if not self.ids:
            index = {url: i for i, url in enumerate(self.urls)}
            self.ids = {sid: index[t] for sid, t in self._query("SELECT id, target FROM source")}
        rows = self._query("SELECT DISTINCT source_id FROM event WHERE kind = 'page.changed'")
        return {self.ids[sid] for (sid,) in rows if sid in self.ids}


class ChangeDetection(Daemon):
    name = "changedetection.io"

    def __init__(self, executable: str, urls: list[str], interval: int, work: Path, env: dict):
        self.executable, self.urls, self.interval = executable, urls, interval
        self.dir = work / "changedetection"
        self.dir.mkdir()
        self.env = env | {"ALLOW_IANA_RESTRICTED_ADDRESSES": "true", "LOGGER_LEVEL": "WARNING"}
        python = Path(executable).with_name("python")
        version = subprocess.run(
            [str(python), "-c", "import changedetectionio as c; print(c.__version__)"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        self.settings = (
            f"changedetection.io {version or '?'}: its own scheduler (ticker every 1 s), "
            f"fetcher html_requests (its default), 5 fetch workers (its default), processor "
            f"text_json_diff, time_between_check {interval}s per watch, no jitter, "
            "LOGGER_LEVEL=WARNING, ALLOW_IANA_RESTRICTED_ADDRESSES=true"
        )
        self.by_uuid: dict[str, int] = {}

    def start(self) -> None:
        self.port = free_port()
        command = [self.executable, "-C", "-d", str(self.dir), "-h", "127.0.0.1"]
        command += ["-p", str(self.port)]
        options = json.dumps(
            {
                "time_between_check": {"seconds": self.interval},
                "time_between_check_use_default": False,
            }
        )
        for n, url in enumerate(self.urls):
            command += ["-u", url, f"-u{n}", options]
        self.launch(command, self.env, self.dir)

    def _histories(self) -> dict[int, int]:
        """Snapshots recorded per page, from each watch's history.txt."""
        if len(self.by_uuid) < len(self.urls):
            index = {url: i for i, url in enumerate(self.urls)}
            for watch in self.dir.glob("*/watch.json"):
                if watch.parent.name not in self.by_uuid:
                    with contextlib.suppress(OSError, ValueError, KeyError):
                        url = json.loads(watch.read_text())["url"]
                        self.by_uuid[watch.parent.name] = index[url]
        counts = {}
        for uuid, page in self.by_uuid.items():
            with contextlib.suppress(OSError):
                lines = (self.dir / uuid / "history.txt").read_text().splitlines()
                counts[page] = sum(1 for line in lines if line.strip())
        return counts

    def baselined(self) -> int:
        return sum(1 for n in self._histories().values() if n >= 1)

    def recorded(self) -> set[int]:
        return {page for page, n in self._histories().items() if n >= 2}

    def confirm(self) -> str:
        settings = json.loads((self.dir / "changedetection.json").read_text())
        token = settings["settings"]["application"].get("api_access_token", "")
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1/watch", headers={"x-api-key": token}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            watches = json.loads(response.read())
        changed = sum(1 for w in watches.values() if w.get("last_changed"))
        return f"its API: {len(watches)} watches, {changed} with last_changed set"


class Urlwatch(Contender):
    name = "urlwatch"

    def __init__(self, executable: str, urls: list[str], interval: int, work: Path, env: dict):
        self.urls, self.interval = urls, interval
        self.dir = work / "urlwatch"
        self.dir.mkdir()
        (self.dir / "urls.yaml").write_text(
            "---\n".join(
                f"name: page {i}\nurl: {url}\nfilter: html2text\n" for i, url in enumerate(urls)
            )
        )
        (self.dir / "config.yaml").write_text(URLWATCH_CONFIG)
        self.command = [executable, "--urls", str(self.dir / "urls.yaml")]
        self.command += ["--cache", str(self.dir / "cache.db")]
        self.command += ["--config", str(self.dir / "config.yaml")]
        self.command += ["--hooks", str(self.dir / "hooks.py")]
        self.env = env | {"HOME": str(self.dir)}
        self.guids = {hashlib.sha1(u.encode()).hexdigest(): i for i, u in enumerate(urls)}
        self.settings = (
            f"urlwatch 2.29 run by the bench every {interval}s (cron-like, from its start), "
            "one `url:` job per page with `filter: html2text` (method re), reporters off, "
            "its 10 threads (fixed)"
        )
        self.runs = 0
        self.cpu = 0.0
        self.peak = 0
        self.current: Sampler | None = None
        self.stopping = threading.Event()
        self.error = ""

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        started = time.monotonic()
        while not self.stopping.is_set():
            log = open(self.dir / "run.log", "w")  # noqa: SIM115 - closed when it has ended
            process = subprocess.Popen(
                self.command, env=self.env, cwd=self.dir, stdout=log, stderr=log
            )
            sampler = Sampler(process.pid)
            self.current = sampler
            sampler.start()
            _pid, status, usage = os.wait4(process.pid, 0)
            sampler.done.set()
            sampler.join()
            self.peak = max(self.peak, sampler.peak_kib)
            self.cpu += usage.ru_utime + usage.ru_stime
            self.current = None
            log.close()
            if os.waitstatus_to_exitcode(status) != 0:
                self.error = (self.dir / "run.log").read_text(errors="replace")[-800:]
            self.runs += 1
            wait = self.interval - (time.monotonic() - started) % self.interval
            self.stopping.wait(wait)

    def _query(self, sql: str) -> list[tuple]:
        try:
            with sqlite3.connect(f"file:{self.dir / 'cache.db'}?mode=ro", uri=True) as conn:
                return conn.execute(sql).fetchall()
        except sqlite3.Error:
            return []

    def baselined(self) -> int:
        if self.error:
            raise RuntimeError(f"urlwatch failed: {self.error}")
        return len(self.urls) if self.runs >= 1 else 0

    def recorded(self) -> set[int]:
        rows = self._query(
            "SELECT guid FROM CacheEntry GROUP BY guid HAVING count(DISTINCT data) > 1"
        )
        return {self.guids[g] for (g,) in rows if g in self.guids}

    def usage(self) -> tuple[int, float]:
        current = self.current
        live_cpu = current.cpu if current else 0.0
        live_peak = current.peak_kib if current else 0
        return max(self.peak, live_peak), self.cpu + live_cpu

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(120)


# --- one contender's round -----------------------------------------------------------


@dataclass
class Outcome:
    name: str
    settings: str
    baseline_s: float = 0.0
    detect_s: float | None = None  # T0 to every change recorded
    recorded: int = 0
    false_changes: int = 0
    lags: list[float] = field(default_factory=list)  # first request after T0 -> recorded
    cpu_total: float = 0.0
    cpu_window: float = 0.0
    peak_kib: int = 0
    requests: int = 0
    ok: int = 0
    not_modified: int = 0
    body_bytes: int = 0
    confirm: str = ""
    error: str = ""


def run_one(contender: Contender, server: PageServer, args) -> Outcome:
    server.control("restart")
    outcome = Outcome(contender.name, contender.settings)
    pages = server.pages
    started = time.monotonic()
    contender.start()
    try:
        while contender.baselined() < pages:
            contender.usage()
            if time.monotonic() - started > args.max_seconds:
                raise RuntimeError(f"baseline not complete after {args.max_seconds:.0f}s")
            time.sleep(0.25)
        outcome.baseline_s = time.monotonic() - started
        time.sleep(1.0)
        _, cpu_at_t0 = contender.usage()
        changed = server.control(f"change?fraction={args.change}")["changed"]
        t0_wall, t0 = time.time(), time.monotonic()
        seen_at: dict[int, float] = {}
        while True:
            for page in contender.recorded():
                seen_at.setdefault(page, time.time())
            peak, cpu = contender.usage()
            if set(changed) <= set(seen_at) or time.monotonic() - t0 > args.max_seconds:
                break
            time.sleep(0.25)
        if set(changed) <= set(seen_at):
            outcome.detect_s = time.monotonic() - t0
        outcome.cpu_total, outcome.cpu_window, outcome.peak_kib = cpu, cpu - cpu_at_t0, peak
        outcome.recorded = len(set(changed) & set(seen_at))
        outcome.false_changes = len(set(seen_at) - set(changed))
        first = {int(k): v for k, v in server.control("seen")["first_after"].items()}
        outcome.lags = sorted(
            seen_at[p] - max(first.get(p, t0_wall), t0_wall) for p in changed if p in seen_at
        )
        stats = server.control("stats")
        outcome.requests, outcome.ok = stats["requests"], stats["ok"]
        outcome.not_modified, outcome.body_bytes = stats["not_modified"], stats["body_bytes"]
        with contextlib.suppress(Exception):
            outcome.confirm = contender.confirm()
    except RuntimeError as error:
        outcome.error = str(error)
    finally:
        contender.stop()
    return outcome


def report(args, outcomes: list[Outcome], skipped: list[str]) -> None:
    print()
    print(describe_setup())
    changed = round(args.pages * args.change)
    print(
        f"{args.pages} pages, {changed} changed at T0, interval {args.interval}s for every "
        f"contender, {args.latency_ms:.0f} ms per response"
    )
    for line in skipped:
        print(line)
    print(
        f"{'contender':<20}{'baseline s':>11}{'T0->all s':>10}{'lag p50':>8}{'lag max':>8}"
        f"{'recorded':>9}{'false':>6}{'CPU s':>7}{'CPU T0+':>8}{'tree MiB':>9}"
        f"{'requests':>9}{'200':>6}{'304':>6}{'body MB':>8}"
    )
    for o in outcomes:
        if o.error:
            print(f"{o.name:<20} failed: {o.error}")
            continue
        detect = f"{o.detect_s:.1f}" if o.detect_s is not None else "-"
        p50 = o.lags[len(o.lags) // 2] if o.lags else float("nan")
        worst = o.lags[-1] if o.lags else float("nan")
        print(
            f"{o.name:<20}{o.baseline_s:>11.1f}{detect:>10}{p50:>8.2f}{worst:>8.2f}"
            f"{o.recorded:>6}/{changed:<2}{o.false_changes:>6}{o.cpu_total:>7.2f}"
            f"{o.cpu_window:>8.2f}{o.peak_kib / 1024:>9.0f}{o.requests:>9}{o.ok:>6}"
            f"{o.not_modified:>6}{o.body_bytes / 1e6:>8.2f}"
        )
    print(
        "(baseline = start to every page checked once; T0->all = the change to every changed "
        "page recorded; lag = first request for a changed page after T0 to its record seen, "
        "seconds; CPU s = user+sys of the process tree from start to the last record, CPU T0+ "
        "= of that from T0; tree = peak summed RSS; requests from start to the last record)"
    )
    for o in outcomes:
        print(f"  {o.name}: {o.settings}" + (f"; {o.confirm}" if o.confirm else ""))
    by = {o.name: o for o in outcomes if not o.error}
    tracker = by.get("tracker")
    if tracker:
        print()
        print("ratios against the tracker (peer / tracker)")
        for o in by.values():
            if o is tracker:
                continue
            print(
                f"  {o.name:<20} CPU {o.cpu_total / tracker.cpu_total:5.2f}x  "
                f"CPU from T0 {o.cpu_window / max(tracker.cpu_window, 1e-9):5.2f}x  "
                f"peak RSS {o.peak_kib / tracker.peak_kib:5.2f}x"
                + (
                    f"  T0->all {o.detect_s / tracker.detect_s:5.2f}x"
                    if o.detect_s and tracker.detect_s
                    else ""
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--change", type=float, default=0.1, help="fraction changed at T0")
    parser.add_argument("--interval", type=int, default=60, help="seconds, for every contender")
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--max-seconds", type=float, default=240)
    parser.add_argument("--tracker", default=shutil.which("tracker") or "tracker")
    parser.add_argument("--urlwatch", metavar="PATH", help="urlwatch 2.29's executable")
    parser.add_argument(
        "--changedetection", metavar="PATH", help="changedetection.io's changedetection.py"
    )
    parser.add_argument("--only", help="comma-separated contenders to run (default: all given)")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_serve(args.pages, args.latency_ms / 1000))
        return
    if args.interval < MIN_TRACKER_INTERVAL:
        parser.exit(
            2, f"page_peers: --interval below {MIN_TRACKER_INTERVAL}s: the tracker refuses it\n"
        )
    if not 0 < args.change <= 1 or args.pages < 1:
        parser.exit(2, "page_peers: --pages must be positive and --change in (0, 1]\n")
    for option in ("urlwatch", "changedetection"):
        path = getattr(args, option)
        if path and not (Path(path).is_file() and os.access(path, os.X_OK)):
            parser.exit(2, f"page_peers: --{option} {path}: no executable there\n")
    bench(args)


def bench(args) -> None:
    skipped = []
    if not args.urlwatch:
        skipped.append("urlwatch: not compared (pass --urlwatch PATH to its executable)")
    if not args.changedetection:
        skipped.append(
            "changedetection.io: not compared "
            "(pass --changedetection PATH to its changedetection.py)"
        )
    for line in skipped:
        print(line, flush=True)
    only = set(args.only.split(",")) if args.only else None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "HF_"))}
    work = Path(tempfile.mkdtemp(prefix="page-peers-"))
    server = PageServer(args.pages, args.latency_ms)
    outcomes = []
    try:
        urls = server.urls()
        makers = [("tracker", lambda: Tracker(args.tracker, urls, args.interval, work, env))]
        if args.urlwatch:
            makers.append(
                ("urlwatch", lambda: Urlwatch(args.urlwatch, urls, args.interval, work, env))
            )
        if args.changedetection:
            makers.append(
                (
                    "changedetection.io",
                    lambda: ChangeDetection(args.changedetection, urls, args.interval, work, env),
                )
            )
        for name, make in makers:
            if only and name not in only:
                continue
            outcome = run_one(make(), server, args)
            outcomes.append(outcome)
            state = outcome.error or (
                f"baseline {outcome.baseline_s:.1f}s, all changes recorded "
                f"{outcome.detect_s:.1f}s after T0"
                if outcome.detect_s is not None
                else f"{outcome.recorded} changes recorded in {args.max_seconds:.0f}s"
            )
            print(f"  {name:<20} {state}", flush=True)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)
    report(args, outcomes, skipped)


if __name__ == "__main__":
    main()
