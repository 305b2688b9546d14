"""The shape of the code is part of its design: the fetch side never imports detection, the
store never imports the source kinds, and every entry point polls through one service."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FETCH_SIDE = [
    *sorted((ROOT / "tracker" / "sources").glob("*.py")),
    ROOT / "tracker" / "http.py",
    ROOT / "tracker" / "clients.py",
    ROOT / "tracker" / "feedparse.py",
    ROOT / "tracker" / "deadlines.py",
    ROOT / "tracker" / "decoding.py",
]
ENTRY_POINTS = {
    "tracker/cli/poll.py": "PollService",
    "tracker/web/api.py": "PollsDep",
    "tracker/web/pages.py": "PollsDep",
    "tracker/web/hooks.py": "PollsDep",
    "tracker/embedded.py": "PollService",
    "workers/tasks.py": "PollService",
}


def imported(path: Path) -> set[str]:
    """Every module a file imports (at any depth of the file)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


@pytest.mark.parametrize("path", FETCH_SIDE, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_fetch_side_never_imports_detection(path: Path) -> None:
    forbidden = {
        name
        for name in imported(path)
        if name.startswith(("tracker.detect", "tracker.kinds", "tracker.store"))
    }
    assert forbidden == set()


def test_the_store_never_imports_the_source_kinds_or_calls_detection() -> None:
    names = imported(ROOT / "tracker" / "store.py")
    assert not {n for n in names if n.startswith(("tracker.sources", "tracker.kinds"))}
    source = (ROOT / "tracker" / "store.py").read_text(encoding="utf-8")
    assert ".detect(" not in source


def test_detection_imports_nothing_that_does_io() -> None:
    for path in sorted((ROOT / "tracker" / "detect").glob("*.py")):
        names = imported(path)
        io = {
            n
            for n in names
            if n.startswith(("tracker.http", "tracker.db", "tracker.store", "tracker.sources"))
            or n.split(".")[0] in ("httpx", "sqlalchemy", "sqlmodel", "huggingface_hub")
        }
        assert io == set(), path.name


@pytest.mark.parametrize(("path", "service"), sorted(ENTRY_POINTS.items()))
def test_every_entry_point_polls_through_the_service(path: str, service: str) -> None:
    text = (ROOT / path).read_text(encoding="utf-8")
    assert service in text
    # Nobody polls or sends on their own any more.
    assert "poll_sources(" not in text
    assert "deliver_due(db)" not in text


def test_each_kind_declares_its_fetch_and_detection_side_by_side() -> None:
    from tracker.kinds import NAMES, kind_of

    for name in NAMES:
        kind = kind_of(name)
        assert kind.name == name
        assert kind.fetch.__module__ == kind.detect.__module__ == f"tracker.kinds.{name}"
