"""The README's path, run as a new user would: the real `tracker` command in a fresh home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import FIXTURES
from .sites import Site


def tracker(
    home: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    environment |= {"TRACKER_HOME": str(home), "TRACKER_ALLOW_PRIVATE_NETWORKS": "true"}
    environment |= env or {}
    if cwd is not None:
        # `python -m tracker` from another folder still imports this checkout.
        environment["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return subprocess.run(
        [sys.executable, "-m", "tracker", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_readme_local_feed_walkthrough(tmp_path: Path, site: Site) -> None:
    home = tmp_path / "new-user"
    feeds = FIXTURES / "feeds"
    url = site.put("/feed.xml", (feeds / "rss_lab_blog.xml").read_bytes())

    added = tracker(home, "sources", "add", "feed", url)
    baseline = tracker(home, "poll")
    site.put("/feed.xml", (feeds / "rss_lab_news.xml").read_bytes())
    second = tracker(home, "poll")
    listed = tracker(home, "events", "--kind", "post.published", "--json")

    assert added.returncode == 0, added.stderr
    assert "1 new event" in baseline.stdout
    assert "20 new events" in second.stdout
    events = json.loads(listed.stdout)
    assert len(events) == 20
    assert {e["subject"] for e in events} >= {"https://aurora-labs.example/news/guardrail/"}
    assert (home / "tracker.db").exists()


def test_bad_input_is_one_line_without_traceback(tmp_path: Path) -> None:
    result = tracker(tmp_path / "home", "sources", "add", "feed", "not-a-url")

    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
