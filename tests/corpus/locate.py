"""Where the corpus of real recordings is, for the corpus layer of the tests.

The corpus (recorded feeds, Hub answers, labelled sentences and licence texts; each folder's
README says where every file comes from) is kept beside the project, in `../shared/corpus`
relative to the repository root, never inside it. `TRACKER_TEST_CORPUS` points elsewhere.
Without it the corpus tests skip with one line, so a clone passes its tests on its own;
`TRACKER_TEST_REQUIRE_CORPUS=1` (set by .ci/run) makes them fail instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT.parent / "shared" / "corpus"
OVERRIDE = os.environ.get("TRACKER_TEST_CORPUS")
REQUIRED = os.environ.get("TRACKER_TEST_REQUIRE_CORPUS") == "1"
PARTS = ("feeds", "hub", "disclosure", "licenses")

SKIP_REASON = "corpus tests need ../shared/corpus (real recordings); absent here"


def _locate() -> Path | None:
    path = Path(OVERRIDE).expanduser() if OVERRIDE else DEFAULT
    return path.resolve() if path.is_dir() else None


CORPUS = _locate()


def problem() -> str | None:
    """Why the corpus tests cannot run here, or None when they can."""
    if OVERRIDE and CORPUS is None:
        return f"TRACKER_TEST_CORPUS={OVERRIDE} is not a folder"
    if CORPUS is None:
        return SKIP_REASON
    missing = [part for part in PARTS if not (CORPUS / part).is_dir()]
    if missing:
        return f"the corpus at {CORPUS} lacks {', '.join(f'{m}/' for m in missing)}"
    return None


def files(name: str, pattern: str) -> list[Any]:
    """Parameters for a test run once per matching file of a corpus folder.

    Without a corpus there is one placeholder, so the test is collected and then skipped by
    the corpus fixture with the same one line as the others (an empty parameter list would
    skip with pytest's own message instead).
    """
    found = sorted((CORPUS / name).glob(pattern)) if CORPUS is not None else []
    if not found:
        return [pytest.param(None, id="no-corpus" if CORPUS is None else f"no-{pattern}")]
    return [pytest.param(path, id=path.name) for path in found]
