"""The web side without a browser: JSON API, forms, Atom, ops endpoints and the Hub webhook.

Each test builds the app on the test's database (`create_app(settings, db=db, token=...)`)
and talks to it through FastAPI's TestClient; feeds come from the local `site`, the Hub from
the fake Hub.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

import feedparser
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from tracker import catalog
from tracker.catalog import SourceSpec
from tracker.config import Settings
from tracker.db import Database
from tracker.events import KIND_SEVERITY
from tracker.models import Delivery, Event, Source
from tracker.poller import poll_sources, select_sources
from tracker.web.app import create_app

from .contract import EVENT_KEYS, SOURCE_KEYS, SUBSCRIPTION_KEYS
from .fakehub import FakeHub
from .feeds import rss
from .sites import Site

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HTML = {"Accept": "text/html"}
ATOM = "{http://www.w3.org/2005/Atom}"
SECRETS = ("S3cretPass", "tok123")
T = TypeVar("T")

# apprise's e-mail plugin imports `imghdr` on first use; Python 3.11 deprecates it, and the
# suite turns warnings into errors (as in test_alerts.py).
pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")


# ----------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def app(settings: Settings, db: Database) -> FastAPI:
    return create_app(settings, db=db, token=TOKEN)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def lenient(app: FastAPI) -> Iterator[TestClient]:
    """A client that shows a server error as its 500 answer instead of raising it."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def record(
    db: Database,
    kind: str,
    subject: str,
    *,
    source_id: int | None = None,
    title: str | None = None,
    url: str | None = None,
    detected_at: datetime | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> int:
    """Write one event straight into the log (as detection would), returning its id."""
    with db.session() as session:
        event = Event(
            key=uuid.uuid4().hex,
            kind=kind,
            severity=KIND_SEVERITY[kind],
            source_id=source_id,
            subject=subject,
            title=title or f"{kind} {subject}",
            url=url,
            detected_at=detected_at or datetime.now(UTC),
            before=before,
            after=after,
            data={},
        )
        session.add(event)
        session.flush()
        return event.id


def add_source(db: Database, kind: str, target: str, **options: Any) -> int:
    spec = catalog.checked(SourceSpec(kind, target, **options), db.settings)
    with db.session() as session:
        return catalog.add(session, spec).id


def poll(db: Database, *source_ids: int) -> list[int]:
    report = poll_sources(db, select_sources(db, list(source_ids) or None))
    assert all(r.ok for r in report.results), [r.error for r in report.results]
    return report.event_ids


def watched_feed(db: Database, site: Site, *items: tuple[str, str]) -> int:
    """A feed source, baselined with `items` (one entry by default)."""
    source_id = add_source(db, "feed", site.put("/feed.xml", rss(*(items or (("a", "Alpha"),)))))
    poll(db, source_id)
    return source_id


def wait_for(condition: Callable[[], T], timeout: float = 5.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    return condition()


def created_id(client: TestClient, path: str, body: dict[str, Any]) -> int:
    response = client.post(path, json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["events"]]


def csrf_of(html: str, action: str = "/logout") -> str:
    """The hidden csrf value of the form posting to `action` (the sign-out form by default,
    which carries the session's token)."""
    match = re.search(
        rf'<form[^>]*action="{re.escape(action)}"[^>]*>\s*<input type="hidden" name="csrf" '
        r'value="([^"]*)"',
        html,
    )
    assert match, f"no form posting to {action} with a CSRF field"
    return match.group(1)


def sign_in(client: TestClient) -> str:
    """Sign in through the login form; returns the session's CSRF token."""
    response = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert response.status_code == 303
    token = csrf_of(client.get("/sources").text)
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    return token


def sink_url(site: Site, path: str = "/hook", *, secret: bool = True) -> str:
    """A json:// alert URL posting to the local site, with a password and a token header."""
    site.put(path, "{}", content_type="application/json")
    auth = "user:S3cretPass@" if secret else ""
    query = "?-X-Token=tok123" if secret else ""
    return f"json://{auth}127.0.0.1:{site.server.port}{path}{query}"


def atom_entries(text: str) -> list[ET.Element]:
    root = ET.fromstring(text)
    assert root.tag == f"{ATOM}feed"
    return root.findall(f"{ATOM}entry")


def metric(text: str, sample_name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == sample_name and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                return sample.value
    return None


def join_webhook_polls() -> None:
    for thread in threading.enumerate():
        if thread.name == "webhook-poll":
            thread.join(10)


# ----------------------------------------------------------------- /api/events


def test_events_have_the_contract_shape_newest_first(
    client: TestClient, db: Database, site: Site
) -> None:
    source_id = watched_feed(db, site)
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")))
    poll(db)

    events = client.get("/api/events").json()["events"]

    assert [e["kind"] for e in events] == ["post.published", "source.baselined"]
    assert all(set(e) == EVENT_KEYS for e in events)
    assert events[0]["id"] > events[1]["id"]
    post = events[0]
    assert post["severity"] == "notice"
    assert post["source_id"] == source_id
    assert post["subject"] == post["url"] == "https://lab.example/posts/b"
    assert post["title"] == "Beta"
    assert post["published_at"] == "2026-11-23T10:00:00+00:00"
    assert datetime.fromisoformat(post["detected_at"]).utcoffset() == timedelta(0)
    assert post["before"] is None
    assert post["after"] == {"title": "Beta", "url": "https://lab.example/posts/b"}
    assert post["data"]["summary"] == "About Beta"


def test_event_by_id_matches_the_listing(client: TestClient, db: Database) -> None:
    event_id = record(db, "license.changed", "org/m", before={"license": "mit"}, after={})

    (listed,) = client.get("/api/events").json()["events"]
    one = client.get(f"/api/events/{event_id}")

    assert one.status_code == 200
    assert one.json() == listed
    assert one.json()["before"] == {"license": "mit"}


@pytest.mark.parametrize("path", ["/api/events/999", "/api/sources/999", "/api/subscriptions/999"])
def test_unknown_ids_are_404_with_a_detail(client: TestClient, path: str) -> None:
    response = client.get(path, headers=AUTH)

    assert response.status_code == 404
    assert "999" in response.json()["detail"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/events/2147483648"),
        ("GET", "/api/sources/2147483648"),
        ("GET", "/api/subscriptions/2147483648"),
        ("DELETE", "/api/sources/2147483648"),
        ("POST", "/api/sources/2147483648/poll"),
        ("GET", "/events/2147483648"),
    ],
)
def test_ids_too_large_for_the_database_are_not_found(
    lenient: TestClient, method: str, path: str
) -> None:
    response = lenient.request(method, path, headers=AUTH)

    assert response.status_code in (404, 422), response.text


@pytest.fixture
def log(db: Database) -> dict[str, int]:
    """Five events over five days from three sources, oldest first."""
    start = datetime(2026, 11, 1, 12, tzinfo=UTC)
    rows = [
        ("baselined", "source.baselined", "meta-llama", 1),
        ("gated", "access.gated", "meta-llama/Llama-2-7b-hf", 1),
        ("ungated", "access.ungated", "meta-llama/Llama-3-8B", 1),
        ("license", "license.changed", "mistralai/Mistral-7B", 2),
        ("post", "post.published", "https://lab.example/posts/a", 3),
    ]
    return {
        name: record(db, kind, subject, source_id=source, detected_at=start + timedelta(days=i))
        for i, (name, kind, subject, source) in enumerate(rows)
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["post", "license", "ungated", "gated", "baselined"]),
        ("?kind=license.changed&kind=post.published", ["post", "license"]),
        ("?kind=access.*", ["ungated", "gated"]),
        ("?kind=access.*&kind=source.baselined", ["ungated", "gated", "baselined"]),
        ("?source=1", ["ungated", "gated", "baselined"]),
        ("?source=2", ["license"]),
        ("?subject=meta-llama/", ["ungated", "gated"]),
        ("?severity=warning", ["license", "gated"]),
        ("?severity=notice&source=1", ["ungated", "gated"]),
        ("?since=2026-11-02T12:00:00%2B00:00", ["post", "license", "ungated", "gated"]),
        ("?until=2026-11-03T00:00:00Z", ["gated", "baselined"]),
        ("?since=2026-11-02T00:00:00Z&until=2026-11-04T00:00:00Z", ["ungated", "gated"]),
        ("?since=2026-11-03T09:00:00-05:00", ["post", "license"]),
        ("?kind=repo.withdrawn", []),
    ],
)
def test_event_filters(client: TestClient, log: dict[str, int], query: str, expected) -> None:
    assert ids(client.get("/api/events" + query)) == [log[name] for name in expected]


def test_paging_with_limit_and_before_walks_every_event_once(
    client: TestClient, log: dict[str, int]
) -> None:
    seen: list[int] = []
    pages = 0
    before = ""
    while True:
        page = client.get(f"/api/events?limit=2{before}").json()
        pages += 1
        seen += [e["id"] for e in page["events"]]
        if page["next"] is None:
            break
        assert page["next"] == page["events"][-1]["id"]
        before = f"&before={page['next']}"

    assert pages == 3
    assert seen == sorted(log.values(), reverse=True)


def test_paging_keeps_the_filters(client: TestClient, log: dict[str, int]) -> None:
    first = client.get("/api/events?kind=access.*&limit=1").json()
    second = client.get(f"/api/events?kind=access.*&limit=1&before={first['next']}").json()

    assert [e["id"] for e in first["events"] + second["events"]] == [log["ungated"], log["gated"]]
    assert second["next"] is None


@pytest.mark.parametrize(
    ("query", "status", "words"),
    [
        ("kind=nope", 400, "unknown event kind 'nope'"),
        ("kind=nope.*", 400, "unknown event kind 'nope.*'"),
        ("severity=loud", 400, "unknown severity 'loud'"),
        ("limit=0", 422, "limit"),
        ("limit=501", 422, "limit"),
        ("limit=ten", 422, "limit"),
        ("before=abc", 422, "before"),
        ("before=0", 422, "before"),
        ("source=x", 422, "source"),
        ("since=yesterday", 422, "since"),
    ],
)
def test_bad_event_filters_are_4xx_with_a_detail(
    client: TestClient, query: str, status: int, words: str
) -> None:
    response = client.get(f"/api/events?{query}")

    assert response.status_code == status
    assert words in response.json()["detail"]


@pytest.mark.parametrize("query", ["since=2026-11-02", "until=2026-11-03T00:00:00"])
def test_times_without_an_offset_are_not_a_server_error(
    lenient: TestClient, log: dict[str, int], query: str
) -> None:
    response = lenient.get(f"/api/events?{query}")

    assert response.status_code < 500, response.text


# ----------------------------------------------------------------- /api/sources


def test_source_lifecycle_through_the_api(client: TestClient, site: Site) -> None:
    url = site.put("/feed.xml", rss(("a", "Alpha")))
    assert client.get("/api/sources").json() == []

    created = client.post("/api/sources", json={"kind": "feed", "target": url}, headers=AUTH)

    assert created.status_code == 201, created.text
    source = created.json()
    assert set(source) >= SOURCE_KEYS
    assert (source["kind"], source["target"], source["enabled"]) == ("feed", url, True)
    assert source["last_polled_at"] is None
    assert client.get("/api/sources").json() == [source]
    assert client.get(f"/api/sources/{source['id']}").json() == source

    removed = client.delete(f"/api/sources/{source['id']}", headers=AUTH)

    assert removed.status_code == 204
    assert client.get("/api/sources").json() == []
    assert client.get(f"/api/sources/{source['id']}").status_code == 404
    assert client.delete(f"/api/sources/{source['id']}", headers=AUTH).status_code == 404


def test_source_options_are_kept(client: TestClient) -> None:
    created = client.post(
        "/api/sources",
        json={"kind": "hub", "target": "meta-llama", "types": ["model"], "every": "30m"},
        headers=AUTH,
    )

    assert created.status_code == 201, created.text
    assert created.json()["every_seconds"] == 1800
    assert created.json()["types"] == ["model"]


def test_polling_a_source_through_the_api_records_events(
    client: TestClient, site: Site, db: Database
) -> None:
    url = site.put("/feed.xml", rss(("a", "Alpha")))
    source_id = created_id(client, "/api/sources", {"kind": "feed", "target": url})

    first = client.post(f"/api/sources/{source_id}/poll", headers=AUTH).json()
    site.put("/feed.xml", rss(("b", "Beta"), ("a", "Alpha")))
    second = client.post(f"/api/sources/{source_id}/poll", headers=AUTH).json()

    assert first["ok"] and first["source_id"] == source_id and len(first["event_ids"]) == 1
    assert second["ok"] and len(second["event_ids"]) == 1
    (post_id,) = second["event_ids"]
    post = client.get(f"/api/events/{post_id}").json()
    assert (post["kind"], post["title"]) == ("post.published", "Beta")
    assert client.get(f"/api/sources/{source_id}").json()["last_polled_at"] is not None
    assert len(site.hits_for("/feed.xml")) == 2


def test_a_failing_poll_is_reported_not_raised(client: TestClient, site: Site) -> None:
    url = site.put("/gone.xml", "gone", status=500)
    source_id = created_id(client, "/api/sources", {"kind": "feed", "target": url})

    result = client.post(f"/api/sources/{source_id}/poll", headers=AUTH)

    assert result.status_code == 200
    assert result.json()["ok"] is False and "500" in result.json()["error"]
    source = client.get(f"/api/sources/{source_id}").json()
    assert source["consecutive_failures"] == 1 and source["last_error"]


def test_polling_an_unknown_source_is_404(client: TestClient) -> None:
    assert client.post("/api/sources/42/poll", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"kind": "ftp", "target": "x"}, 422, "kind"),
        ({"kind": "feed"}, 422, "target"),
        ({"kind": "hub", "target": "not a target!"}, 400, "invalid Hub target"),
        ({"kind": "feed", "target": "http://127.0.0.1/f", "every": "1s"}, 400, "use 30s to 30d"),
        ({"kind": "feed", "target": "http://127.0.0.1/f", "types": ["model"]}, 400, "--types"),
    ],
)
def test_invalid_sources_are_refused_with_a_detail(
    client: TestClient, body: dict, status: int, words: str
) -> None:
    response = client.post("/api/sources", json=body, headers=AUTH)

    assert response.status_code == status
    assert words in response.json()["detail"]
    assert client.get("/api/sources").json() == []


def test_the_same_source_twice_is_refused(client: TestClient) -> None:
    body = {"kind": "hub", "target": "meta-llama"}
    first = client.post("/api/sources", json=body, headers=AUTH)

    again = client.post("/api/sources", json=body, headers=AUTH)

    assert again.status_code == 400
    assert f"as source {first.json()['id']}" in again.json()["detail"]


# ----------------------------------------------------------------- /api/subscriptions


def test_subscription_lifecycle_never_shows_its_secrets(client: TestClient, site: Site) -> None:
    url = sink_url(site)
    responses = []

    created = client.post(
        "/api/subscriptions", json={"url": url, "kinds": ["access.*"], "name": "ops"}, headers=AUTH
    )
    responses.append(created)
    subscription = created.json()
    responses.append(listed := client.get("/api/subscriptions", headers=AUTH))
    responses.append(one := client.get(f"/api/subscriptions/{subscription['id']}", headers=AUTH))
    responses.append(
        test := client.post(f"/api/subscriptions/{subscription['id']}/test", headers=AUTH)
    )

    assert created.status_code == 201, created.text
    assert set(subscription) >= SUBSCRIPTION_KEYS
    assert subscription["url"].startswith("json://user:****@127.0.0.1:")
    assert "X-Token=****" in subscription["url"]
    assert (subscription["kinds"], subscription["name"]) == (["access.*"], "ops")
    assert listed.json() == [subscription]
    assert one.json() == subscription
    assert test.json() == {"ok": True, "error": None}
    assert len(site.hits_for("/hook")) == 1
    for response in responses:
        for secret in SECRETS:
            assert secret not in response.text

    removed = client.delete(f"/api/subscriptions/{subscription['id']}", headers=AUTH)

    assert removed.status_code == 204
    assert client.get("/api/subscriptions", headers=AUTH).json() == []
    assert client.get(f"/api/subscriptions/{subscription['id']}", headers=AUTH).status_code == 404
    test_again = client.post(f"/api/subscriptions/{subscription['id']}/test", headers=AUTH)
    assert test_again.status_code == 404


def test_a_failing_test_alert_is_reported_without_secrets(client: TestClient, site: Site) -> None:
    url = sink_url(site, "/broken")
    site.put("/broken", "down", status=500)
    subscription_id = created_id(client, "/api/subscriptions", {"url": url})

    test = client.post(f"/api/subscriptions/{subscription_id}/test", headers=AUTH)

    assert test.status_code == 200
    assert test.json()["ok"] is False and test.json()["error"]
    for secret in SECRETS:
        assert secret not in test.text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"url": "bogus://x"}, "unsupported alert URL"),
        ({"url": "json://127.0.0.1/h", "kinds": ["nope"]}, "unknown event kind"),
        ({"url": "json://127.0.0.1/h", "min_severity": "loud"}, "unknown severity"),
        ({"url": "json://127.0.0.1/h", "digest": "weekly"}, "unknown digest"),
        ({"url": "json://127.0.0.1/h", "source_ids": [7]}, "no source with id 7"),
    ],
)
def test_invalid_subscriptions_are_refused(client: TestClient, body: dict, words: str) -> None:
    response = client.post("/api/subscriptions", json=body, headers=AUTH)

    assert response.status_code == 400
    assert words in response.json()["detail"]
    assert client.get("/api/subscriptions", headers=AUTH).json() == []


def test_a_refused_subscription_does_not_echo_its_secrets(client: TestClient, site: Site) -> None:
    url = sink_url(site) + "&format=nonsense"
    body = {"url": url, "min_severity": "loud"}

    response = client.post("/api/subscriptions", json=body, headers=AUTH)

    assert response.status_code == 400
    for secret in SECRETS:
        assert secret not in response.text


# ----------------------------------------------------------------- who may write


@pytest.fixture
def writes(db: Database, site: Site) -> list[tuple[str, str, dict | None]]:
    """Every API write, aimed at things that exist (so only authorisation can refuse it)."""
    source_id = add_source(db, "feed", site.put("/feed.xml", rss(("a", "Alpha"))))
    with db.session() as session:
        from tracker.alerts import subscriptions

        spec = subscriptions.SubscriptionSpec(url="json://127.0.0.1:9/h")
        subscription_id = subscriptions.add(session, spec, db.settings).id
    return [
        ("POST", "/api/sources", {"kind": "hub", "target": "mistralai"}),
        ("POST", f"/api/sources/{source_id}/poll", None),
        ("DELETE", f"/api/sources/{source_id}", None),
        ("POST", "/api/subscriptions", {"url": "json://127.0.0.1:9/other"}),
        ("POST", f"/api/subscriptions/{subscription_id}/test", None),
        ("DELETE", f"/api/subscriptions/{subscription_id}", None),
    ]


def unchanged_state(client: TestClient) -> tuple[list, list]:
    return client.get("/api/sources").json(), client.get("/api/subscriptions", headers=AUTH).json()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": TOKEN},
        {"X-CSRF-Token": "anything"},
    ],
    ids=["none", "wrong", "longer", "basic", "bare", "csrf-only"],
)
def test_writes_without_the_token_are_401(
    client: TestClient, writes: list, headers: dict[str, str]
) -> None:
    before = unchanged_state(client)

    for method, path, body in writes:
        response = client.request(method, path, json=body, headers=headers)

        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert "token" in response.json()["detail"]
    assert unchanged_state(client) == before


def test_writes_with_the_bearer_token_succeed(client: TestClient, writes: list, site: Site) -> None:
    statuses = [
        client.request(method, path, json=body, headers=AUTH).status_code
        for method, path, body in writes
    ]

    assert statuses == [201, 200, 204, 201, 200, 204]
    assert [s["target"] for s in client.get("/api/sources").json()] == ["mistralai"]
    assert [s["url"] for s in client.get("/api/subscriptions", headers=AUTH).json()] == [
        "json://127.0.0.1:9/other"
    ]
    assert len(site.hits_for("/feed.xml")) == 1


def test_a_session_cookie_alone_cannot_write_through_the_api(client: TestClient) -> None:
    csrf = sign_in(client)
    body = {"kind": "hub", "target": "meta-llama"}

    no_header = client.post("/api/sources", json=body)
    wrong_header = client.post("/api/sources", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert client.get("/api/sources").json() == []
    with_header = client.post("/api/sources", json=body, headers={"X-CSRF-Token": csrf})

    assert (no_header.status_code, wrong_header.status_code) == (401, 401)
    assert with_header.status_code == 201


def test_a_forged_session_cookie_is_not_signed_in(client: TestClient) -> None:
    client.cookies.set("tracker_session", "eyJub25jZSI6IngifQ.forged.signature")

    page = client.get("/sources")
    response = client.post("/sources", data={"csrf": "", "kind": "hub", "target": "meta-llama"})

    assert 'action="/sources"' not in page.text
    assert response.status_code == 401


# ----------------------------------------------------------------- forms


def test_login_with_the_wrong_token_is_refused(client: TestClient) -> None:
    response = client.post("/login", data={"token": "guess"}, follow_redirects=False)

    assert response.status_code == 401
    assert "That is not the API token." in response.text
    assert "set-cookie" not in response.headers
    assert client.get("/sources").text.count('name="csrf"') == 0


def test_login_sets_an_http_only_session_cookie(client: TestClient) -> None:
    response = client.post(
        "/login", data={"token": TOKEN, "next": "/sources"}, follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/sources"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("tracker_session=")
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert TOKEN not in cookie


def test_a_form_post_without_csrf_is_forbidden(client: TestClient) -> None:
    sign_in(client)

    response = client.post(
        "/sources", data={"kind": "hub", "target": "meta-llama"}, follow_redirects=False
    )
    wrong = client.post("/sources", data={"csrf": "f" * 64, "kind": "hub", "target": "meta-llama"})

    assert (response.status_code, wrong.status_code) == (403, 403)
    assert client.get("/api/sources").json() == []


def test_a_form_post_without_signing_in_is_refused(client: TestClient) -> None:
    response = client.post("/sources", data={"kind": "hub", "target": "meta-llama"})

    assert response.status_code == 401
    assert client.get("/api/sources").json() == []


@pytest.mark.parametrize("action", ["/sources", "/sources/1/poll", "/sources/1/remove"])
def test_every_source_form_carries_the_session_csrf_token(
    client: TestClient, db: Database, action: str
) -> None:
    add_source(db, "hub", "meta-llama")
    session_token = sign_in(client)

    assert csrf_of(client.get("/sources").text, action) == session_token


def test_the_add_source_form_as_served_adds_a_source(client: TestClient) -> None:
    sign_in(client)
    form_token = csrf_of(client.get("/sources").text, "/sources")

    response = client.post(
        "/sources",
        data={"csrf": form_token, "kind": "hub", "target": "meta-llama"},
        follow_redirects=False,
    )

    assert response.status_code == 303


def test_adding_a_source_through_the_form(client: TestClient, site: Site) -> None:
    csrf = sign_in(client)
    url = site.put("/feed.xml", rss(("a", "Alpha")))

    response = client.post(
        "/sources",
        data={"csrf": csrf, "kind": "feed", "target": url, "every": "30m", "name": "Lab"},
        follow_redirects=False,
    )

    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/sources"
    (source,) = client.get("/api/sources").json()
    assert (source["kind"], source["target"], source["name"]) == ("feed", url, "Lab")
    assert source["every_seconds"] == 1800
    page = client.get(response.headers["location"])
    assert f"Added source {source['id']}" in page.text
    assert url in page.text


def test_an_invalid_source_in_the_form_shows_the_error(client: TestClient) -> None:
    csrf = sign_in(client)

    response = client.post(
        "/sources", data={"csrf": csrf, "kind": "hub", "target": "<b>not a target!</b>"}
    )

    assert response.status_code == 400
    assert "invalid Hub target" in response.text
    assert "<b>not a target!</b>" not in response.text  # echoed, but escaped
    assert "&lt;b&gt;not a target!&lt;/b&gt;" in response.text
    assert client.get("/api/sources").json() == []


def test_polling_and_removing_a_source_through_the_forms(client: TestClient, site: Site) -> None:
    csrf = sign_in(client)
    url = site.put("/feed.xml", rss(("a", "Alpha")))
    client.post("/sources", data={"csrf": csrf, "kind": "feed", "target": url})
    (source,) = client.get("/api/sources").json()

    polled = client.post(f"/sources/{source['id']}/poll", data={"csrf": csrf})
    landed = wait_for_outcome(client, source["id"])
    listed = client.get("/sources").text
    removed = client.post(f"/sources/{source['id']}/remove", data={"csrf": csrf})

    # The form answers at once (issue 17); the result shows on the page when it lands.
    assert f"Polling {url}: its result shows here when it lands" in polled.text
    assert landed["ok"] and landed["events"] == 1
    assert "1 new event" in listed
    assert f"Removed source {source['id']}: " in removed.text
    assert client.get("/api/sources").json() == []


def wait_for_outcome(client: TestClient, source_id: int, timeout: float = 20.0) -> dict:
    """The source's last poll outcome, once a poll has recorded one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outcome = client.get(f"/api/sources/{source_id}").json().get("last_outcome")
        if outcome and outcome.get("started_at"):
            return outcome
        time.sleep(0.05)
    raise AssertionError("no poll outcome landed")


def test_subscriptions_page_lists_subscriptions_masked(lenient: TestClient, site: Site) -> None:
    lenient.post("/api/subscriptions", json={"url": sink_url(site)}, headers=AUTH)
    lenient.post("/login", data={"token": TOKEN})

    page = lenient.get("/subscriptions")

    assert page.status_code == 200
    assert "json://user:****@127.0.0.1:" in page.text
    for secret in SECRETS:
        assert secret not in page.text


def test_subscribing_through_the_form_masks_the_url(lenient: TestClient, site: Site) -> None:
    lenient.post("/login", data={"token": TOKEN})
    csrf = csrf_of(lenient.get("/subscriptions").text, "/subscriptions")

    response = lenient.post("/subscriptions", data={"csrf": csrf, "url": sink_url(site)})

    assert response.status_code == 200  # after the redirect
    assert "Added subscription" in response.text
    assert "json://user:****@127.0.0.1:" in response.text
    for secret in SECRETS:
        assert secret not in response.text


def test_logout_ends_the_session(client: TestClient) -> None:
    csrf = sign_in(client)

    without_csrf = client.post("/logout", follow_redirects=False)
    response = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)

    assert without_csrf.status_code == 403
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert "tracker_session=" in response.headers["set-cookie"]
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert "tracker_session" not in client.cookies
    assert 'action="/sources"' not in client.get("/sources").text
    add = client.post("/sources", data={"csrf": csrf, "kind": "hub", "target": "meta-llama"})
    assert add.status_code == 401


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/sources",
        "https://evil.example/",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "",
    ],
)
def test_redirects_after_login_never_leave_the_site(client: TestClient, target: str) -> None:
    form = client.get("/login", params={"next": target}).text
    response = client.post("/login", data={"token": TOKEN, "next": target}, follow_redirects=False)

    location = response.headers["location"]
    assert response.status_code == 303
    assert location.startswith("/") and not location.startswith("//")
    assert not re.search(r"[\s\\]", location)
    assert urlsplit(urljoin("http://testserver/login", location)).netloc == "testserver"
    hidden = re.search(r'name="next" value="([^"]*)"', form).group(1)
    assert hidden == "/" or (hidden == target and not re.search(r"^//|\\", hidden))


def test_next_double_slash_goes_home(client: TestClient) -> None:
    response = client.post(
        "/login", data={"token": TOKEN, "next": "//evil.example"}, follow_redirects=False
    )

    assert response.headers["location"] == "/"


# ----------------------------------------------------------------- /events.atom


def test_atom_feed_lists_the_events(client: TestClient, db: Database, site: Site) -> None:
    watched_feed(db, site)
    site.put("/feed.xml", rss(("c", "Gamma"), ("b", "Beta"), ("a", "Alpha")))
    poll(db)
    api = client.get("/api/events").json()["events"]

    response = client.get("/events.atom")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/atom+xml")
    entries = atom_entries(response.text)
    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        f"http://127.0.0.1:8000/events/{e['id']}" for e in api
    ]
    assert [e.findtext(f"{ATOM}title") for e in entries] == [e["title"] for e in api]
    assert [e.find(f"{ATOM}category").get("term") for e in entries] == [e["kind"] for e in api]
    (gamma,) = [e for e in api if e["title"] == "Gamma"]
    (entry,) = [e for e in entries if e.findtext(f"{ATOM}title") == "Gamma"]
    links = {link.get("rel"): link.get("href") for link in entry.findall(f"{ATOM}link")}
    assert links == {
        "alternate": f"http://127.0.0.1:8000/events/{gamma['id']}",
        "related": "https://lab.example/posts/c",
    }
    assert entry.findtext(f"{ATOM}published") == "2026-11-23T10:00:00+00:00"
    parsed = feedparser.parse(response.text)
    assert parsed.version == "atom10" and not parsed.bozo
    assert [e.title for e in parsed.entries] == [e["title"] for e in api]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?kind=access.*", ["ungated", "gated"]),
        ("?kind=post.published&kind=license.changed", ["post", "license"]),
        ("?source=2", ["license"]),
        ("?subject=meta-llama/", ["ungated", "gated"]),
        ("?severity=warning", ["license", "gated"]),
        ("?limit=2", ["post", "license"]),
    ],
)
def test_atom_feed_filters(
    client: TestClient, log: dict[str, int], query: str, expected: list[str]
) -> None:
    entries = atom_entries(client.get("/events.atom" + query).text)

    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        f"http://127.0.0.1:8000/events/{log[name]}" for name in expected
    ]


def test_atom_feed_refuses_bad_filters(client: TestClient) -> None:
    response = client.get("/events.atom?kind=nope")

    assert response.status_code == 400
    assert "unknown event kind" in response.json()["detail"]


def test_atom_feed_filters_by_time(client: TestClient, log: dict[str, int]) -> None:
    entries = atom_entries(client.get("/events.atom?since=2026-11-04T00:00:00Z").text)

    assert [e.findtext(f"{ATOM}id") for e in entries] == [
        f"http://127.0.0.1:8000/events/{log[name]}" for name in ("post", "license")
    ]


HOSTILE_TITLES = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    '"><svg onload=window.__pwned=1>',
    "a & b < c ]]> d <![CDATA[ e",
    "&amp; &lt;not an entity&gt; &#x3C;",
]


HOSTILE_LINKS = [
    "javascript:window.__pwned=1",
    "data:text/html,<script>window.__pwned=1</script>",
    'https://lab.example/x"><script>window.__pwned=1</script>',
    "JaVaScRiPt:window.__pwned=1",
    "https://lab.example/ok?a=1&b=2",
]


def hostile_items() -> str:
    """RSS items whose titles, summaries and links are hostile (properly XML-escaped)."""
    return "".join(
        f"<item><title>{escape(title)}</title><guid isPermaLink='false'>h{i}</guid>"
        f"<link>{escape(link)}</link><description>{escape(title)}</description></item>"
        for i, (title, link) in enumerate(zip(HOSTILE_TITLES, HOSTILE_LINKS, strict=True))
    )


def test_atom_feed_escapes_hostile_titles(client: TestClient, db: Database, site: Site) -> None:
    watched_feed(db, site)
    doc = rss(("a", "Alpha")).replace("</channel>", hostile_items() + "</channel>")
    site.put("/feed.xml", doc)
    poll(db)

    response = client.get("/events.atom")

    entries = atom_entries(response.text)  # well-formed XML
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert titles == [e["title"] for e in client.get("/api/events").json()["events"]]
    assert set(HOSTILE_TITLES[:4]) <= set(titles)
    hrefs = [link.get("href") for e in entries for link in e.findall(f"{ATOM}link")]
    assert not [h for h in hrefs if not h.lower().startswith(("http://", "https://"))]
    assert "<script>" not in response.text
    assert not feedparser.parse(response.text).bozo


def test_atom_feed_stays_well_formed_with_control_characters_in_links(
    client: TestClient, db: Database, site: Site
) -> None:
    page = "<html><body><article>{}</article></body></html>"
    url = site.put(
        "/blog", page.format('<h2><a href="/p/1">One</a></h2>'), content_type="text/html"
    )
    add_source(db, "page", url, links="article h2 a")
    poll(db)
    site.put(
        "/blog",
        page.format('<h2><a href="/p/2&#1;x">Two&#1;</a></h2><h2><a href="/p/1">One</a></h2>'),
        content_type="text/html",
    )
    assert poll(db)

    response = client.get("/events.atom")

    assert len(atom_entries(response.text)) == 2


# ----------------------------------------------------------------- ops


def test_openapi_lists_the_api(client: TestClient) -> None:
    document = client.get("/openapi.json").json()

    paths = document["paths"]
    assert {
        "/api/events",
        "/api/events/{event_id}",
        "/api/sources",
        "/api/sources/{source_id}",
        "/api/sources/{source_id}/poll",
        "/api/subscriptions",
        "/api/subscriptions/{subscription_id}",
        "/api/subscriptions/{subscription_id}/test",
        "/events.atom",
        "/hooks/huggingface",
        "/healthz",
        "/metrics",
    } <= set(paths)
    assert {"get", "post"} <= set(paths["/api/sources"])
    assert "delete" in paths["/api/subscriptions/{subscription_id}"]
    assert not {"/", "/login", "/sources"} & set(paths)  # HTML pages are not API
    schemas = document["components"]["schemas"]
    assert set(schemas["EventPublic"]["properties"]) == EVENT_KEYS
    assert set(schemas["SourcePublic"]["properties"]) >= SOURCE_KEYS
    assert set(schemas["SubscriptionPublic"]["properties"]) >= SUBSCRIPTION_KEYS


def test_healthz_says_ok(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] == "ok"


def test_metrics_count_events_polls_and_deliveries(
    client: TestClient, db: Database, site: Site
) -> None:
    before = metric(client.get("/metrics").text, "tracker_polls_total", kind="feed", outcome="ok")
    source_id = watched_feed(db, site)
    client.post("/api/subscriptions", json={"url": sink_url(site, secret=False)}, headers=AUTH)
    site.put("/feed.xml", rss(("c", "Gamma"), ("b", "Beta"), ("a", "Alpha")))

    client.post(f"/api/sources/{source_id}/poll", headers=AUTH)

    def statuses() -> list[str]:
        with db.session() as session:
            return [d.status for d in session.exec(select(Delivery))]

    # The alerts go out beside the poll, on the app's sender.
    assert wait_for(lambda: statuses() == ["sent", "sent"])
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert metric(text, "tracker_events", kind="source.baselined") == 1
    assert metric(text, "tracker_events", kind="post.published") == 2
    assert metric(text, "tracker_polls_total", kind="feed", outcome="ok") == (before or 0) + 2
    assert metric(text, "tracker_deliveries", status="sent") == 2
    assert metric(text, "tracker_sources", kind="feed") == 1
    assert re.search(r'^tracker_events\{kind="post\.published"\} 2\.0$', text, re.M)


def test_metrics_count_failing_polls(client: TestClient, db: Database, site: Site) -> None:
    source_id = add_source(db, "feed", site.put("/down.xml", "", status=503))
    before = metric(
        client.get("/metrics").text, "tracker_polls_total", kind="feed", outcome="failed"
    )

    client.post(f"/api/sources/{source_id}/poll", headers=AUTH)

    text = client.get("/metrics").text
    assert metric(text, "tracker_polls_total", kind="feed", outcome="failed") == (before or 0) + 1
    assert metric(text, "tracker_sources_failing", kind="feed") == 1


# ----------------------------------------------------------------- /hooks/huggingface

REPO = "org/repo"


def webhook(name: str = REPO, scope: str = "repo.config", repo_type: str = "model") -> dict:
    return {
        "event": {"action": "update", "scope": scope},
        "repo": {
            "type": repo_type,
            "name": name,
            "id": "6543210fedcba9876543210f",
            "private": False,
            "url": {
                "web": f"https://huggingface.co/{name}",
                "api": f"https://huggingface.co/api/models/{name}",
            },
            "headSha": "c0ffee" * 6 + "abcd",
        },
        "webhook": {"id": "x", "version": 3},
    }


@pytest.fixture
def hooked(settings: Settings) -> Settings:
    settings.webhook_secret = "hook-secret"
    return settings


@pytest.fixture
def watched_repo(hooked: Settings, db: Database, hub: FakeHub) -> int:
    """`org/repo` watched and baselined; the Hub's request log cleared."""
    hub.add_repo("model", REPO, license="mit")
    hub.add_repo("model", "other/repo", license="mit")
    source_id = add_source(db, "hub", REPO)
    poll(db, source_id)
    hub.clear_requests()
    return source_id


def hook_events(db: Database, kind: str) -> list[Event]:
    with db.session() as session:
        return list(session.exec(select(Event).where(Event.kind == kind)))


def test_webhook_without_a_configured_secret_is_503(client: TestClient) -> None:
    response = client.post(
        "/hooks/huggingface", json=webhook(), headers={"X-Webhook-Secret": "anything"}
    )

    assert response.status_code == 503
    assert "TRACKER_WEBHOOK_SECRET" in response.json()["detail"]


@pytest.mark.parametrize(
    "headers", [{}, {"X-Webhook-Secret": "wrong"}, {"X-Webhook-Secret": ""}, AUTH]
)
def test_webhook_with_a_wrong_or_missing_secret_is_401(
    hooked: Settings, client: TestClient, watched_repo: int, hub: FakeHub, headers: dict
) -> None:
    response = client.post("/hooks/huggingface", json=webhook(), headers=headers)

    assert response.status_code == 401
    assert "X-Webhook-Secret" in response.json()["detail"]
    time.sleep(0.2)
    assert hub.requests == []


def test_webhook_for_a_watched_repo_triggers_a_poll(
    hooked: Settings, client: TestClient, db: Database, hub: FakeHub, watched_repo: int
) -> None:
    hub.set_gated("model", REPO, "manual")

    response = client.post(
        "/hooks/huggingface", json=webhook(), headers={"X-Webhook-Secret": "hook-secret"}
    )

    assert response.status_code == 202
    assert response.json() == {"polling": [watched_repo], "repo": REPO}
    gated = wait_for(lambda: hook_events(db, "access.gated"))
    join_webhook_polls()
    assert [(e.subject, e.after) for e in gated] == [(REPO, {"gated": "manual"})]
    assert any(r.path.startswith(f"/api/models/{REPO}") for r in hub.requests)


def test_webhook_matches_an_author_source_case_insensitively(
    hooked: Settings, client: TestClient, db: Database, hub: FakeHub
) -> None:
    hub.add_repo("model", "Org/one", license="mit")
    author_id = add_source(db, "hub", "Org")
    poll(db, author_id)
    hub.add_repo("model", "Org/two", license="mit")

    response = client.post(
        "/hooks/huggingface",
        json=webhook("org/two", scope="repo"),
        headers={"X-Webhook-Secret": "hook-secret"},
    )

    assert response.json()["polling"] == [author_id]
    published = wait_for(lambda: hook_events(db, "model.published"))
    join_webhook_polls()
    assert [e.subject for e in published] == ["Org/two"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (webhook(scope="discussion"), "scope 'discussion'"),
        (webhook(scope="discussion.comment"), "scope 'discussion.comment'"),
        (webhook("other/repo"), "other/repo is not watched"),
        (webhook(REPO, repo_type="dataset"), "is not watched"),
        ({"event": {"action": "update", "scope": "repo.config"}}, "not a repo event"),
        ([1, 2], "not a repo event"),
    ],
)
def test_webhooks_that_change_nothing_watched_are_acknowledged_and_ignored(
    hooked: Settings,
    client: TestClient,
    hub: FakeHub,
    watched_repo: int,
    payload: Any,
    reason: str,
) -> None:
    response = client.post(
        "/hooks/huggingface", json=payload, headers={"X-Webhook-Secret": "hook-secret"}
    )

    assert response.status_code == 202
    assert reason in response.json()["ignored"]
    time.sleep(0.3)
    assert hub.requests == []
    assert not [t for t in threading.enumerate() if t.name == "webhook-poll"]


def hook(client: TestClient, payload: dict) -> dict:
    response = client.post(
        "/hooks/huggingface", json=payload, headers={"X-Webhook-Secret": "hook-secret"}
    )
    assert response.status_code == 202
    return response.json()


def focus_left(db: Database, source_id: int) -> list | None:
    with db.read() as session:
        return session.get(Source, source_id).poll_focus


@pytest.fixture
def watched_author(hooked: Settings, db: Database, hub: FakeHub) -> int:
    """The author `org` (three models: two listing pages), watched and baselined."""
    for name in ("one", "two", "three"):
        hub.add_repo("model", f"org/{name}", license="mit")
    source_id = add_source(db, "hub", "org", types="model")
    poll(db, source_id)
    hub.clear_requests()
    return source_id


def test_webhook_for_a_repo_of_a_watched_author_is_answered_with_one_info_call(
    client: TestClient, db: Database, hub: FakeHub, watched_author: int
) -> None:
    with db.read() as session:
        due = session.get(Source, watched_author).next_poll_at
    hub.add_repo("model", "org/four", license="mit")

    assert hook(client, webhook("org/four", scope="repo"))["polling"] == [watched_author]

    published = wait_for(lambda: hook_events(db, "model.published"))
    assert [e.subject for e in published] == ["org/four"]
    assert wait_for(lambda: focus_left(db, watched_author) is None)
    # Not a re-listing of the author: one info call for the repo named; the repo being a
    # new model, then what its disclosure scorecard reads (its release facts, its README).
    sha = hub.repo("model", "org/four")["sha"]
    assert [r.path for r in hub.requests] == [
        "/api/models/org/four",
        "/api/models/org/four",
        f"/org/four/resolve/{sha}/README.md",
    ]
    assert "safetensors" in hub.requests[1].query["expand"]
    with db.read() as session:
        # The source's scheduled poll (the whole listing) stays when it was.
        assert session.get(Source, watched_author).next_poll_at == due


def test_narrower_repo_scopes_count_as_the_broad_one(
    client: TestClient, db: Database, hub: FakeHub, watched_author: int
) -> None:
    hub.set_gated("model", "org/two", "manual")

    answer = hook(client, webhook("org/two", scope="repo.config.dois"))

    assert answer["polling"] == [watched_author]
    gated = wait_for(lambda: hook_events(db, "access.gated"))
    assert [e.subject for e in gated] == ["org/two"]


def test_a_move_is_followed_as_a_rename(
    client: TestClient, db: Database, hub: FakeHub, watched_author: int
) -> None:
    hub.rename("org/one", "org/uno")
    payload = webhook("org/one", scope="repo") | {
        "event": {"action": "move", "scope": "repo"},
        "movedTo": {"name": "org/uno", "owner": {"id": "6543210fedcba98765432100"}},
    }

    assert hook(client, payload)["polling"] == [watched_author]

    renamed = wait_for(lambda: hook_events(db, "repo.renamed"))
    assert [(e.before, e.after) for e in renamed] == [({"id": "org/one"}, {"id": "org/uno"})]
    assert hook_events(db, "model.published") == []
    assert hook_events(db, "repo.withdrawn") == []


def report_opened(name: str, title: str, num: int = 8, *, pull_request: bool = False) -> dict:
    payload = webhook(name, scope="discussion")
    payload["event"] = {"action": "create", "scope": "discussion"}
    payload["repo"].pop("headSha")  # only sent on repo scopes
    payload["discussion"] = {
        "id": "6399f58518721fdd27fc9ca9",
        "title": title,
        "url": {
            "web": f"https://huggingface.co/{name}/discussions/{num}",
            "api": f"https://huggingface.co/api/models/{name}/discussions/{num}",
        },
        "status": "open",
        "author": {"id": "61d2f90c3c2083e1c08af22d"},
        "num": num,
        "isPullRequest": pull_request,
    }
    return payload


def test_a_report_opened_on_a_watched_repo_is_a_repo_reported_event(
    client: TestClient, db: Database, hub: FakeHub, watched_author: int
) -> None:
    payload = report_opened("org/two", "🚩 Report: Copyright infringement")

    assert hook(client, payload)["polling"] == [watched_author]

    (reported,) = wait_for(lambda: hook_events(db, "repo.reported"))
    assert (reported.subject, reported.severity) == ("org/two", "notice")
    assert reported.title == "Reported (Copyright infringement): org/two"
    assert reported.data["reason"] == "Copyright infringement"
    assert reported.data["discussion"] == {
        "num": 8,
        "title": "🚩 Report: Copyright infringement",
        "url": "https://huggingface.co/org/two/discussions/8",
        "status": "open",
        "is_pull_request": False,
    }
    assert wait_for(lambda: focus_left(db, watched_author) is None)
    assert [r.path for r in hub.requests] == ["/api/models/org/two"]

    # The same webhook again (the Hub's replay button): reported once.
    hook(client, payload)
    assert wait_for(lambda: focus_left(db, watched_author) is None)
    assert len(hook_events(db, "repo.reported")) == 1


@pytest.mark.parametrize(
    "payload",
    [
        report_opened("org/two", "Update the model card"),
        report_opened("org/two", "🚩 Report: Legal issue(s)", pull_request=True),
        report_opened("org/two", "🚩 Report: Spam")
        | {"event": {"action": "update", "scope": "discussion"}},
        report_opened("org/two", "🚩 Report: Spam")
        | {"event": {"action": "create", "scope": "discussion.comment"}},
    ],
)
def test_other_discussions_are_ignored(
    client: TestClient, hub: FakeHub, watched_author: int, payload: dict
) -> None:
    assert "not a report" in hook(client, payload)["ignored"]
    time.sleep(0.2)
    assert hub.requests == []


def test_webhook_with_a_body_that_is_not_json_is_400(hooked: Settings, client: TestClient) -> None:
    response = client.post(
        "/hooks/huggingface",
        content=b"{not json",
        headers={"X-Webhook-Secret": "hook-secret", "Content-Type": "application/json"},
    )

    assert response.status_code == 400


# ----------------------------------------------------------------- security headers


def test_html_pages_carry_the_security_headers(client: TestClient, db: Database) -> None:
    event_id = record(db, "post.published", "https://lab.example/p", url="https://lab.example/p")
    paths = [
        "/",
        "/?kind=access.*",
        "/?kind=nope",
        f"/events/{event_id}",
        "/events/999",
        "/subjects?subject=https://lab.example/p",
        "/sources",
        "/openness",
        "/login",
        "/static/app.js",
    ]

    for path in paths:
        response = client.get(path, headers=HTML)
        csp = response.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))

        assert "unsafe-inline" not in csp, path
        assert "unsafe-eval" not in csp, path
        assert directives["script-src"] == "'self'", path
        assert directives["object-src"] == "'none'", path
        assert directives["frame-ancestors"] == "'none'", path
        assert response.headers["x-content-type-options"] == "nosniff", path
    assert client.get("/events/999", headers=HTML).headers["content-type"].startswith("text/html")


def test_pages_have_no_inline_scripts_or_handlers(client: TestClient, db: Database) -> None:
    event_id = record(db, "post.published", "https://lab.example/p", url="https://lab.example/p")
    sign_in(client)

    for path in ["/", f"/events/{event_id}", "/sources", "/login", "/openness"]:
        html = client.get(path).text
        scripts = re.findall(r"<script\b[^>]*>", html)

        assert scripts == ['<script src="/static/app.js" defer>'], path
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert "style=" not in html, path
