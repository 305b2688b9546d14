"""A fast loopback feed server for benchmarks: N generated RSS 2.0 feeds with validators.

    python bench/feedserver.py [--feeds 1000] [--port 0] [--latency-ms 200]

Serves /feed/<i>.xml for i in 0..N-1 (asyncio, standard library only, HTTP/1.1 keep-alive),
each feed 20-200 items (sizes fixed by i) with 400-900 bytes of description per item, about
86 MB for 1,000 feeds. Every response carries an ETag and a Last-Modified; If-None-Match
(which wins when present) and If-Modified-Since are honoured with 304. Each feed response
waits `--latency-ms` first (asyncio.sleep: other requests go on meanwhile). Bodies are not
compressed. On start it prints one line, `READY <port>`, on stdout.

Control endpoints (no latency, not logged):

- ``GET /control/change?fraction=0.1`` (or ``?ids=1,5,9``): each chosen feed gains one item
  at the top and gets a new ETag and Last-Modified. The choice is deterministic (every
  k-th feed). Answers ``{"changed": [ids]}``.
- ``GET /control/stats``: the request log since the last reset: ``requests``, ``ok`` (200),
  ``not_modified`` (304), ``other``, ``body_bytes``, and ``paths`` ({path: [requests,
  body_bytes, 304s]}) with ``?paths=1``.
- ``GET /control/reset``: empties the request log.
- ``GET /control/latency?ms=50``: changes the artificial latency.

`FeedServer` (below) starts the server in its own process, so its CPU never counts against
the client being measured, and wraps the control endpoints. `feed_body(i, version)` builds
the same bytes the server sends, for measuring parsing without HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import urllib.request
from collections import defaultdict
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

MIN_ITEMS, MAX_ITEMS = 20, 200
BASE_TIME = 1_767_225_600  # 2026-01-01T00:00:00Z: Last-Modified of version 0
_WORDS = (  # noqa: SIM905 - a sentence is easier to read than a list
    "model weights release training data evaluation benchmark open license research "
    "inference tokens context window parameters architecture transformer attention dataset "
    "fine-tuning alignment safety policy access researchers community developers paper "
    "results performance latency throughput multilingual reasoning code math vision audio "
    "agents tools deployment hardware accelerators cluster compute efficient sparse mixture "
    "experts distillation quantization evaluation leaderboard downloads checkpoint preview "
    "announce today we are excited to share our latest work with the broader ecosystem and "
    "partners across industry and academia this version improves quality on many tasks"
).split()


def item_count(i: int) -> int:
    """Items of feed `i` at version 0: deterministic, uniform in 20..200 (mean 110)."""
    return MIN_ITEMS + random.Random(i * 7919 + 1).randrange(MAX_ITEMS - MIN_ITEMS + 1)


def _paragraphs(rng: random.Random, size: int) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(_WORDS)
        words.append(word)
        length += len(word) + 1
    text = " ".join(words)
    cut = len(text) // 2
    space = text.find(" ", cut)
    return f"<p>{text[:space].capitalize()}.</p><p>{text[space + 1 :].capitalize()}.</p>"


# A pool of HTML descriptions, 400-900 bytes each (most of them short, as in real feeds:
# triangular with its mode at 400), so generating 86 MB takes a second, not minutes.
_POOL_RNG = random.Random(42)
_DESCRIPTIONS = [
    _paragraphs(_POOL_RNG, round(_POOL_RNG.triangular(400, 900, 400)) - 17) for _ in range(997)
]


def _item(feed: int, n: int) -> str:
    """Item number `n` of feed `feed` (n grows with time; the newest item has the largest n)."""
    description = _DESCRIPTIONS[(feed * 131 + n * 17) % len(_DESCRIPTIONS)]
    published = formatdate(BASE_TIME - (10_000 - n) * 3600, usegmt=True)
    return (
        f"<item><title>Feed {feed} post {n}: {_WORDS[(feed + n) % len(_WORDS)]} "
        f"{_WORDS[(feed * 3 + n) % len(_WORDS)]}</title>"
        f"<link>http://blog{feed}.example.org/p/{n}</link>"
        f'<guid isPermaLink="false">f{feed}-p{n}</guid>'
        f"<pubDate>{published}</pubDate>"
        f"<description><![CDATA[{description}]]></description>"
        f"</item>\n"
    )


def feed_body(i: int, version: int = 0) -> bytes:
    """The RSS 2.0 document of feed `i` after `version` changes (each added one item)."""
    count = item_count(i)
    newest = count + version  # items 1..newest exist; the feed shows the newest `count`
    items = "".join(_item(i, n) for n in range(newest, newest - count, -1))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">\n<channel>\n'
        f"<title>Benchmark blog {i}</title>\n<link>http://blog{i}.example.org/</link>\n"
        f"<description>Generated feed {i} for release-tracker benchmarks</description>\n"
        f"<language>en</language>\n<lastBuildDate>{_last_modified(version)}</lastBuildDate>\n"
        f"{items}</channel>\n</rss>\n"
    ).encode()


def _last_modified(version: int) -> str:
    return formatdate(BASE_TIME + version * 3600, usegmt=True)


def etag_of(i: int, version: int) -> str:
    return f'"f{i}-v{version}"'


def changed_ids(feeds: int, fraction: float) -> list[int]:
    """The feeds a change of `fraction` touches: every k-th one, deterministically."""
    count = round(feeds * fraction)
    if count <= 0:
        return []
    step = feeds / count
    return sorted({int(k * step) for k in range(count)})


class _Server:
    def __init__(self, feeds: int, latency: float) -> None:
        self.feeds = feeds
        self.latency = latency
        self.versions = [0] * feeds
        self._cache: dict[int, bytes] = {}
        self.reset()

    def reset(self) -> None:
        self.requests = self.ok = self.not_modified = self.other = self.body_bytes = 0
        self.paths: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0])

    def body(self, i: int) -> bytes:
        body = self._cache.get(i)
        if body is None:
            body = self._cache[i] = feed_body(i, self.versions[i])
        return body

    def change(self, ids: list[int]) -> None:
        for i in ids:
            self.versions[i] += 1
            self._cache.pop(i, None)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = [*lines[0].split(" "), "", ""][:3]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                if length:
                    await reader.readexactly(length)
                keep = headers.get("connection", "").lower() != "close"
                status, extra, body = await self.respond(method, target, headers)
                reason = {200: "OK", 304: "Not Modified", 404: "Not Found", 405: "Bad Method"}
                head_out = [f"HTTP/1.1 {status} {reason.get(status, 'Error')}"]
                head_out += [f"{k}: {v}" for k, v in extra.items()]
                head_out.append(f"Content-Length: {len(body)}")
                head_out.append("Connection: keep-alive" if keep else "Connection: close")
                writer.write(("\r\n".join(head_out) + "\r\n\r\n").encode("latin-1"))
                if method != "HEAD" and body:
                    writer.write(body)
                await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def respond(self, method: str, target: str, headers: dict[str, str]):
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/control/"):
            return self.control(path, parse_qs(parts.query))
        if method not in ("GET", "HEAD"):
            return 405, {}, b""
        feed = _feed_id(path)
        if feed is None or feed >= self.feeds:
            self.requests += 1
            self.other += 1
            return 404, {"Content-Type": "text/plain"}, b"not found\n"
        if self.latency:
            await asyncio.sleep(self.latency)
        version = self.versions[feed]
        etag = etag_of(feed, version)
        modified = _last_modified(version)
        validators = {"ETag": etag, "Last-Modified": modified}
        stats = self.paths[path]
        stats[0] += 1
        self.requests += 1
        if _not_modified(headers, etag, BASE_TIME + version * 3600):
            self.not_modified += 1
            stats[2] += 1
            return 304, validators, b""
        body = self.body(feed)
        self.ok += 1
        self.body_bytes += len(body)
        stats[1] += len(body)
        return 200, {"Content-Type": "application/rss+xml; charset=utf-8", **validators}, body

    def control(self, path: str, query: dict[str, list[str]]):
        answer: dict = {}
        if path == "/control/change":
            if "ids" in query:
                ids = [int(x) for x in query["ids"][0].split(",") if x.strip()]
            else:
                ids = changed_ids(self.feeds, float(query.get("fraction", ["0.1"])[0]))
            self.change(ids)
            answer = {"changed": ids}
        elif path == "/control/stats":
            answer = {
                "requests": self.requests,
                "ok": self.ok,
                "not_modified": self.not_modified,
                "other": self.other,
                "body_bytes": self.body_bytes,
            }
            if query.get("paths", ["0"])[0] == "1":
                answer["paths"] = dict(self.paths)
        elif path == "/control/reset":
            self.reset()
            answer = {"reset": True}
        elif path == "/control/latency":
            self.latency = float(query.get("ms", ["0"])[0]) / 1000
            answer = {"latency_ms": self.latency * 1000}
        elif path == "/control/warm":
            for i in range(self.feeds):
                self.body(i)
            answer = {"warm": self.feeds}
        else:
            return 404, {}, b""
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


def _feed_id(path: str) -> int | None:
    if not (path.startswith("/feed/") and path.endswith(".xml")):
        return None
    number = path[len("/feed/") : -len(".xml")]
    return int(number) if number.isdigit() else None


def _not_modified(headers: dict[str, str], etag: str, modified_ts: int) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None:
        tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
        return "*" in tags or etag in tags
    ims = headers.get("if-modified-since")
    if ims:
        try:
            return parsedate_to_datetime(ims).timestamp() >= modified_ts
        except (TypeError, ValueError):
            return False
    return False


async def _serve(feeds: int, port: int, latency: float, warm: bool) -> None:
    server_state = _Server(feeds, latency)
    if warm:
        for i in range(feeds):
            server_state.body(i)
    server = await asyncio.start_server(
        server_state.handle, "127.0.0.1", port, backlog=2048, limit=1 << 16
    )
    print(f"READY {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


class FeedServer:
    """The feed server in a child process; a context manager."""

    def __init__(self, feeds: int, *, latency_ms: float = 200, warm: bool = True) -> None:
        self.feeds = feeds
        command = [sys.executable, str(Path(__file__).resolve()), "--feeds", str(feeds)]
        command += ["--port", "0", "--latency-ms", str(latency_ms)]
        if warm:
            command.append("--warm")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("READY "):
            self.process.kill()
            raise RuntimeError(f"feed server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base = f"http://127.0.0.1:{self.port}"

    def url(self, i: int) -> str:
        return f"{self.base}/feed/{i}.xml"

    def urls(self) -> list[str]:
        return [self.url(i) for i in range(self.feeds)]

    def _control(self, what: str) -> dict:
        with urllib.request.urlopen(f"{self.base}/control/{what}", timeout=120) as response:
            return json.loads(response.read())

    def change(self, fraction: float) -> list[int]:
        return self._control(f"change?fraction={fraction}")["changed"]

    def stats(self, paths: bool = False) -> dict:
        return self._control("stats?paths=1" if paths else "stats")

    def reset(self) -> None:
        self._control("reset")

    def set_latency(self, ms: float) -> None:
        self._control(f"latency?ms={ms}")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> FeedServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--warm", action="store_true", help="build every body before READY")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.feeds, args.port, args.latency_ms / 1000, args.warm))


if __name__ == "__main__":
    main()
