"""One slow host with many sources beside a fast one: when is each host's last source done?

    python bench/host_turns.py [--slow 60] [--fast 200] [--slow-ms 1000] [--fast-ms 20]
                               [--before PATH/TO/OTHER/tracker]

Two loopback feed servers (`bench/feedserver.py`): `--slow` feeds answering after
`--slow-ms`, named by 127.0.0.1, and `--fast` feeds answering after `--fast-ms`, named by
localhost (the same loopback to the network, two hosts to the tracker). Both kinds of
source are imported into a fresh TRACKER_HOME (SQLite), the slow host's first, so their ids
come first. Then `tracker poll --json` runs once with the defaults a user has (32 polls at
a time, 4 requests in flight per host; TRACKER_ALLOW_PRIVATE_NETWORKS=true for loopback),
and `tracker sources list --json` tells when each source was recorded (`last_polled_at`).

Printed for each contender: the poll's wall time, and how long after the poll started the
last source of each host was recorded. The slow host bounds the whole poll either way
(`--slow` / 4 x `--slow-ms`); what the host turns change is when the fast host's sources
are done. With `--before`, another tracker executable (another checkout's venv) runs the
same poll on its own home, one after the other.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from benchutil import describe_setup  # noqa: E402
from feedserver import FeedServer  # noqa: E402


def run(name: str, tracker: str, slow: list[str], fast: list[str], work: Path) -> dict:
    home = work / name
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "HF_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env |= {"TRACKER_HOME": str(home), "TRACKER_ALLOW_PRIVATE_NETWORKS": "true"}
    watchlist = home / "sources.toml"
    watchlist.write_text(
        "".join(f'[[sources]]\nkind = "feed"\ntarget = "{url}"\n\n' for url in [*slow, *fast])
    )
    subprocess.run(
        [tracker, "sources", "import", str(watchlist)], env=env, check=True, capture_output=True
    )
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    poll = subprocess.run([tracker, "poll", "--json"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if poll.returncode != 0:
        raise SystemExit(f"{name}: tracker poll exited {poll.returncode}: {poll.stderr[-300:]}")
    listed = subprocess.run(
        [tracker, "sources", "list", "--json"], env=env, check=True, capture_output=True
    )
    done: dict[str, float] = {}
    for source in json.loads(listed.stdout):
        host = "slow" if "127.0.0.1" in source["target"] else "fast"
        at = datetime.fromisoformat(source["last_polled_at"].replace("Z", "+00:00"))
        done[host] = max(done.get(host, 0.0), (at - started_at).total_seconds())
    report = json.loads(poll.stdout)
    return {"wall": wall, "ok": report["ok"], "failed": report["failed"], **done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=60)
    parser.add_argument("--fast", type=int, default=200)
    parser.add_argument("--slow-ms", type=float, default=1000)
    parser.add_argument("--fast-ms", type=float, default=20)
    parser.add_argument("--tracker", default=str(Path(sys.executable).parent / "tracker"))
    parser.add_argument("--before", help="another tracker executable, measured beside")
    args = parser.parse_args()
    for executable in [args.tracker, *([args.before] if args.before else [])]:
        if not Path(executable).exists():
            parser.exit(2, f"host_turns.py: no tracker executable at {executable}\n")
    print(describe_setup(), flush=True)
    print(
        f"{args.slow} feeds at {args.slow_ms:.0f} ms (host 127.0.0.1), {args.fast} feeds at "
        f"{args.fast_ms:.0f} ms (host localhost); 32 polls at a time, 4 per host",
        flush=True,
    )
    work = Path(tempfile.mkdtemp(prefix="host-turns-"))
    contenders = [("tracker", args.tracker)] + ([("before", args.before)] if args.before else [])
    try:
        with (
            FeedServer(args.slow, latency_ms=args.slow_ms) as slow_server,
            FeedServer(args.fast, latency_ms=args.fast_ms) as fast_server,
        ):
            slow = slow_server.urls()
            fast = [url.replace("127.0.0.1", "localhost") for url in fast_server.urls()]
            results = {name: run(name, exe, slow, fast, work) for name, exe in contenders}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'contender':<10}{'poll wall s':>12}{'fast host done s':>18}{'slow host done s':>18}")
    for name, r in results.items():
        print(f"{name:<10}{r['wall']:>12.2f}{r['fast']:>18.2f}{r['slow']:>18.2f}")
        print(f"  ok {r['ok']}, failed {r['failed']}")
    if "before" in results:
        t, b = results["tracker"], results["before"]
        print(
            f"fast host done: before/tracker {b['fast'] / t['fast']:.2f}x; "
            f"whole poll before/tracker {b['wall'] / t['wall']:.2f}x"
        )


if __name__ == "__main__":
    main()
