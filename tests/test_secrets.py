"""Secrets stay secret: in debug logs, on disk, in listings, and on the way to the Hub."""

from __future__ import annotations

import json
import logging
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracker import logs
from tracker.alerts.deliver import send_test
from tracker.config import Settings
from tracker.db import Database
from tracker.errors import FetchError
from tracker.models import Subscription

from .alertsinks import HttpSink

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    server = HttpSink()
    yield server
    server.close()


@pytest.fixture
def debug_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    logs.configure("DEBUG")  # after capsys, so the handler writes to the captured stderr
    yield
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "tracker", False)]:
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)


def test_debug_logs_carry_no_secrets_of_alert_urls(
    db: Database, sink: HttpSink, debug_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = [
        f"json://user:Pa55word@{sink.authority}/hooks/catch/123456/s3cr3tp4th/?token=tok123",
        f"pushdeer://{sink.authority}/PDU42pushkey",
        f"gotify://{sink.authority}/AppTok3nValue",
    ]
    with db.session() as session:
        ids = []
        for url in urls:
            subscription = Subscription(url=url)
            session.add(subscription)
            session.flush()
            ids.append(subscription.id)
    capsys.readouterr()

    outcomes = [send_test(db, i) for i in ids]

    logged = capsys.readouterr().err
    assert all(o.ok for o in outcomes), outcomes
    assert len(sink.requests) == 3
    assert "urllib3" in logged and "POST" in logged  # the request lines were logged
    for secret in ("Pa55word", "s3cr3tp4th", "tok123", "PDU42pushkey", "AppTok3nValue"):
        assert secret not in logged


def test_redaction_keeps_what_is_not_a_secret() -> None:
    line = 'GET https://huggingface.co/api/models?author=meta-llama&expand=gated "HTTP/1.1 200"'

    assert logs.redact(line) == line
    assert logs.redact("POST /bot123456:AAbbCC/sendMessage") == "POST /bot****/sendMessage"
    assert logs.redact("https://x.example/services/T1/B2/C3") == "https://x.example/services/****"


def test_new_home_and_database_are_private(tmp_path: Path) -> None:
    home = tmp_path / "fresh-home"
    settings = Settings(_env_file=None, home=home)

    database = Database(settings)
    with database.session() as session:
        session.add(Subscription(url="json://example.com/hook"))
    database.dispose()

    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    files = [p for p in home.iterdir() if p.name.startswith("tracker.db")]
    assert files and {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}


def test_existing_world_readable_database_is_made_private(tmp_path: Path) -> None:
    home = tmp_path / "old-home"
    home.mkdir()
    (home / "tracker.db").touch(mode=0o644)
    (home / "tracker.db").chmod(0o644)

    Database(Settings(_env_file=None, home=home)).dispose()

    assert stat.S_IMODE((home / "tracker.db").stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("url", "secrets"),
    [
        ("json://hooks.example.com/hooks/catch/123456/abcdef/", ["123456", "abcdef"]),
        ("json://hooks.example.com/T0KENvalue99/x", ["T0KENvalue99"]),
        (
            "https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrSt",
            ["123456789012345678", "AbCdEfGhIjKlMnOpQrSt"],
        ),
        (
            "https://hooks.slack.com/services/T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ",
            ["T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"],
        ),
    ],
)
def test_path_secrets_are_masked_in_listings(cli, url: str, secrets: list[str]) -> None:
    outputs = [
        cli("subscriptions", "add", url),
        cli("subscriptions", "list"),
        cli("subscriptions", "list", "--json"),
    ]

    assert [r.code for r in outputs] == [0, 0, 0], outputs[0].stderr
    for result in outputs:
        for secret in secrets:
            assert secret not in result.stdout + result.stderr
    assert json.loads(outputs[2].stdout)[0]["url"]


def test_hf_token_goes_to_the_configured_endpoint_only(settings: Settings) -> None:
    from tracker.sources.hubclient import HubClient

    elsewhere = HttpSink(reply=b"[]")
    hub = HttpSink(
        reply=b"[]",
        extra_headers={"Link": f'<http://{elsewhere.authority}/api/models?cursor=x>; rel="next"'},
    )
    settings.hf_endpoint = f"http://{hub.authority}"
    settings.hf_token = "hf_SeCrEtToKeN"
    try:
        with pytest.raises(FetchError, match="next-page link leaves"):
            HubClient(settings).list_repos("model", "someone")
    finally:
        hub.close()
        elsewhere.close()

    headers = {k.lower(): v for k, v in hub.requests[0].headers.items()}
    assert headers["authorization"] == "Bearer hf_SeCrEtToKeN"
    assert elsewhere.requests == []
