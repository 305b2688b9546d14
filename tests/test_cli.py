"""The `tracker` command line against the public contract: output shapes, exit codes, errors."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from .contract import EVENT_KEYS, SOURCE_KEYS, UTC_ISO
from .feeds import rss
from .sites import Site

ON_POSTGRES = bool(os.environ.get("TRACKER_TEST_DATABASE_URL"))

FEED_A = "https://a.example/feed.xml"
FEED_B = "https://b.example/feed.xml"


# --- helpers ---------------------------------------------------------------------------


def ok_json(result):
    """The single JSON document a successful `--json` command printed."""
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def assert_usage_error(result) -> str:
    """Exit 2, exactly one non-empty line on stderr, no traceback anywhere; the line."""
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].strip()
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


def stored(cli) -> list[dict]:
    return ok_json(cli("sources", "list", "--json"))


def add_feed(cli, url: str, *options: str) -> dict:
    return ok_json(cli("sources", "add", "feed", url, *options, "--json"))


def events(cli, *options: str) -> list[dict]:
    return ok_json(cli("events", "--json", *options))


def seeded(cli) -> list[dict]:
    """Two stored sources that a failing command must leave alone."""
    add_feed(cli, FEED_A, "--name", "A")
    add_feed(cli, FEED_B)
    return stored(cli)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def essentials(sources: list[dict]) -> list[tuple]:
    return [(s["kind"], s["target"], s["name"], s["every_seconds"]) for s in sources]


def polled_feed(cli, site: Site) -> int:
    """A feed source over `site`, baselined with one entry."""
    source_id = add_feed(cli, site.put("/feed.xml", rss(("a", "Alpha"))))["id"]
    assert cli("poll").code == 0
    return source_id


# --- sources add -----------------------------------------------------------------------


def test_add_feed_json_has_contract_keys(cli) -> None:
    result = cli("sources", "add", "feed", FEED_A, "--json")

    source = ok_json(result)
    assert set(source) >= SOURCE_KEYS
    assert source["kind"] == "feed"
    assert source["target"] == FEED_A
    assert isinstance(source["id"], int)
    assert source["enabled"] is True
    assert source["last_polled_at"] is None
    assert source["last_error"] is None
    assert source["consecutive_failures"] == 0
    assert isinstance(source["every_seconds"], int) and source["every_seconds"] > 0


def test_add_feed_every_and_name(cli) -> None:
    source = add_feed(cli, FEED_A, "--every", "1h", "--name", "Lab A")

    assert source["every_seconds"] == 3600
    assert source["name"] == "Lab A"
    assert essentials(stored(cli)) == [("feed", FEED_A, "Lab A", 3600)]


def test_add_feed_without_json_prints_text(cli) -> None:
    result = cli("sources", "add", "feed", FEED_A)

    assert result.code == 0
    assert FEED_A in result.stdout
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)


def test_adding_same_feed_twice_is_refused(cli) -> None:
    before = seeded(cli)

    result = cli("sources", "add", "feed", FEED_A, "--json")

    assert_usage_error(result)
    assert result.stdout == ""
    assert stored(cli) == before


# --- bad input: exit 2, one line, nothing lost -------------------------------------------


@pytest.mark.parametrize("url", ["ftp://x", "not a url", "http://", "http:///feed.xml"])
def test_add_feed_with_invalid_url_is_refused(cli, url: str) -> None:
    before = seeded(cli)

    assert_usage_error(cli("sources", "add", "feed", url))
    assert stored(cli) == before


@pytest.mark.parametrize("every", ["soon", "0m", "15", "10s"])
def test_add_feed_with_bad_every_is_refused(cli, every: str) -> None:
    before = seeded(cli)

    assert_usage_error(
        cli("sources", "add", "feed", "https://c.example/feed.xml", "--every", every)
    )
    assert stored(cli) == before


def test_unknown_option_is_refused(cli) -> None:
    before = seeded(cli)

    line = assert_usage_error(cli("sources", "add", "feed", "https://c.example/", "--bogus"))
    assert "--bogus" in line
    assert stored(cli) == before


def test_remove_unknown_id_is_refused(cli) -> None:
    before = seeded(cli)

    line = assert_usage_error(cli("sources", "remove", "999"))
    assert "999" in line
    assert stored(cli) == before


def test_remove_non_numeric_id_is_refused(cli) -> None:
    before = seeded(cli)

    assert_usage_error(cli("sources", "remove", "abc"))
    assert stored(cli) == before


@pytest.mark.parametrize(
    "options",
    [
        ("--since", "yesterdayish"),
        ("--kind", "nonsense.kind"),
        ("--kind", "nonsense.*"),
        ("--limit", "0"),
        ("--limit", "-1"),
        ("--source", "abc"),
    ],
)
def test_events_with_bad_filter_is_refused(cli, options: tuple[str, ...]) -> None:
    before = seeded(cli)

    result = cli("events", "--json", *options)

    assert_usage_error(result)
    assert result.stdout == ""
    assert stored(cli) == before


def test_import_missing_file_is_refused(cli, tmp_path: Path) -> None:
    before = seeded(cli)

    assert_usage_error(cli("sources", "import", str(tmp_path / "missing.toml")))
    assert stored(cli) == before


def test_import_toml_with_unknown_key_is_refused(cli, tmp_path: Path) -> None:
    before = seeded(cli)
    path = write(
        tmp_path,
        "list.toml",
        '[[sources]]\nkind = "feed"\ntarget = "https://c.example/feed.xml"\n\n'
        '[[sources]]\nkind = "feed"\ntarget = "https://d.example/feed.xml"\ncolour = "red"\n',
    )

    line = assert_usage_error(cli("sources", "import", str(path)))
    assert "colour" in line
    # Nothing of the file is stored, not even its valid first source.
    assert stored(cli) == before


def test_import_malformed_toml_is_refused(cli, tmp_path: Path) -> None:
    before = seeded(cli)
    path = write(tmp_path, "list.toml", '[[sources]]\nkind = "feed\ntarget = \n')

    assert_usage_error(cli("sources", "import", str(path)))
    assert stored(cli) == before


def test_import_toml_with_bad_source_stores_nothing(cli, tmp_path: Path) -> None:
    before = seeded(cli)
    path = write(
        tmp_path,
        "list.toml",
        '[[sources]]\nkind = "feed"\ntarget = "https://c.example/feed.xml"\n\n'
        '[[sources]]\nkind = "feed"\ntarget = "ftp://d.example/feed.xml"\n',
    )

    assert_usage_error(cli("sources", "import", str(path)))
    assert stored(cli) == before


@pytest.mark.parametrize(
    "text",
    [
        '<?xml version="1.0"?>\n<opml version="2.0"><body><outline xmlUrl="https://c.example/"',
        "<opml><body><outline text='x' xmlUrl='https://c.example/'></body></opml>",
    ],
)
def test_import_opml_that_is_not_xml_is_refused(cli, tmp_path: Path, text: str) -> None:
    before = seeded(cli)
    path = write(tmp_path, "feeds.opml", text)

    assert_usage_error(cli("sources", "import", str(path)))
    assert stored(cli) == before


def test_export_unknown_format_is_refused(cli) -> None:
    before = seeded(cli)

    result = cli("sources", "export", "--format", "yaml")

    line = assert_usage_error(result)
    assert "yaml" in line
    assert result.stdout == ""
    assert stored(cli) == before


# --- private-network guard -------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed.xml",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest",
        "http://[::1]/x",
        "http://[fd00::1]/x",
        "http://localhost/x",
    ],
)
def test_private_address_is_refused_unless_allowed(
    cli, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    before = seeded(cli)
    # The cli fixture allowed private networks; the test body runs after it.
    monkeypatch.setenv("TRACKER_ALLOW_PRIVATE_NETWORKS", "false")

    line = assert_usage_error(cli("sources", "add", "feed", url, "--json"))
    assert "TRACKER_ALLOW_PRIVATE_NETWORKS" in line
    assert stored(cli) == before


def test_private_address_in_import_is_refused_unless_allowed(
    cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = seeded(cli)
    monkeypatch.setenv("TRACKER_ALLOW_PRIVATE_NETWORKS", "false")
    path = write(
        tmp_path, "list.toml", '[[sources]]\nkind = "feed"\ntarget = "http://127.0.0.1/x"\n'
    )

    line = assert_usage_error(cli("sources", "import", str(path)))
    assert "TRACKER_ALLOW_PRIVATE_NETWORKS" in line
    assert stored(cli) == before


def test_private_address_is_refused_at_poll_time_unless_allowed(
    cli, monkeypatch: pytest.MonkeyPatch, site: Site
) -> None:
    source_id = add_feed(cli, site.put("/feed.xml", rss(("a", "Alpha"))))["id"]
    monkeypatch.setenv("TRACKER_ALLOW_PRIVATE_NETWORKS", "false")

    report = ok_json(cli("poll", "--json"))

    assert (report["ok"], report["failed"]) == (0, 1)
    (outcome,) = report["results"]
    assert outcome["source_id"] == source_id
    assert "TRACKER_ALLOW_PRIVATE_NETWORKS" in outcome["error"]
    assert site.hits_for("/feed.xml") == []
    assert events(cli) == []


def test_private_address_is_accepted_when_allowed(cli) -> None:
    source = add_feed(cli, "http://127.0.0.1/feed.xml")

    assert source["target"] == "http://127.0.0.1/feed.xml"


# --- sources list / remove -------------------------------------------------------------


def test_list_json_is_in_id_order(cli) -> None:
    ids = [add_feed(cli, f"https://{host}.example/feed.xml")["id"] for host in "zyx"]

    listed = stored(cli)

    assert [s["id"] for s in listed] == sorted(ids) == ids
    assert [s["target"] for s in listed] == [f"https://{h}.example/feed.xml" for h in "zyx"]
    for source in listed:
        assert set(source) >= SOURCE_KEYS


def test_list_json_when_empty_is_an_empty_list(cli) -> None:
    assert stored(cli) == []


def test_remove_removes_only_that_source(cli) -> None:
    first, second, third = (add_feed(cli, f"https://{h}.example/")["id"] for h in "abc")

    result = cli("sources", "remove", str(second))

    assert result.code == 0, result.stderr
    assert [s["id"] for s in stored(cli)] == [first, third]


def test_removed_source_keeps_its_events(cli, site: Site) -> None:
    source_id = polled_feed(cli, site)
    kept = events(cli, "--source", str(source_id))
    assert [e["kind"] for e in kept] == ["source.baselined"]

    assert cli("sources", "remove", str(source_id)).code == 0

    assert stored(cli) == []
    assert events(cli, "--source", str(source_id)) == kept


# --- poll and events -------------------------------------------------------------------


def test_first_poll_gives_only_baselined(cli, site: Site) -> None:
    source_id = add_feed(cli, site.put("/feed.xml", rss(("a", "Alpha"), ("b", "Beta"))))["id"]

    result = cli("poll")

    assert result.code == 0, result.stderr
    found = events(cli)
    assert [(e["kind"], e["source_id"]) for e in found] == [("source.baselined", source_id)]


def test_new_entry_after_baseline_is_post_published(cli, site: Site) -> None:
    source_id = polled_feed(cli, site)
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")))

    assert cli("poll").code == 0

    newest = events(cli)[0]
    assert set(newest) == EVENT_KEYS
    assert newest["kind"] == "post.published"
    assert newest["severity"] == "notice"
    assert newest["source_id"] == source_id
    assert newest["subject"] == "https://lab.example/posts/b"
    assert newest["url"] == "https://lab.example/posts/b"
    assert newest["title"] == "Beta"
    assert newest["before"] is None
    assert newest["after"] == {"title": "Beta", "url": "https://lab.example/posts/b"}
    assert isinstance(newest["data"], dict)
    assert newest["published_at"] == "2026-11-23T10:00:00+00:00"


def test_event_times_are_iso_with_utc_offset(cli, site: Site) -> None:
    polled_feed(cli, site)
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")))
    cli("poll")

    found = events(cli)

    assert len(found) == 2
    for event in found:
        assert UTC_ISO.match(event["detected_at"]), event["detected_at"]
        moment = datetime.fromisoformat(event["detected_at"])
        assert abs(datetime.now(UTC) - moment) < timedelta(minutes=5)
        if event["published_at"] is not None:
            assert UTC_ISO.match(event["published_at"]), event["published_at"]


def test_source_times_are_iso_with_utc_offset(cli, site: Site) -> None:
    polled_feed(cli, site)

    (source,) = stored(cli)

    assert UTC_ISO.match(source["last_polled_at"]), source["last_polled_at"]


def test_events_are_newest_first(cli, site: Site) -> None:
    polled_feed(cli, site)
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")))
    cli("poll")
    site.put("/feed.xml", rss(("c", "Gamma"), ("b", "Beta"), ("a", "Alpha")))
    cli("poll")

    found = events(cli)

    assert [e["kind"] for e in found] == ["post.published", "post.published", "source.baselined"]
    assert [e["title"] for e in found[:2]] == ["Gamma", "Beta"]
    ids = [e["id"] for e in found]
    assert ids == sorted(ids, reverse=True)
    times = [e["detected_at"] for e in found]
    assert [datetime.fromisoformat(t) for t in times] == sorted(
        (datetime.fromisoformat(t) for t in times), reverse=True
    )


def test_unchanged_second_poll_gives_no_events(cli, site: Site) -> None:
    polled_feed(cli, site)
    before = events(cli)

    report = ok_json(cli("poll", "--json"))

    assert report["events"] == 0
    assert report["event_ids"] == []
    assert events(cli) == before


def test_events_without_json_prints_text(cli, site: Site) -> None:
    polled_feed(cli, site)

    result = cli("events")

    assert result.code == 0
    assert "source.baselined" in result.stdout


def test_events_json_when_empty_is_an_empty_list(cli) -> None:
    assert events(cli) == []


def test_poll_json_is_one_document_with_counts(cli, site: Site) -> None:
    add_feed(cli, site.put("/a.xml", rss(("a", "Alpha"))))
    add_feed(cli, site.put("/b.xml", rss(("b", "Beta"))))

    report = ok_json(cli("poll", "--json"))

    assert report["sources"] == 2
    assert report["ok"] == 2
    assert report["failed"] == 0
    assert report["events"] == 2
    assert len(report["event_ids"]) == 2
    assert {r["ok"] for r in report["results"]} == {True}


def test_poll_json_with_no_sources(cli) -> None:
    report = ok_json(cli("poll", "--json"))

    assert report["sources"] == 0
    assert report["events"] == 0


def test_poll_only_given_source(cli, site: Site) -> None:
    first = add_feed(cli, site.put("/a.xml", rss(("a", "Alpha"))))["id"]
    second = add_feed(cli, site.put("/b.xml", rss(("b", "Beta"))))["id"]

    report = ok_json(cli("poll", "--source", str(second), "--json"))

    assert [r["source_id"] for r in report["results"]] == [second]
    assert [e["source_id"] for e in events(cli)] == [second]
    polled = {s["id"]: s["last_polled_at"] for s in stored(cli)}
    assert polled[first] is None
    assert polled[second] is not None


def test_poll_unknown_source_is_refused(cli) -> None:
    assert_usage_error(cli("poll", "--source", "999"))


def test_failing_source_does_not_fail_poll(cli, site: Site) -> None:
    good = add_feed(cli, site.put("/good.xml", rss(("a", "Alpha"))))["id"]
    broken = add_feed(cli, site.put("/broken.xml", "oops", status=500), "--name", "Broken")["id"]

    report = ok_json(cli("poll", "--json"))

    assert report["sources"] == 2
    assert (report["ok"], report["failed"]) == (1, 1)
    outcome = {r["source_id"]: r for r in report["results"]}
    assert outcome[good]["ok"] is True
    assert outcome[broken]["ok"] is False
    assert outcome[broken]["error"] == "HTTP 500 INTERNAL SERVER ERROR"


def test_failing_source_error_is_one_line_of_human_output(cli, site: Site) -> None:
    add_feed(cli, site.put("/good.xml", rss(("a", "Alpha"))))
    broken = add_feed(cli, site.put("/broken.xml", "oops", status=500), "--name", "Broken")["id"]

    result = cli("poll")

    assert result.code == 0
    lines = [line for line in result.stdout.splitlines() if "HTTP 500" in line]
    assert len(lines) == 1, result.stdout
    assert "Broken" in lines[0]
    assert str(broken) in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_failing_source_is_shown_in_list(cli, site: Site) -> None:
    broken = add_feed(cli, site.put("/broken.xml", "oops", status=500))["id"]

    assert cli("poll").code == 0

    (source,) = stored(cli)
    assert source["id"] == broken
    assert source["last_error"] == "HTTP 500 INTERNAL SERVER ERROR"
    assert source["consecutive_failures"] == 1
    assert source["last_polled_at"] is not None


# --- events filters --------------------------------------------------------------------


@pytest.fixture
def event_log(cli, site: Site) -> dict[str, int]:
    """Two sources: `a` baselined then a post; `b` baselined, no posts."""
    a = add_feed(cli, site.put("/a.xml", rss(("a1", "A one"))))["id"]
    b = add_feed(cli, site.put("/b.xml", rss(("b1", "B one"))))["id"]
    assert cli("poll").code == 0
    site.put("/a.xml", rss(("a2", "A two"), ("a1", "A one")))
    assert cli("poll").code == 0
    return {"a": a, "b": b}


def test_events_filter_by_kind(cli, event_log: dict[str, int]) -> None:
    found = events(cli, "--kind", "post.published")

    assert [(e["kind"], e["title"]) for e in found] == [("post.published", "A two")]


def test_events_filter_by_repeated_kind(cli, event_log: dict[str, int]) -> None:
    found = events(cli, "--kind", "post.published", "--kind", "source.baselined")

    assert sorted(e["kind"] for e in found) == [
        "post.published",
        "source.baselined",
        "source.baselined",
    ]


def test_events_filter_by_kind_family(cli, event_log: dict[str, int]) -> None:
    found = events(cli, "--kind", "source.*")

    assert [e["kind"] for e in found] == ["source.baselined", "source.baselined"]
    assert {e["source_id"] for e in found} == set(event_log.values())


def test_events_filter_by_source(cli, event_log: dict[str, int]) -> None:
    found = events(cli, "--source", str(event_log["b"]))

    assert [(e["kind"], e["source_id"]) for e in found] == [("source.baselined", event_log["b"])]


def test_events_filter_by_unknown_source_is_refused(cli, event_log: dict[str, int]) -> None:
    # Like `poll --source 999` (issue 17, defect 4): an id that names nothing is bad input.
    assert "no source with id 999" in assert_usage_error(cli("events", "--source", "999"))


def test_events_since_duration_includes_recent(cli, event_log: dict[str, int]) -> None:
    assert len(events(cli, "--since", "1h")) == 3


def test_events_since_future_time_is_empty(cli, event_log: dict[str, int]) -> None:
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()

    assert events(cli, "--since", future) == []
    assert events(cli, "--since", "2099-01-01") == []


def test_events_since_past_time_includes_all(cli, event_log: dict[str, int]) -> None:
    assert len(events(cli, "--since", "2000-01-01T00:00:00Z")) == 3


def test_events_limit(cli, event_log: dict[str, int]) -> None:
    everything = events(cli)

    limited = events(cli, "--limit", "1")

    assert limited == everything[:1]
    assert limited[0]["kind"] == "post.published"


def test_events_filters_combine(cli, event_log: dict[str, int]) -> None:
    found = events(cli, "--kind", "source.*", "--source", str(event_log["a"]), "--since", "1d")

    assert [(e["kind"], e["source_id"]) for e in found] == [("source.baselined", event_log["a"])]


# --- import / export -------------------------------------------------------------------

WATCH_LIST = """\
# Labs we follow
[[sources]]
kind = "feed"
target = "https://a.example/feed.xml"
name = "Lab A"
every = "1h"

[[sources]]
kind = "feed"
target = "https://b.example/atom"
"""

OPML = """\
<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>My feeds</title></head>
  <body>
    <outline text="AI">
      <outline text="Labs">
        <outline type="rss" text="Lab A" title="Lab A" xmlUrl="https://a.example/feed.xml"/>
      </outline>
      <outline type="rss" text="Lab B" xmlUrl="https://b.example/rss"/>
    </outline>
    <outline type="rss" text="Top level" xmlUrl="https://c.example/index.xml"/>
  </body>
</opml>
"""


def test_import_toml_adds_sources(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "labs.toml", WATCH_LIST)

    outcome = ok_json(cli("sources", "import", str(path), "--json"))

    assert set(outcome) == {"added", "existing"}
    assert outcome["existing"] == []
    assert essentials(outcome["added"]) == [
        ("feed", "https://a.example/feed.xml", "Lab A", 3600),
        ("feed", "https://b.example/atom", None, outcome["added"][1]["every_seconds"]),
    ]
    for source in outcome["added"]:
        assert set(source) >= SOURCE_KEYS
    assert stored(cli) == outcome["added"]


def test_import_toml_twice_adds_nothing(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "labs.toml", WATCH_LIST)
    first = ok_json(cli("sources", "import", str(path), "--json"))
    after_first = stored(cli)

    again = ok_json(cli("sources", "import", str(path), "--json"))

    assert again == {"added": [], "existing": [s["id"] for s in first["added"]]}
    assert stored(cli) == after_first


def test_import_toml_reports_already_watched_source(cli, tmp_path: Path) -> None:
    existing = add_feed(cli, "https://a.example/feed.xml")["id"]
    path = write(tmp_path, "labs.toml", WATCH_LIST)

    outcome = ok_json(cli("sources", "import", str(path), "--json"))

    assert outcome["existing"] == [existing]
    assert [s["target"] for s in outcome["added"]] == ["https://b.example/atom"]
    assert len(stored(cli)) == 2


def test_import_without_json_prints_summary(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "labs.toml", WATCH_LIST)

    result = cli("sources", "import", str(path))

    assert result.code == 0
    assert "2 added" in result.stdout


def test_import_opml_with_nested_outlines(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "feeds.opml", OPML)

    outcome = ok_json(cli("sources", "import", str(path), "--json"))

    assert outcome["existing"] == []
    assert [(s["kind"], s["target"], s["name"]) for s in outcome["added"]] == [
        ("feed", "https://a.example/feed.xml", "Lab A"),
        ("feed", "https://b.example/rss", "Lab B"),
        ("feed", "https://c.example/index.xml", "Top level"),
    ]
    again = ok_json(cli("sources", "import", str(path), "--json"))
    assert again == {"added": [], "existing": [s["id"] for s in outcome["added"]]}


def test_export_opml_parses_as_xml(cli) -> None:
    add_feed(cli, FEED_A, "--name", "Lab A & friends")
    add_feed(cli, FEED_B)

    result = cli("sources", "export", "--format", "opml")

    assert result.code == 0, result.stderr
    root = ET.fromstring(result.stdout)
    assert root.tag == "opml"
    outlines = [o for o in root.iter("outline") if o.get("xmlUrl")]
    assert [o.get("xmlUrl") for o in outlines] == [FEED_A, FEED_B]
    assert outlines[0].get("text") == "Lab A & friends"


def test_export_opml_round_trips_through_import(cli, tmp_path: Path) -> None:
    add_feed(cli, FEED_A, "--name", "Lab A")
    add_feed(cli, FEED_B, "--name", "Lab <B>")
    before = stored(cli)
    exported = cli("sources", "export", "--format", "opml")
    assert exported.code == 0
    path = write(tmp_path, "export.opml", exported.stdout)

    same_db = ok_json(cli("sources", "import", str(path), "--json"))
    assert same_db == {"added": [], "existing": [s["id"] for s in before]}

    for source in before:
        assert cli("sources", "remove", str(source["id"])).code == 0
    fresh = ok_json(cli("sources", "import", str(path), "--json"))
    assert [(s["target"], s["name"]) for s in fresh["added"]] == [
        (FEED_A, "Lab A"),
        (FEED_B, "Lab <B>"),
    ]


def test_export_toml_round_trips_through_import(cli, tmp_path: Path) -> None:
    add_feed(cli, FEED_A, "--name", 'Lab "A" \\ co', "--every", "1h30m")
    add_feed(cli, FEED_B, "--every", "1d")
    add_feed(cli, "https://c.example/feed.xml")
    before = stored(cli)
    exported = cli("sources", "export")
    assert exported.code == 0, exported.stderr
    path = write(tmp_path, "export.toml", exported.stdout)

    same_db = ok_json(cli("sources", "import", str(path), "--json"))
    assert same_db == {"added": [], "existing": [s["id"] for s in before]}

    for source in before:
        assert cli("sources", "remove", str(source["id"])).code == 0
    fresh = ok_json(cli("sources", "import", str(path), "--json"))
    assert essentials(fresh["added"]) == essentials(before)
    assert essentials(stored(cli)) == essentials(before)


def test_export_toml_explicit_format_matches_default(cli) -> None:
    add_feed(cli, FEED_A)

    assert cli("sources", "export", "--format", "toml").stdout == cli("sources", "export").stdout


def test_export_of_empty_watch_list_reimports_as_nothing(cli, tmp_path: Path) -> None:
    exported = cli("sources", "export")
    assert exported.code == 0
    path = write(tmp_path, "empty.toml", exported.stdout)

    result = cli("sources", "import", str(path), "--json")

    # An empty export is a valid watch list with nothing in it.
    assert ok_json(result) == {"added": [], "existing": []}


# --- db upgrade ------------------------------------------------------------------------


def test_db_upgrade_twice(cli) -> None:
    first = cli("db", "upgrade")
    second = cli("db", "upgrade")

    assert first.code == 0, first.stderr
    assert second.code == 0, second.stderr
    assert "already at revision" in second.stdout


def test_db_upgrade_creates_a_new_database(
    cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TRACKER_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")

    first = cli("db", "upgrade")
    second = cli("db", "upgrade")

    assert first.code == 0, first.stderr
    assert "upgraded to revision" in first.stdout
    assert "already at revision" in second.stdout
    assert stored(cli) == []


# --- out-of-range numbers and unusual files ------------------------------------------


def test_events_since_absurd_duration_is_refused(cli) -> None:
    assert_usage_error(cli("events", "--json", "--since", "9999999d"))


@pytest.mark.parametrize(
    "options",
    [("--source", "99999999999999999999999"), ("--limit", "99999999999999999999")],
)
def test_events_with_out_of_range_number_is_refused(cli, options: tuple[str, ...]) -> None:
    assert_usage_error(cli("events", "--json", *options))


@pytest.mark.parametrize(
    "command",
    [
        ("sources", "remove", "99999999999"),
        ("poll", "--source", "99999999999"),
        ("events", "--source", "99999999999"),
    ],
)
def test_source_id_beyond_any_stored_id_is_refused(cli, command: tuple[str, ...]) -> None:
    before = seeded(cli)

    assert_usage_error(cli(*command))
    assert stored(cli) == before


@pytest.mark.parametrize("every", ["30000d", "99999999999d"])
def test_huge_every_is_refused(cli, site: Site, every: str) -> None:
    added = cli("sources", "add", "feed", site.put("/feed.xml", rss(("a", "A"))), "--every", every)

    # One limit and one message for every too-long interval (issue 17, defect 7).
    assert "use 30s to 30d" in assert_usage_error(added)
    assert cli("poll", "--json").code == 0


@pytest.mark.parametrize(
    "prefix", ["\ufeff", "<!-- exported by my reader -->\n"], ids=["bom", "comment"]
)
def test_import_opml_with_bom_or_leading_comment(cli, tmp_path: Path, prefix: str) -> None:
    path = write(tmp_path, "feeds.opml", prefix + OPML.split("\n", 1)[1])

    outcome = ok_json(cli("sources", "import", str(path), "--json"))

    assert len(outcome["added"]) == 3


def test_import_with_same_feed_twice_reports_it_once(cli, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "dup.toml",
        '[[sources]]\nkind = "feed"\ntarget = "https://e.example/"\nname = "one"\n\n'
        '[[sources]]\nkind = "feed"\ntarget = "https://E.example"\nname = "two"\n',
    )

    outcome = ok_json(cli("sources", "import", str(path), "--json"))

    (added,) = outcome["added"]
    assert added["id"] not in outcome["existing"]
    assert len(stored(cli)) == 1
