"""Whether the corpus layer runs here: the one test collected when the corpus is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import locate


@pytest.fixture
def corpus() -> None:
    """This test checks for the corpus itself (overrides the layer's fixture)."""


def test_the_corpus_is_here(corpus: None) -> None:
    reason = locate.problem()
    if reason == locate.SKIP_REASON and not locate.REQUIRED:
        pytest.skip(reason)
    assert reason is None, f"{reason} (TRACKER_TEST_REQUIRE_CORPUS=1)"
    assert locate.CORPUS is not None
    assert all(Path(locate.CORPUS, part).is_dir() for part in locate.PARTS)
