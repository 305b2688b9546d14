"""A storm: a watched page whose links all become new at once.

    python bench/storm.py [--links 400000] [--subscriptions 2]

A loopback server serves a page of 10 links; `tracker poll` baselines it; then the page
carries `--links` new links and `tracker poll` runs again with alert subscriptions to a
loopback sink. Prints, for the second poll: wall time, peak RSS of the process tree, the
events recorded, the items stored, the messages the sink received. The body cap is
raised to fit the page (400,000 links are about 17 MB of HTML).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchutil import TreeSampler, describe_setup

TRACKER = [sys.executable, "-m", "tracker"]


def page(prefix: str, count: int) -> bytes:
    links = "".join(f'<li><a href="/{prefix}/{n}">Item {n}</a></li>' for n in range(count))
    return f"<html><body><main><ul>{links}</ul></main></body></html>".encode()


class Site:
    """The page (changed by the benchmark) and an alert sink counting POSTs."""

    def __init__(self) -> None:
        self.body = page("a", 10)
        self.posts = 0
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(site.body)))
                self.end_headers()
                self.wfile.write(site.body)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                site.posts += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def tracker(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    process = subprocess.Popen(
        [*TRACKER, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    sampler = TreeSampler(process.pid)
    sampler.start()
    out, err = process.communicate()
    sampler.done.set()
    sampler.join()
    return subprocess.CompletedProcess(args, process.returncode, out, err), sampler.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--links", type=int, default=400_000)
    parser.add_argument("--subscriptions", type=int, default=2)
    options = parser.parse_args()
    site = Site()
    home = Path(tempfile.mkdtemp(prefix="tracker-storm-"))
    env = {
        **os.environ,
        "TRACKER_HOME": str(home),
        "TRACKER_ALLOW_PRIVATE_NETWORKS": "true",
        "TRACKER_HTTP_MAX_BYTES": str(64 * 1024 * 1024),
    }
    tracker(env, "sources", "add", "page", site.url + "/blog", "--links", "main a")
    tracker(env, "poll")
    for n in range(options.subscriptions):
        tracker(env, "subscriptions", "add", f"json://127.0.0.1:{site.url.rsplit(':', 1)[1]}/h{n}")
    site.body = page("b", options.links)

    started = time.monotonic()
    done, peak_kib = tracker(env, "poll", "--json")
    wall = time.monotonic() - started

    if done.returncode != 0:
        sys.exit(f"tracker poll failed ({done.returncode}): {done.stderr.strip()[:500]}")
    report = json.loads(done.stdout)
    with sqlite3.connect(home / "tracker.db") as connection:
        items = connection.execute("SELECT count(*) FROM item").fetchone()[0]
        kinds = dict(connection.execute("SELECT kind, count(*) FROM event GROUP BY kind"))
    print(describe_setup())
    print(f"page: {options.links:,} new links, {len(site.body) / 1e6:.1f} MB")
    print(f"second poll: {wall:.1f} s wall, peak RSS of the process tree {peak_kib / 1024:.0f} MiB")
    print(f"events: {kinds}; items stored: {items:,}")
    print(
        f"alerts: {report['alerts']['messages_sent']} messages sent, "
        f"{site.posts} received by the sink ({options.subscriptions} subscriptions)"
    )


if __name__ == "__main__":
    main()
