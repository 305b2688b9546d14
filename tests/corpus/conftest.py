"""The corpus layer: every test here runs the tracker's real code over real recordings.

Every test uses `corpus` (automatically), which skips, with one line for all of them, when
the corpus is absent, and fails instead when `TRACKER_TEST_REQUIRE_CORPUS=1`, as in CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from . import locate


@pytest.fixture(scope="session")
def _corpus_root() -> Path:
    reason = locate.problem()
    if reason == locate.SKIP_REASON and not locate.REQUIRED:
        pytest.skip(reason)
    if reason is not None:
        required = " (TRACKER_TEST_REQUIRE_CORPUS=1)" if locate.REQUIRED else ""
        pytest.fail(reason + required, pytrace=False)
    assert locate.CORPUS is not None
    return locate.CORPUS


@pytest.fixture(autouse=True)
def corpus(_corpus_root: Path) -> Path:
    """The corpus folder; every corpus test needs it, so every one uses it."""
    return _corpus_root
