"""The corpus layer: every test here runs the tracker's real code over real recordings.

Without the corpus only `test_presence.py` is collected: its one test skips, which prints one
line for the whole layer, or fails when `TRACKER_TEST_REQUIRE_CORPUS=1`, as in CI. With a
corpus every test uses `corpus` (automatically), which fails if the corpus is incomplete.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import locate

if locate.CORPUS is None and not locate.OVERRIDE:
    collect_ignore = [
        path.name for path in Path(__file__).parent.glob("test_*.py")
        if path.name != "test_presence.py"
    ]  # fmt: skip


@pytest.fixture(autouse=True)
def corpus() -> Path:
    """The corpus folder; every corpus test needs it, so every one uses it."""
    reason = locate.problem()
    if reason is not None:
        pytest.fail(reason, pytrace=False)
    assert locate.CORPUS is not None
    return locate.CORPUS
