"""The web side's guards, against the app served for real by uvicorn on loopback.

A "proxy in another container" is played by a client connecting from another loopback
address (127.0.0.5): uvicorn itself trusts forwarded headers only from 127.0.0.1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from xml.etree import ElementTree as ET

import httpx
import pytest

from tracker.config import Settings
from tracker.db import Database
from tracker.web.app import create_app

from .webserver import RunningServer, serve

pytestmark = pytest.mark.filterwarnings("ignore:'imghdr' is deprecated:DeprecationWarning")

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PROXY = "127.0.0.5"
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def server(settings: Settings, db: Database) -> Iterator[RunningServer]:
    wanted = {
        "trusted_proxies": f"{PROXY}, 10.0.0.0/8",
        "hsts_seconds": 31536000,
        "login_attempts_per_minute": 3,
        "public_url": "https://tracker.example",
    }
    for name, value in wanted.items():
        if name in type(settings).model_fields:  # (so the suite also runs on older code)
            setattr(settings, name, value)
    with serve(create_app(settings, db=db, token=TOKEN)) as running:
        yield running


def client(server: RunningServer, *, source: str = "127.0.0.1") -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=server.base_url, transport=transport, follow_redirects=False)


def sign_in(http: httpx.Client, **headers: str) -> httpx.Response:
    response = http.post("/login", data={"token": TOKEN}, headers=headers)
    assert response.status_code == 303, response.text
    return response


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


# ----------------------------------------------------------------- subscriptions need sign-in


def test_subscriptions_are_not_readable_without_signing_in(server: RunningServer) -> None:
    with client(server) as http:
        http.post("/api/subscriptions", json={"url": "json://127.0.0.1:9/h"}, headers=AUTH)

        anonymous = [http.get("/api/subscriptions"), http.get("/api/subscriptions/1")]
        page = http.get("/subscriptions")
        events = http.get("/api/events")
        with_token = http.get("/api/subscriptions", headers=AUTH)
        sign_in(http)
        with_cookie = http.get("/api/subscriptions")

    assert [r.status_code for r in anonymous] == [401, 401]
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert events.status_code == 200  # the event log stays public
    assert [len(with_token.json()), len(with_cookie.json())] == [1, 1]


# ----------------------------------------------------------------- sign-in and sign-out


def test_sign_in_is_rate_limited_per_client(server: RunningServer) -> None:
    with client(server) as guesser, client(server, source="127.0.0.9") as other:
        guesses = [guesser.post("/login", data={"token": f"guess{i}"}) for i in range(5)]
        right_token_too_late = guesser.post("/login", data={"token": TOKEN})
        someone_else = other.post("/login", data={"token": TOKEN})

    assert [r.status_code for r in guesses] == [401, 401, 401, 429, 429]
    assert int(guesses[-1].headers["Retry-After"]) >= 1
    assert right_token_too_late.status_code == 429
    assert someone_else.status_code == 303


def test_sign_out_ends_the_session_on_the_server(server: RunningServer) -> None:
    with client(server) as browser:
        sign_in(browser)
        copied = dict(browser.cookies)
        csrf = csrf_of(browser.get("/sources").text)
        assert browser.post("/logout", data={"csrf": csrf}).status_code == 303

    with client(server) as thief:
        thief.cookies.update(copied)
        reused = thief.get("/api/subscriptions")
        page = thief.get("/sources")

    assert reused.status_code == 401
    assert 'name="csrf"' not in page.text


# ----------------------------------------------------------------- behind a proxy


def test_cookie_is_secure_behind_a_trusted_proxy(server: RunningServer) -> None:
    with client(server, source=PROXY) as proxy:
        trusted = sign_in(proxy, **{"X-Forwarded-Proto": "https"})
    with client(server, source="127.0.0.9") as stranger:
        untrusted = sign_in(stranger, **{"X-Forwarded-Proto": "https"})

    assert "secure" in trusted.headers["set-cookie"].lower()
    assert trusted.headers["strict-transport-security"] == "max-age=31536000"
    assert "secure" not in untrusted.headers["set-cookie"].lower()
    assert "strict-transport-security" not in untrusted.headers


def test_rate_limit_counts_the_forwarded_client(server: RunningServer) -> None:
    with client(server, source=PROXY) as proxy:
        first = [
            proxy.post("/login", data={"token": "x"}, headers={"X-Forwarded-For": "10.9.9.1"})
            for _ in range(4)
        ]
        second = proxy.post(
            "/login", data={"token": TOKEN}, headers={"X-Forwarded-For": "10.9.9.2"}
        )

    assert [r.status_code for r in first] == [401, 401, 401, 429]
    assert second.status_code == 303


def test_pages_with_a_csrf_token_are_not_cached(server: RunningServer) -> None:
    with client(server) as browser:
        anonymous = browser.get("/")
        sign_in(browser)
        signed_in = browser.get("/sources")

    assert 'name="csrf"' in signed_in.text
    assert signed_in.headers["cache-control"] == "no-store"
    assert "no-store" not in anonymous.headers.get("cache-control", "")


# ----------------------------------------------------------------- what pages say


def test_atom_links_come_from_the_public_url_not_the_host_header(server: RunningServer) -> None:
    with client(server) as http:
        feed = http.get("/events.atom?kind=post.published", headers={"Host": "evil.example"})

    root = ET.fromstring(feed.text)
    hrefs = [link.get("href") or "" for link in root.iter(f"{ATOM}link")]
    hrefs.append(root.findtext(f"{ATOM}id") or "")
    assert hrefs and all(h.startswith("https://tracker.example/") for h in hrefs), hrefs
    assert "evil.example" not in feed.text


def test_only_messages_the_application_set_are_shown(server: RunningServer) -> None:
    forged = "Your token expired: sign in at evil.example"
    with client(server) as browser:
        shown = browser.get("/sources", params={"msg": forged})
        sign_in(browser)
        csrf = csrf_of(browser.get("/sources").text)
        added = browser.post("/subscriptions", data={"csrf": csrf, "url": "json://127.0.0.1:9/h"})
        page = browser.get(added.headers["location"])

    assert forged not in shown.text
    assert "Added subscription 1" in page.text


# ----------------------------------------------------------------- the OpenAPI document


def test_openapi_documents_what_the_server_answers(server: RunningServer) -> None:
    with client(server) as http:
        document = http.get("/openapi.json").json()
        invalid = http.get("/api/events", params={"limit": "many"})
        unauthorised = http.post("/api/sources", json={"kind": "feed", "target": "x"})
        missing = http.get("/api/events/999")

    paths = document["paths"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    error_ref = {"$ref": "#/components/schemas/Error"}
    listing = paths["/api/events"]["get"]["responses"]
    assert listing["422"]["content"]["application/json"]["schema"] == error_ref
    assert set(invalid.json()) == {"detail"} and invalid.status_code == 422
    post = paths["/api/sources"]["post"]
    assert post["security"] == [{"bearer": []}] and "401" in post["responses"]
    assert unauthorised.status_code == 401
    assert "404" in paths["/api/events/{event_id}"]["get"]["responses"]
    assert missing.status_code == 404 and set(missing.json()) == {"detail"}
    subscriptions = paths["/api/subscriptions"]["get"]
    assert subscriptions["security"] == [{"bearer": []}] and "401" in subscriptions["responses"]
    assert "security" not in paths["/api/events"]["get"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
