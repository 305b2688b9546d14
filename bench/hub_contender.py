"""One contender of `bench/hub_poll.py --large`: the tracker of whichever tree the running
Python imports (this tree's venv, or another worktree's), polling a fake Hub when told.

    OTHER/.venv/bin/python bench/hub_contender.py --endpoint URL --home DIR --authors a,b,c

Imports only the standard library at start, so that `tracker` is the one the interpreter's
environment installs (no path of this tree is put first). Reads commands on stdin, one a
line: `poll` polls every source once and prints one line `RESULT {json}`: the poll's CPU
(user+sys of this process) and the CPU of its parts on the polling threads (the fetch, the
detection inside and outside it, the stored states read, the recording) and the time of
the collector's full passes, the requests the
tracker counted, events, and whether every source was polled ok. `quit` ends.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_spent: dict[str, float] = {}
_depth = threading.local()


def _timed(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, adding its CPU on the calling thread to `_spent[label]` (outermost call
    of that label only), and to `_spent[label + "@fetch"]` when called inside the fetch."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        active = getattr(_depth, "labels", None)
        if active is None:
            active = _depth.labels = set()
        if label in active:
            return function(*args, **kwargs)
        within = "@fetch" if "fetch" in active else ""
        active.add(label)
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent = time.thread_time() - started
            _spent[label] = _spent.get(label, 0.0) + spent
            if within:
                _spent[label + within] = _spent.get(label + within, 0.0) + spent
            active.discard(label)

    return wrapper


def _collections(phase: str, info: dict[str, Any]) -> None:
    """Wall time of the collector's full passes (generation 2), kept in `_spent["gc"]`."""
    if info.get("generation") != 2:
        return
    if phase == "start":
        _spent["_gc_started"] = time.perf_counter()
    elif "_gc_started" in _spent:
        _spent["gc"] = _spent.get("gc", 0.0) + time.perf_counter() - _spent.pop("_gc_started")


def _instrument() -> None:
    from tracker import pipeline, store
    from tracker.kinds import hub as hub_kind

    pipeline._fetch = _timed("fetch", pipeline._fetch)  # type: ignore[attr-defined]
    pipeline._load = _timed("load", pipeline._load)  # type: ignore[attr-defined]
    pipeline._record = _timed("record", pipeline._record)  # type: ignore[attr-defined]
    store.load_item_states = _timed("states", store.load_item_states)
    store.write_items = _timed("write", store.write_items)
    hub_kind.detect_repos = _timed("detect", hub_kind.detect_repos)  # type: ignore[attr-defined]
    kind = hub_kind.KIND
    for name in ("relate", "scorecards"):
        step = getattr(kind, name, None)
        if step is not None:
            object.__setattr__(kind, name, _timed(name, step))
    try:
        from tracker.sources import licensepages
    except ImportError:
        return
    licensepages.read = _timed("license_pages", licensepages.read)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--authors", required=True, help="Hub authors to watch, comma-separated")
    args = parser.parse_args()

    import tracker
    from tracker import catalog
    from tracker.catalog import SourceSpec
    from tracker.config import Settings
    from tracker.db import Database
    from tracker.poller import poll_sources, select_sources

    _instrument()
    gc.callbacks.append(_collections)
    wanted = {"home": args.home, "hf_endpoint": args.endpoint, "allow_private_networks": True}
    settings = Settings(
        _env_file=None, **{k: v for k, v in wanted.items() if k in Settings.model_fields}
    )
    db = Database(settings)
    with db.session() as session:
        for author in args.authors.split(","):
            catalog.add(session, catalog.checked(SourceSpec("hub", author), settings))
    print(f"READY {Path(tracker.__file__).resolve().parents[1]}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        if command != "poll":
            continue
        _spent.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        report = poll_sources(db, select_sources(db, None))
        figures = {
            "cpu": time.process_time() - cpu,
            "wall": time.perf_counter() - wall,
            "parts": dict(_spent),
            "hub_requests": report.hub_requests,
            "requests": report.requests,
            "events": sum(len(r.event_ids) for r in report.results),
            "ok": all(r.ok for r in report.results),
            "errors": [r.error for r in report.results if not r.ok],
            "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        }
        print("RESULT " + json.dumps(figures), flush=True)
    db.dispose()


if __name__ == "__main__":
    main()
