"""Alert fan-out: 10,000 events x 10 json:// subscriptions through the outbox to a local sink.

    python bench/fanout.py [--events 10000] [--subscriptions 10] [--variants default,raised]

A JSON sink (threaded http.server in its own process, answering 200 at once) counts the
POSTs it receives per subscription and the events they cover (a grouped message's title
says "N changes at once"). Per variant, on a fresh SQLite TRACKER_HOME: 10 `json://`
subscriptions are added (tracker.alerts.subscriptions.add, the code behind `tracker
subscriptions add`), 10,000 `post.published` events are inserted with the store's
`insert_events` (1,000 per transaction, as polls do; it enqueues one delivery per event and
subscription), then `deliver_due` is called until nothing is due, and timed.

Variants: `default` keeps storm_threshold = 20, so each subscription's claimed deliveries
(deliver_due claims 5,000 at a time) go out as one grouped message; `raised` sets
Settings(storm_threshold=100000), so every delivery is its own message (100,000 POSTs).
Checked after each: every delivery is `sent`, none failed or pending, the sink received
exactly the messages deliver_due reports, and the events they cover add up to every
delivery.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchutil import describe_setup

_COVERS = re.compile(r"(\d+) changes? at once")


def sink_main() -> None:
    """The sink process: POST /sub/<k> counts; GET /stats answers the counts; GET /reset."""
    lock = threading.Lock()
    state = {"messages": Counter(), "events": Counter(), "bytes": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                title = json.loads(body).get("title", "")
            except ValueError:
                title = ""
            match = _COVERS.search(title)
            with lock:
                state["messages"][self.path] += 1
                state["events"][self.path] += int(match.group(1)) if match else 1
                state["bytes"] += len(body)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_GET(self) -> None:
            with lock:
                if self.path == "/reset":
                    state.update(messages=Counter(), events=Counter(), bytes=0)
                answer = json.dumps(
                    {
                        "messages": dict(state["messages"]),
                        "events": dict(state["events"]),
                        "bytes": state["bytes"],
                    }
                ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 1024
    print(f"READY {server.server_address[1]}", flush=True)
    server.serve_forever()


class Sink:
    def __init__(self) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--sink"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("READY "):
            self.process.kill()
            raise RuntimeError(f"sink did not start: {line!r}")
        self.port = int(line.split()[1])

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
            return json.loads(r.read())

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def variant(name: str, storm_threshold: int, args, sink: Sink) -> dict:
    from sqlmodel import col, func, select

    from tracker import catalog, store
    from tracker.alerts import subscriptions
    from tracker.alerts.deliver import deliver_due
    from tracker.catalog import SourceSpec
    from tracker.config import Settings
    from tracker.db import Database
    from tracker.events import EventDraft
    from tracker.models import Delivery

    sink.get("/reset")
    with tempfile.TemporaryDirectory(prefix="fanout-") as home:
        settings = Settings(
            _env_file=None,
            home=Path(home),
            allow_private_networks=True,
            storm_threshold=storm_threshold,
        )
        db = Database(settings)
        with db.session() as session:
            spec = catalog.checked(SourceSpec("feed", "http://127.0.0.1:9/feed.xml"), settings)
            source_id = catalog.add(session, spec).id
            for k in range(args.subscriptions):
                url = f"json://127.0.0.1:{sink.port}/sub/{k}"
                subscriptions.add(session, subscriptions.SubscriptionSpec(url), settings)
        started = time.perf_counter()
        now = datetime.now(UTC)
        for start in range(0, args.events, 1000):
            drafts = [
                EventDraft(
                    kind="post.published",
                    subject=f"http://blog.example.org/p/{n}",
                    title=f"Post {n}: a new open-weights model is released",
                    fingerprint=f"p{n}",
                    url=f"http://blog.example.org/p/{n}",
                    after={"title": f"Post {n}", "url": f"http://blog.example.org/p/{n}"},
                    data={"summary": "We release the weights under an open license. " * 4},
                )
                for n in range(start, min(start + 1000, args.events))
            ]
            with db.session() as session:
                store.insert_events(session, source_id, drafts, now=now)
        insert_seconds = time.perf_counter() - started

        messages = delivered = failed = calls = 0
        started = time.perf_counter()
        while True:
            report = deliver_due(db)
            calls += 1
            if not (report.messages_sent or report.messages_failed or report.delivered):
                break
            messages += report.messages_sent
            failed += report.messages_failed
            delivered += report.delivered
            if time.perf_counter() - started > args.max_seconds:
                print(f"  ! {name}: stopped after {args.max_seconds}s")
                break
        deliver_seconds = time.perf_counter() - started
        with db.session() as session:
            statuses = dict(
                session.exec(
                    select(Delivery.status, func.count()).group_by(col(Delivery.status))
                ).all()
            )
        db.dispose()
    received = sink.get("/stats")
    return {
        "variant": name,
        "storm_threshold": storm_threshold,
        "insert_seconds": insert_seconds,
        "deliver_seconds": deliver_seconds,
        "calls": calls,
        "messages": messages,
        "failed_messages": failed,
        "delivered": delivered,
        "statuses": statuses,
        "sink_messages": sum(received["messages"].values()),
        "sink_events": sum(received["events"].values()),
        "sink_per_subscription": sorted(received["events"].values()),
        "sink_bytes": received["bytes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--variants", default="default,raised")
    parser.add_argument("--max-seconds", type=float, default=480)
    parser.add_argument("--sink", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sink:
        sink_main()
        return
    expected = args.events * args.subscriptions
    thresholds = {"default": 20, "raised": 100_000}
    sink = Sink()
    rows = []
    try:
        for name in args.variants.split(","):
            rows.append(variant(name, thresholds[name], args, sink))
            print(f"  {name}: done in {rows[-1]['deliver_seconds']:.1f}s", flush=True)
    finally:
        sink.close()
    print()
    print(describe_setup())
    print(
        f"{args.events:,} events x {args.subscriptions} json:// subscriptions = "
        f"{expected:,} deliveries; sink on loopback in its own process"
    )
    print(
        f"{'variant':<9}{'storm':>7}{'insert s':>9}{'deliver s':>10}{'deliveries/s':>13}"
        f"{'messages':>9}{'msg/s':>8}{'calls':>6}{'sink msgs':>10}{'sink events':>12}"
        f"{'sent':>8}{'other':>6}"
    )
    for row in rows:
        sent = row["statuses"].get("sent", 0)
        other = sum(v for k, v in row["statuses"].items() if k != "sent")
        seconds = row["deliver_seconds"]
        print(
            f"{row['variant']:<9}{row['storm_threshold']:>7}{row['insert_seconds']:>9.2f}"
            f"{seconds:>10.2f}{row['delivered'] / seconds:>13,.0f}{row['messages']:>9,}"
            f"{row['messages'] / seconds:>8,.0f}{row['calls']:>6}{row['sink_messages']:>10,}"
            f"{row['sink_events']:>12,}{sent:>8,}{other:>6}"
        )
    print()
    for row in rows:
        sent = row["statuses"].get("sent", 0)
        lost_ok = (
            sent == expected
            and row["delivered"] == expected
            and row["failed_messages"] == 0
            and row["sink_messages"] == row["messages"]
            and row["sink_events"] == expected
        )
        print(
            f"[{'PASS' if lost_ok else 'MISS'}] {row['variant']}: none lost: {sent:,}/{expected:,} "
            f"deliveries sent, statuses {row['statuses']}, sink got {row['sink_messages']:,} "
            f"messages for {row['messages']:,} sent, covering {row['sink_events']:,} events "
            f"(per subscription {min(row['sink_per_subscription'] or [0]):,}.."
            f"{max(row['sink_per_subscription'] or [0]):,})"
        )
    if len(rows) == 2:
        a, b = rows
        rate_a = a["delivered"] / a["deliver_seconds"]
        rate_b = b["delivered"] / b["deliver_seconds"]
        print(
            f"ratio: deliveries/s {a['variant']}/{b['variant']} = {rate_a / rate_b:.1f}x;"
            f" seconds per message {b['variant']} = "
            f"{1000 * b['deliver_seconds'] / max(b['messages'], 1):.2f} ms"
        )


if __name__ == "__main__":
    main()
