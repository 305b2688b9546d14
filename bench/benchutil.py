"""Helpers shared by the benchmarks: the process-tree memory sampler and a setup line."""

from __future__ import annotations

import hashlib
import os
import platform
import threading
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def tree_rss_kib(pid: int) -> int:
    """Resident KiB of a process and all its descendants now (0 once it is gone)."""
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/statm") as statm:
                total += int(statm.read().split()[1]) * PAGE_KIB
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    pending.extend(int(c) for c in children.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


class TreeSampler(threading.Thread):
    """Polls the summed RSS of a process tree every `every` seconds; keeps the peak."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid, self.every, self.peak = pid, every, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak = max(self.peak, tree_rss_kib(self.pid))
            self.done.wait(self.every)


def code_fingerprint() -> str:
    """A short hash of tracker/**/*.py and the newest change time: which code was measured
    (the tree may change between runs)."""
    digest = hashlib.sha256()
    newest = 0.0
    for path in sorted((ROOT / "tracker").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(path.read_bytes())
        newest = max(newest, path.stat().st_mtime)
    when = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"tracker code {digest.hexdigest()[:12]} (newest file {when})"


def describe_setup() -> str:
    """One line: cores, Python, load, the code measured."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, load {load}; "
        f"{code_fingerprint()}"
    )
