"""Start-up of the command line: the CPU of `tracker --help`, `tracker events --json --limit 5`
and `tracker sources list` beside that of `python -c "import httpx"`.

Each command runs `--runs` times in a fresh TRACKER_HOME holding a database with a few
sources and events (made with the tracker's own code before timing). The contenders
alternate in one loop, so load on the machine falls on all of them alike; the CPU of each
child (user + sys, from os.wait4) and its wall time are kept, and the medians are printed
with the ratio to the httpx import. Then `python -X importtime` of each command: the
biggest modules by cumulative import time.

    python bench/startup.py [--runs 10] [--python PYTHON] [--tracker "PYTHON -m tracker"]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchutil import describe_setup

TARGET = 2.0
COMMANDS = (
    ("tracker --help", ["--help"]),
    ("tracker events --json --limit 5", ["events", "--json", "--limit", "5"]),
    ("tracker sources list", ["sources", "list"]),
)
# Modules worth naming when a command imports them (the rest appear only in the top list).
WATCHED = (
    "typer",
    "click",
    "rich",
    "pydantic",
    "pydantic_settings",
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "httpx",
    "psycopg",
    "huggingface_hub",
    "apprise",
    "jinja2",
    "feedparser",
    "pypdf",
    "tracker.models",
    "tracker.db",
    "tracker.config",
)


def seed(home: Path, python: str) -> None:
    """A database with a few sources and events, written by the tracker's own code."""
    script = """
import sys
from datetime import UTC, datetime, timedelta
from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.config import Settings
from tracker.db import Database
from tracker.models import Event

db = Database(Settings(home=sys.argv[1]))
now = datetime.now(UTC)
with db.session() as session:
    ids = []
    for n in range(5):
        spec = SourceSpec("feed", f"https://lab{n}.example/feed.xml", f"Lab {n}", 3600)
        ids.append(catalog.add(session, spec).id)
    ids.append(catalog.add(session, SourceSpec("hub", "some-org", None, 900, types="model")).id)
    for n in range(40):
        session.add(Event(
            key=f"bench-{n}", kind="post.published", severity="info", source_id=ids[n % 5],
            subject=f"https://lab{n % 5}.example/post/{n}", title=f"Post {n}",
            url=f"https://lab{n % 5}.example/post/{n}", detected_at=now - timedelta(hours=n),
            data={"entry": n},
        ))
    session.add(Event(
        key="bench-gated", kind="access.gated", severity="warning", source_id=ids[5],
        subject="some-org/model", title="some-org/model is now gated",
        before={"gated": False}, after={"gated": "manual"}, data={},
    ))
db.dispose()
"""
    subprocess.run([python, "-c", script, str(home)], check=True)


def child_cpu(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """CPU seconds (user + sys) and wall seconds of one run of argv."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode() if process.stderr else ""
    if process.stderr:
        process.stderr.close()
    if process.returncode != 0:
        raise SystemExit(f"{shlex.join(argv)} failed ({process.returncode}): {error.strip()}")
    return usage.ru_utime + usage.ru_stime, wall


def import_profile(
    python: str, args: list[str], env: dict[str, str]
) -> tuple[dict[str, int], dict[str, int], int]:
    """From `-X importtime` of the command: the cumulative µs of each module, of each
    top-level package (its entries not imported by the package itself: what importing it
    cost, the dependencies it pulled in first included), and of all imports."""
    code = "import sys; from tracker.cli import run; sys.argv[0] = 'tracker'; run()"
    found = subprocess.run(
        [python, "-X", "importtime", "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
    )
    lines: list[tuple[str, int, int]] = []
    for line in found.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)", line)
        if match:
            lines.append((match.group(3), len(match.group(2)) // 2, int(match.group(1))))
    modules: dict[str, int] = {}
    packages: dict[str, int] = {}
    total = 0
    # A module is listed after what it imported, one level less indented: read backwards,
    # the last line seen at depth d - 1 is the importer of a line at depth d.
    importers: list[str] = []
    for name, depth, spent in reversed(lines):
        modules[name] = max(modules.get(name, 0), spent)
        del importers[depth:]
        package = name.split(".")[0]
        importer = importers[depth - 1].split(".")[0] if depth else None
        if importer != package:
            packages[package] = packages.get(package, 0) + spent
        if depth == 0:
            total += spent
        importers.append(name)
    return modules, packages, total


def _median(runs: list[dict[str, int]]) -> dict[str, int]:
    """Per name, the median over the runs that imported it (present in most runs)."""
    names = {name for run in runs for name in run}
    return {
        name: int(statistics.median(run[name] for run in runs if name in run))
        for name in names
        if sum(name in run for run in runs) * 2 > len(runs)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="Runs of each command.")
    parser.add_argument(
        "--python", default=sys.executable, help="The Python of the httpx import and importtime."
    )
    parser.add_argument(
        "--tracker",
        default=None,
        help="The tracker command (default: PYTHON -m tracker, the code of this checkout).",
    )
    parser.add_argument("--top", type=int, default=8, help="Modules listed per command.")
    parser.add_argument(
        "--profiles", type=int, default=3, help="-X importtime runs per command (medians)."
    )
    options = parser.parse_args()
    tracker = shlex.split(options.tracker) if options.tracker else [options.python, "-m", "tracker"]

    print(describe_setup())
    with tempfile.TemporaryDirectory(prefix="tracker-startup-") as tmp:
        home = Path(tmp) / "home"
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("TRACKER_")}
        env["TRACKER_HOME"] = str(home)
        seed(home, options.python)
        workdir = Path(tmp) / "cwd"  # no .env file in the way
        workdir.mkdir()
        os.chdir(workdir)

        contenders = [('python -c "import httpx"', [options.python, "-c", "import httpx"])]
        contenders += [(label, [*tracker, *args]) for label, args in COMMANDS]
        for _label, argv in contenders:  # warm the caches (and the .pyc files)
            child_cpu(argv, env)
        cpu: dict[str, list[float]] = {label: [] for label, _ in contenders}
        wall: dict[str, list[float]] = {label: [] for label, _ in contenders}
        for _ in range(options.runs):
            for label, argv in contenders:
                used, took = child_cpu(argv, env)
                cpu[label].append(used)
                wall[label].append(took)

        base = statistics.median(cpu[contenders[0][0]])
        print(f"{options.runs} runs each, alternating; median CPU (user+sys) and wall per run")
        print(f"{'command':<36} {'CPU s':>7} {'wall s':>7} {'CPU ratio':>10}  target")
        for label, _argv in contenders:
            used = statistics.median(cpu[label])
            took = statistics.median(wall[label])
            ratio = used / base
            verdict = "" if label == contenders[0][0] else ("PASS" if ratio <= TARGET else "MISS")
            goal = "" if not verdict else f"≤ {TARGET:g}x {verdict}"
            print(f"{label:<36} {used:7.3f} {took:7.3f} {ratio:9.2f}x  {goal}")

        print()
        print(
            f"-X importtime, cumulative ms, median of {options.profiles} runs "
            f"(top {options.top} packages, then the watched ones)"
        )
        for label, args in COMMANDS:
            runs = [import_profile(options.python, args, env) for _ in range(options.profiles)]
            modules = _median([run[0] for run in runs])
            packages = _median([run[1] for run in runs])
            total = statistics.median(run[2] for run in runs)
            tops = sorted(
                ((us, name) for name, us in packages.items() if name != "tracker"), reverse=True
            )[: options.top]
            print(f"{label}: {len(modules)} modules, {total / 1000:.0f} ms of imports")
            print("  top:     " + ", ".join(f"{name} {us / 1000:.0f}" for us, name in tops))
            seen = {name: packages.get(name, modules.get(name)) for name in WATCHED}
            watched = [f"{name} {us / 1000:.0f}" for name, us in seen.items() if us is not None]
            absent = [name for name, us in seen.items() if us is None]
            print("  watched: " + (", ".join(watched) or "none"))
            print("  absent:  " + (", ".join(absent) or "none"))


if __name__ == "__main__":
    main()
