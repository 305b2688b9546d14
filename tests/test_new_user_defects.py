"""What a new user hit (issue 17), one test per defect, each named for the behaviour now."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tracker import __version__
from tracker.alerts.filters import matches
from tracker.alerts.messages import render_batch, render_event, render_test
from tracker.cli.run import round_lines
from tracker.cli.serve import follow_port
from tracker.config import Settings
from tracker.db import Database
from tracker.embedded import Scheduler
from tracker.importing import import_specs
from tracker.models import Delivery, Event, Source, Subscription
from tracker.results import SourceResult
from tracker.watchlist import read as read_watchlist
from tracker.web.app import create_app

from .feeds import rss
from .sites import Site
from .test_cli import add_feed, assert_usage_error
from .test_new_user import tracker

# apprise's e-mail plugin imports `imghdr` on first use, which Python 3.11 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")
TOKEN = "defects-token"
ROOT = Path(__file__).resolve().parent.parent


def stored_event(db: Database, kind: str, subject: str, **fields: object) -> int:
    with db.session() as session:
        source = session.get(Source, 1)
        if source is None:
            source = Source(kind="hub", target="lab", every_seconds=900)
            session.add(source)
            session.flush()
        event = Event(
            key=f"{kind}:{subject}:{fields.get('title', '')}",
            kind=kind,
            severity=str(fields.pop("severity", "warning")),
            source_id=source.id,
            subject=subject,
            title=str(fields.pop("title", f"{kind} {subject}")),
            detected_at=datetime.now(UTC) - timedelta(hours=1),
            **fields,  # type: ignore[arg-type]
        )
        session.add(event)
        session.flush()
        return event.id or 0


def add_delivery(db: Database, subscription_name: str, **delivery: Any) -> None:
    """An alert of a stored event for a new subscription, in the given delivery state."""
    event_id = stored_event(db, "access.gated", "lab/a")
    with db.session() as session:
        subscription = Subscription(url="json://127.0.0.1:9/hook", name=subscription_name)
        session.add(subscription)
        session.flush()
        session.add(Delivery(event_id=event_id, subscription_id=subscription.id or 0, **delivery))


@pytest.fixture
def client(settings: Settings, db: Database) -> TestClient:
    settings.public_url = "http://testserver"
    return TestClient(create_app(settings, db=db, token=TOKEN))


# 1 ------------------------------------------------------------------------------------


def test_every_link_in_an_alert_message_opens(client: TestClient, db: Database) -> None:
    event_id = stored_event(db, "access.gated", "lab/m", before={"gated": False})
    with db.read() as session:
        event = session.get(Event, event_id)
        assert event is not None
    names = {1: "lab"}
    bodies = (
        [
            render_event(event, fmt, sources=names, public_url="http://testserver").body
            for fmt in ("markdown", "text", "html")
        ]
        + [
            render_batch(
                [event], fmt, heading="1 event", sources=names, public_url="http://testserver"
            ).body
            for fmt in ("markdown", "text", "html")
        ]
        + [render_test(fmt, public_url="http://testserver").body for fmt in ("text", "html")]
    )
    links = {m for body in bodies for m in re.findall(r"http://testserver[^\s\"')<>\]]*", body)}

    assert "http://testserver/events" in links  # the log link of batches and digests
    assert f"http://testserver/events/{event_id}" in links
    for link in links:
        assert client.get(link).status_code == 200, link


# 2 ------------------------------------------------------------------------------------


def test_the_web_log_honours_every_kind_filter(client: TestClient, db: Database) -> None:
    stored_event(db, "access.gated", "lab/a")
    stored_event(db, "access.gate_changed", "lab/b", severity="notice")
    stored_event(db, "license.changed", "lab/c")
    stored_event(db, "post.published", "https://lab.example/p", severity="notice")
    query = "kind=access.*&kind=license.changed"

    page = client.get(f"/events?{query}").text
    old_link = client.get(f"/?{query}")  # links made before the front page existed
    api = client.get(f"/api/events?{query}").json()["events"]
    atom = client.get(f"/events.atom?{query}").text

    rows = re.findall(r'<tr class="severity-', page)
    assert len(rows) == len(api) == atom.count("<entry>") == 3
    assert (
        old_link.url.path == "/events"
        and len(re.findall(r'<tr class="severity-', old_link.text)) == 3
    )
    assert "https://lab.example/p" not in page


# 3 ------------------------------------------------------------------------------------


def test_since_7d_reads_the_same_in_the_api_the_atom_feed_and_the_page(
    client: TestClient, db: Database
) -> None:
    stored_event(db, "access.gated", "lab/a")
    with db.session() as session:
        old = Event(
            key="old",
            kind="access.gated",
            severity="warning",
            source_id=1,
            subject="lab/old",
            title="old",
            detected_at=datetime.now(UTC) - timedelta(days=30),
        )
        session.add(old)

    api = client.get("/api/events?since=7d")
    atom = client.get("/events.atom?since=7d")
    page = client.get("/events?since=7d")
    bad = client.get("/api/events?since=soon")

    assert api.status_code == atom.status_code == page.status_code == 200
    assert [e["subject"] for e in api.json()["events"]] == ["lab/a"]
    assert atom.text.count("<entry>") == 1 and "lab/old" not in page.text
    assert bad.status_code == 422 and "invalid since" in bad.json()["detail"]


# 4 ------------------------------------------------------------------------------------


def test_an_unknown_delivery_status_is_bad_input(cli) -> None:
    line = assert_usage_error(cli("deliveries", "--status", "bogus"))
    assert "unknown delivery status 'bogus'" in line


def test_events_and_poll_agree_on_an_unknown_source(cli) -> None:
    events = assert_usage_error(cli("events", "--source", "9999"))
    poll = assert_usage_error(cli("poll", "--source", "9999"))
    assert events == poll == "tracker: error: no source with id 9999"


# 5 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "run"])
def test_a_taken_port_is_said_in_one_line(cli, command: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        extra = ["--no-watchlist"] if command == "run" else []
        result = cli(command, "--port", str(port), *extra)

    line = assert_usage_error(result)
    assert f"port {port} on 127.0.0.1 is taken" in line
    assert "running" not in result.stdout and "Stopped" not in result.stdout


@pytest.mark.parametrize("command", ["serve", "run"])
def test_a_host_that_is_no_address_is_said_in_one_line(cli, command: str) -> None:
    result = cli(command, "--host", "256.1.1.1", *(["--no-watchlist"] if command == "run" else []))
    assert "cannot listen on '256.1.1.1'" in assert_usage_error(result)


# 6 ------------------------------------------------------------------------------------


def test_openness_report_says_hub_sources_are_not_polled_yet(cli) -> None:
    assert cli("sources", "add", "hub", "meta-llama").code == 0

    result = cli("report", "openness")

    assert result.code == 0
    assert "No Hub repos watched" not in result.stdout
    assert "1 Hub source watched, none polled successfully yet" in result.stdout


# 7 ------------------------------------------------------------------------------------


@pytest.mark.parametrize("every", ["99999999d", "100y", "31d", "1s"])
def test_every_interval_out_of_range_gets_the_same_message(cli, every: str) -> None:
    line = assert_usage_error(cli("sources", "add", "hub", "meta-llama", "--every", every))
    assert line == f"tracker: error: invalid interval '{every}': use 30s to 30d"


# 8 ------------------------------------------------------------------------------------


def test_a_delivery_waiting_for_its_retry_is_shown_as_retrying(cli, db: Database) -> None:
    add_delivery(
        db,
        "team",
        status="pending",
        attempts=1,
        last_error="connection refused",
        next_attempt_at=datetime.now(UTC) + timedelta(minutes=1),
    )

    listed = json.loads(cli("subscriptions", "list", "--json").stdout)
    shown = cli("subscriptions", "list").stdout

    assert listed[0]["last_delivery_status"] == "retrying"
    assert "retrying" in shown and "none yet" not in shown


# 9 ------------------------------------------------------------------------------------


def test_a_damaged_database_file_is_named_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "tracker.db").write_bytes(b"this is no SQLite file, just some bytes" * 100)

    result = tracker(home, "sources", "list")

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert (
        f"cannot open the database {home / 'tracker.db'}: file is not a database" in result.stderr
    )


@pytest.mark.parametrize("where", ["a-file", "a-file/below"])
def test_a_tracker_home_that_cannot_be_a_folder_is_named_in_one_line(
    tmp_path: Path, where: str
) -> None:
    (tmp_path / "a-file").write_text("not a folder")

    result = tracker(tmp_path / where, "sources", "list")

    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr
    assert str(tmp_path / "a-file") in result.stderr


# 10 -----------------------------------------------------------------------------------


def test_a_sqlite_url_in_a_missing_folder_is_refused_and_nothing_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "dir"
    result = tracker(
        tmp_path / "home",
        "sources",
        "list",
        env={"TRACKER_DATABASE_URL": f"sqlite:///{missing}/x.db"},
    )

    assert result.returncode == 2
    assert f"{missing} does not exist" in result.stderr
    assert not (tmp_path / "missing").exists()


def test_the_default_home_is_still_created(tmp_path: Path) -> None:
    result = tracker(tmp_path / "new" / "home", "sources", "list")
    assert result.returncode == 0 and (tmp_path / "new" / "home" / "tracker.db").exists()


def test_a_dotenv_line_that_cannot_be_parsed_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TRACKER_LOG_LEVEL=INFO\nthis line is not a setting\n")

    result = tracker(tmp_path / "home", "sources", "list", cwd=tmp_path)

    assert result.returncode == 2
    assert ".env line 2: cannot parse 'this line is not a setting'" in result.stderr


# 11 -----------------------------------------------------------------------------------


def test_lifecycle_info_events_reach_only_subscriptions_that_name_them() -> None:
    baselined = Event(key="b", kind="source.baselined", severity="info", subject="s", title="t")
    failing = Event(key="f", kind="source.failing", severity="warning", subject="s", title="t")
    everything = Subscription(url="json://x", kinds=[])
    lifecycle = Subscription(url="json://x", kinds=["source.*"])
    exact = Subscription(url="json://x", kinds=["source.baselined"])

    assert not matches(everything, baselined)
    assert matches(lifecycle, baselined) and matches(exact, baselined)
    assert matches(everything, failing)  # a warning still reaches everyone


def test_a_first_poll_of_eight_sources_sends_a_catch_all_subscription_nothing(
    cli, site: Site
) -> None:
    for n in range(8):
        add_feed(cli, site.put(f"/feed{n}.xml", rss((f"e{n}", f"Entry {n}"))))
    site.put("/hook", "{}", content_type="application/json")
    hook = f"json://127.0.0.1:{site.server.port}/hook"
    assert cli("subscriptions", "add", hook).code == 0
    assert cli("subscriptions", "add", hook + "?lifecycle=1", "--kind", "source.*").code == 0

    assert cli("poll").code == 0
    deliveries = json.loads(cli("deliveries", "--json").stdout)

    assert len(deliveries) == 8
    assert {d["subscription_id"] for d in deliveries} == {2}


# 12 -----------------------------------------------------------------------------------


def test_the_public_url_follows_the_port_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = Settings(_env_file=None)
    follow_port(plain, "127.0.0.1", 8001)
    wildcard = Settings(_env_file=None)
    follow_port(wildcard, "0.0.0.0", 8002)
    monkeypatch.setenv("TRACKER_PUBLIC_URL", "https://tracker.example.org")
    configured = Settings(_env_file=None)
    follow_port(configured, "127.0.0.1", 8001)

    assert plain.public_url == "http://127.0.0.1:8001"
    assert wildcard.public_url == "http://127.0.0.1:8002"
    assert configured.public_url == "https://tracker.example.org"


# 13 -----------------------------------------------------------------------------------


def test_a_poll_round_that_found_something_or_failed_is_one_line(db: Database) -> None:
    event_id = stored_event(db, "access.gated", "lab/a", title="lab/a is now gated (manual)")
    quiet = SourceResult(source_id=1, kind="feed", name="quiet blog")
    found = SourceResult(source_id=2, kind="hub", name="lab", event_ids=[event_id])
    broken = SourceResult(
        source_id=3, kind="feed", name="broken", status="failed", error="HTTP 503"
    )
    now = datetime(2026, 12, 1, 9, 30, 5)

    assert round_lines(db, [quiet], now=now) == []
    assert round_lines(db, [quiet, found, broken], now=now) == [
        "09:30:05 polled 3 sources: 1 new event, 1 failed (broken: HTTP 503)",
        "  warning access.gated: lab/a is now gated (manual)",
    ]


def test_the_scheduler_reports_each_round_when_its_last_poll_ends(db: Database, site: Site) -> None:
    from tracker import catalog
    from tracker.catalog import SourceSpec

    for n in range(2):
        spec = catalog.checked(
            SourceSpec("feed", site.put(f"/r{n}.xml", rss(("a", "A")))), db.settings
        )
        with db.session() as session:
            catalog.add(session, spec)
    rounds: list[list[SourceResult]] = []
    landed = threading.Event()
    scheduler = Scheduler(
        db, workers=4, tick_seconds=0.05, on_round=lambda r: (rounds.append(r), landed.set())
    )
    scheduler.start()
    try:
        assert landed.wait(20)
    finally:
        scheduler.stop()

    assert sorted(r.source_id for r in rounds[0]) == [1, 2]
    assert all(r.ok and len(r.event_ids) == 1 for r in rounds[0])  # the baselines


# 14 -----------------------------------------------------------------------------------


def opml(path: Path, count: int, hosts: int) -> Path:
    outlines = "".join(
        f'<outline type="rss" text="Feed {n}" '
        f'xmlUrl="https://blog{n % hosts}.example/feed{n}.xml"/>'
        for n in range(count)
    )
    path.write_text(f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>')
    return path


def test_an_import_checks_each_host_once_and_a_repeat_checks_none(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db.settings.allow_private_networks = False
    checked: list[tuple[str, int]] = []
    lock = threading.Lock()

    def counting(host: str, port: int) -> list[str]:
        with lock:
            checked.append((host, port))
        time.sleep(0.01)
        raise socket.gaierror("tests resolve no names")

    monkeypatch.setattr("tracker.importing.check_host", counting)
    progress: list[tuple[int, int]] = []
    specs = read_watchlist(opml(tmp_path / "feeds.opml", 300, 6))

    first = import_specs(
        db, specs, where="feeds.opml", progress=lambda d, t: progress.append((d, t))
    )
    hosts_first = list(checked)
    checked.clear()
    again = import_specs(db, specs, where="feeds.opml")

    assert len(first.added) == 300 and first.hosts_checked == 6
    assert sorted(hosts_first) == sorted({(f"blog{n}.example", 443) for n in range(6)})
    assert progress[0] == (0, 6) and progress[-1] == (6, 6)
    assert again.added == [] and len(again.existing) == 300 and checked == []


def test_an_import_refuses_a_private_host_naming_the_source(db: Database, tmp_path: Path) -> None:
    db.settings.allow_private_networks = False
    path = tmp_path / "w.toml"
    path.write_text(
        '[[sources]]\nkind = "feed"\ntarget = "https://ok.example/f"\n'
        '[[sources]]\nkind = "feed"\ntarget = "http://127.0.0.1:9/feed"\n'
    )
    from tracker.errors import UserError

    with pytest.raises(UserError, match=r"w.toml: source 2 \(http://127.0.0.1:9/feed\): refused"):
        import_specs(db, read_watchlist(path), where="w.toml")
    with db.read() as session:
        assert session.get(Source, 1) is None  # nothing stored


# 15 -----------------------------------------------------------------------------------


def test_the_email_walkthrough_says_how_to_get_aiosmtpd() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    walkthrough = readme[readme.index("To try email locally") :][:1200]

    assert "pip install aiosmtpd" in walkthrough
    assert walkthrough.index("pip install aiosmtpd") < walkthrough.index("python -m aiosmtpd")


# 16 -----------------------------------------------------------------------------------


def test_version(cli) -> None:
    result = cli("--version")
    assert result.code == 0 and result.stdout.strip() == f"release-tracker {__version__}"


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["events", "--help"],
        ["subscriptions", "add", "--help"],
        ["run", "--help"],
        ["sources", "add", "hub", "--help"],
        ["deliveries", "--help"],
    ],
)
def test_help_speaks_in_words(cli, command: list[str]) -> None:
    text = cli(*command).stdout
    assert "<" not in text and "2147483647" not in text and "<=x<=" not in text
    assert "..." not in text.replace("[ARGS]...", "")  # no summary cut off


def test_piped_sources_list_fits_100_columns(cli) -> None:
    long = "https://a-lab-with-a-long-name.example/" + "very-long-path/" * 8 + "feed.xml"
    add_feed(cli, long, "--name", "A lab with a rather long display name for its blog")
    result = cli("sources", "list")
    assert result.code == 0
    assert max(len(line) for line in result.stdout.splitlines()) <= 100
    assert "very-long-path" in result.stdout


def test_a_failed_subscription_test_goes_to_stderr(cli) -> None:
    added = json.loads(cli("subscriptions", "add", "json://127.0.0.1:9/hook", "--json").stdout)
    result = cli("subscriptions", "test", str(added["id"]))
    assert result.code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"Test alert to subscription {added['id']} failed")


def test_deliveries_name_the_subscription_and_count_attempts_in_words(cli, db: Database) -> None:
    add_delivery(db, "policy team", status="failed", attempts=1, last_error="refused")

    shown = cli("deliveries").stdout

    assert "to policy team" in shown
    assert "after 1 attempt:" in shown and "1 attempts" not in shown


def test_plain_text_email_has_no_stray_leading_spaces(db: Database) -> None:
    from apprise import NotifyFormat
    from apprise.conversion import convert_between

    event_id = stored_event(
        db,
        "license.changed",
        "lab/a",
        url="https://hub.example/lab/a",
        before={"license": "mit"},
        after={"license": "llama2"},
    )
    with db.read() as session:
        event = session.get(Event, event_id)
        assert event is not None
    html = render_event(event, "html", sources={1: "lab"}, public_url="http://t").body
    text = convert_between(NotifyFormat.HTML, NotifyFormat.TEXT, html)

    assert "Subject: lab/a" in text.splitlines()
    assert [line for line in text.splitlines() if line.startswith(" ")] == []
