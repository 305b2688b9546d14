"""The 300-feed OPML import against reading and validating the file alone.

    python bench/opml_import.py [--feeds 300] [--rounds 7] [--lookup-ms 50]
                                [--tree PATH/TO/ANOTHER/CHECKOUT]

Writes an OPML file of `--feeds` feeds, each on a host of its own, nested in categories as
a feed reader exports them (names and words made up here). Each round runs, one after the
other, each contender as a child process of this interpreter, in a temp dir of its own:

- validate: the project's own parse and checks, no network and no database:
  `watchlist.read` and `catalog.checked` for every feed (what the import runs first);
- import: `tracker sources import FILE` on a fresh TRACKER_HOME (SQLite), with
  TRACKER_ALLOW_PRIVATE_NETWORKS=true, so no host is looked up: the import's own work;
- import, lookups: the same on another fresh home with the guard on (the default), each
  host looked up by a stand-in resolver that answers after `--lookup-ms` (see below);
- re-import: the same file again on that home, guard and stand-in still on: nothing is new.

The stand-in resolver: a `sitecustomize.py` put first on the children's PYTHONPATH replaces
`socket.getaddrinfo` for the file's host names (under `.opml-bench.test`) with a sleep of
`--lookup-ms` and a public address (nothing ever connects to it: an import does not fetch),
and appends one line per lookup to a file, so each run's lookups are counted. It stands in
for a slow DNS server; a loopback DNS server would measure the same wait. Other names go to
the real resolver (none are asked).

Wall time is the child's whole life (interpreter start, imports, database creation
included); CPU is user+sys of the child and what it waited for (os.wait4). Times are
medians over the rounds; a ratio is the median of the rounds' ratios against the validate
run of the same round (the machine is shared: load comes and goes within a run); PASS/MISS
against 2x, on wall time. "lookup phase alone" times `check_hosts` of the file's hosts in a
child (the stand-in's wait, without start-up), to show what slow lookups add. `--tree`
also runs the import contenders from another checkout (e.g. the code before a change) in
the same rounds, by putting it first on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import quoteattr

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from benchutil import describe_setup  # noqa: E402

ROOT = BENCH.parent
DOMAIN = "opml-bench.test"
TARGET = 2.0

CATEGORIES = ("Model labs", "Research groups", "Policy and law", "Tools", "Data sets", "Misc")
FIRST = ("Quarry", "Lantern", "Basalt", "Heron", "Juniper", "Copper", "Meadow", "Saltmarsh")
SECOND = ("Notes", "Dispatch", "Journal", "Field log", "Bulletin", "Weekly", "Digest")

VALIDATE = """\
import sys
from pathlib import Path
from tracker import catalog, watchlist
from tracker.config import Settings
settings = Settings(allow_private_networks=True)
specs = [catalog.checked(spec, settings) for spec in watchlist.read(Path(sys.argv[1]))]
print(f"{len(specs)} feeds valid")
"""

LOOKUP_PHASE = """\
import sys, time
from pathlib import Path
from tracker import catalog, importing, watchlist
from tracker.config import Settings
settings = Settings(allow_private_networks=True)
specs = [catalog.checked(spec, settings) for spec in watchlist.read(Path(sys.argv[1]))]
hosts = importing._hosts(specs)
started = time.perf_counter()
importing.check_hosts(hosts)
print(f"{time.perf_counter() - started:.4f} {len(hosts)} {importing.LOOKUPS_AT_ONCE}")
"""

STAND_IN = """\
# Written by bench/opml_import.py: a slow resolver for the benchmark's host names only.
import os
import socket
import time

_real = socket.getaddrinfo
_delay = float(os.environ.get("OPML_BENCH_LOOKUP_MS", "0")) / 1000
_log = os.environ.get("OPML_BENCH_LOOKUP_LOG")


def _slow(host, port, family=0, type=0, proto=0, flags=0):
    name = host.decode() if isinstance(host, bytes) else str(host or "")
    if not name.endswith(".{domain}"):
        return _real(host, port, family, type, proto, flags)
    time.sleep(_delay)
    if _log:
        with open(_log, "a") as log:
            log.write(name + "\\n")
    number = int(port) if str(port).isdigit() else 443
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("9.9.9.9", number))]


socket.getaddrinfo = _slow
"""


@dataclass
class Contender:
    name: str
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    lookups: list[int] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)


def write_opml(path: Path, feeds: int) -> None:
    """`feeds` feeds, one host each, in categories (one level nested, as readers do)."""
    groups: dict[str, list[str]] = {c: [] for c in CATEGORIES}
    for n in range(feeds):
        title = f"{FIRST[n % len(FIRST)]} {SECOND[n % len(SECOND)]} {n}"
        scheme = "https" if n % 3 else "http"
        path_part = ("feed.xml", "rss", "atom.xml", "index.xml")[n % 4]
        url = f"{scheme}://blog{n:04d}.{DOMAIN}/{path_part}"
        groups[CATEGORIES[n % len(CATEGORIES)]].append(
            f'      <outline type="rss" text={quoteattr(title)} title={quoteattr(title)} '
            f"xmlUrl={quoteattr(url)} htmlUrl={quoteattr(url.rsplit('/', 1)[0] + '/')}/>"
        )
    body = "\n".join(
        f"    <outline text={quoteattr(c)} title={quoteattr(c)}>\n"
        + "\n".join(lines)
        + "\n    </outline>"
        for c, lines in groups.items()
        if lines
    )
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n'
        "  <head><title>Subscriptions</title></head>\n  <body>\n"
        f"{body}\n  </body>\n</opml>\n",
        encoding="utf-8",
    )


def spawn(
    command: list[str], *, env: dict[str, str], cwd: Path, log: Path
) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user+sys of the child and what it waited for), lookups the
    stand-in resolver answered, and stdout; exits if the child failed."""
    log.write_text("")
    started = time.perf_counter()
    out_path, err_path = cwd / "stdout", cwd / "stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        _pid, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(
            f"{' '.join(command)} failed ({process.returncode}): {err_path.read_text()}"
        )
    return (
        wall,
        usage.ru_utime + usage.ru_stime,
        len(log.read_text().splitlines()),
        out_path.read_text(),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--lookup-ms", type=float, default=50.0)
    parser.add_argument(
        "--tree", type=Path, help="another checkout whose import is measured beside (optional)"
    )
    args = parser.parse_args()

    print(describe_setup())
    with tempfile.TemporaryDirectory(prefix="opml-bench-") as tmp:
        work = Path(tmp)
        opml = work / "subscriptions.opml"
        write_opml(opml, args.feeds)
        hook = work / "hook"
        hook.mkdir()
        (hook / "sitecustomize.py").write_text(STAND_IN.replace("{domain}", DOMAIN))
        log = work / "lookups.log"
        trees = [("", ROOT)] + ([(f" [{args.tree}]", args.tree.resolve())] if args.tree else [])
        print(
            f"{args.feeds} feeds on {args.feeds} hosts ({opml.stat().st_size:,} bytes), "
            f"{args.rounds} rounds, stand-in lookups {args.lookup_ms:g} ms each"
        )

        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKER_", "HF_"))}
        base_env.update(OPML_BENCH_LOOKUP_MS=str(args.lookup_ms), OPML_BENCH_LOOKUP_LOG=str(log))

        def env_for(tree: Path, home: Path | None, guard: bool) -> dict[str, str]:
            env = dict(base_env, PYTHONPATH=os.pathsep.join([str(hook), str(tree)]))
            env["TRACKER_ALLOW_PRIVATE_NETWORKS"] = "false" if guard else "true"
            if home is not None:
                env["TRACKER_HOME"] = str(home)
            return env

        contenders: dict[str, Contender] = {}

        def measure(name: str, command: list[str], env: dict[str, str]) -> None:
            cwd = work / "cwd"
            cwd.mkdir(exist_ok=True)
            wall, cpu, lookups, out = spawn(command, env=env, cwd=cwd, log=log)
            contender = contenders.setdefault(name, Contender(name))
            contender.walls.append(wall)
            contender.cpus.append(cpu)
            contender.lookups.append(lookups)
            contender.outputs.append(out.strip())

        tracker = [sys.executable, "-m", "tracker", "sources", "import", str(opml), "--json"]
        for round_no in range(args.rounds):
            measure(
                "validate (no network, no database)",
                [sys.executable, "-c", VALIDATE, str(opml)],
                env_for(ROOT, None, guard=False),
            )
            for suffix, tree in trees:
                homes = work / f"homes{round_no}{len(suffix)}"
                plain, guarded = homes / "plain", homes / "guarded"
                measure(f"import, no lookups{suffix}", tracker, env_for(tree, plain, False))
                measure(f"import, lookups{suffix}", tracker, env_for(tree, guarded, True))
                measure(f"re-import, nothing new{suffix}", tracker, env_for(tree, guarded, True))
                measure(
                    f"lookup phase alone{suffix}",
                    [sys.executable, "-c", LOOKUP_PHASE, str(opml)],
                    env_for(tree, None, True),
                )
                shutil.rmtree(homes)

        check_outputs(contenders, args.feeds)
        report(contenders, args)


def check_outputs(contenders: dict[str, Contender], feeds: int) -> None:
    """Every run did what it says: all feeds added, or all already watched."""
    for contender in contenders.values():
        for out in contender.outputs:
            if contender.name.startswith("validate"):
                assert out == f"{feeds} feeds valid", out
                continue
            if contender.name.startswith("lookup phase"):
                assert out.split()[1] == str(feeds), out
                continue
            outcome = json.loads(out)
            if contender.name.startswith("re-import"):
                assert not outcome["added"] and len(outcome["existing"]) == feeds, contender.name
            else:
                assert len(outcome["added"]) == feeds and not outcome["existing"], contender.name


def report(contenders: dict[str, Contender], args: argparse.Namespace) -> None:
    """Ratios are the medians of each round's ratio (a contender against the validate run
    of the same round), so that a burst of load on a shared machine hits both sides."""
    base = next(iter(contenders.values()))

    def paired(mine: list[float], theirs: list[float]) -> float:
        return statistics.median(m / t for m, t in zip(mine, theirs, strict=True))

    print()
    print(
        "| contender | wall (median) | CPU (median) | wall / validate | CPU / validate "
        "| lookups | 2x (wall) |"
    )
    print("|---|---|---|---|---|---|---|")
    for c in contenders.values():
        if c.name.startswith("lookup phase"):
            continue
        wall_ratio, cpu_ratio = paired(c.walls, base.walls), paired(c.cpus, base.cpus)
        verdict = "" if c is base else ("PASS" if wall_ratio <= TARGET else "MISS")
        lookups = "/".join(str(n) for n in sorted(set(c.lookups)))
        print(
            f"| {c.name} | {c.wall:.3f} s | {c.cpu:.3f} s | {wall_ratio:.2f}x | "
            f"{cpu_ratio:.2f}x | {lookups} | {verdict} |"
        )
    print()
    for c in contenders.values():
        if c.name.startswith("lookup phase"):
            phases = [float(out.split()[0]) for out in c.outputs]
            hosts, at_once = c.outputs[0].split()[1:]
            print(
                f"{c.name}: check_hosts of {hosts} hosts, {at_once} at once, stand-in "
                f"{args.lookup_ms:g} ms: {statistics.median(phases):.3f} s wall (median), "
                f"{min(phases):.3f} s best; {sorted(set(c.lookups))} lookups"
            )
    print()
    print("rounds (wall s):")
    for c in contenders.values():
        print(f"  {c.name}: " + ", ".join(f"{w:.3f}" for w in c.walls))
    print(f"load after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
