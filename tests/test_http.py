"""The fetcher against a real local server: validators, caps, redirects, guard, politeness."""

from __future__ import annotations

import gzip
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tracker import netguard
from tracker.config import Settings
from tracker.http import Fetcher, FetchError, Validators

from .alertsinks import HttpSink, self_signed_pem
from .sites import Site


def fetcher(settings: Settings, **changes: object) -> Fetcher:
    return Fetcher(settings.model_copy(update=changes))


def test_sends_user_agent_accept_and_validators(settings: Settings, site: Site) -> None:
    url = site.put("/feed.xml", "<rss/>")
    with fetcher(settings) as f:
        f.get(
            url,
            validators=Validators(etag='"abc"', last_modified="Mon, 23 Nov 2026 10:00:00 GMT"),
            accept="application/rss+xml",
        )

    hit = site.hits_for("/feed.xml")[0]
    assert hit.headers["User-Agent"].startswith("release-tracker/")
    assert hit.headers["Accept"] == "application/rss+xml"
    assert hit.headers["If-None-Match"] == '"abc"'
    assert hit.headers["If-Modified-Since"] == "Mon, 23 Nov 2026 10:00:00 GMT"


def test_not_modified_has_no_body(settings: Settings, site: Site) -> None:
    url = site.put("/feed.xml", "<rss/>")
    with fetcher(settings) as f:
        first = f.get(url)
        second = f.get(url, validators=first.validators)

    assert first.status == 200 and first.body == b"<rss/>"
    assert second.not_modified and second.body == b""
    assert f.body_bytes == len(b"<rss/>")


def test_default_cap_is_ten_mebibytes() -> None:
    assert Settings(_env_file=None).http_max_bytes == 10 * 1024 * 1024


def test_cap_applies_after_decompression(settings: Settings, site: Site) -> None:
    # 11 MiB of zeros compress to about 11 KiB: the cap must count what gzip expands to.
    bomb = b"\0" * (11 * 1024 * 1024)
    url = site.put("/bomb.xml", bomb, gzip=True)
    assert len(gzip.compress(bomb)) < 100_000

    with fetcher(settings) as f, pytest.raises(FetchError, match="larger than 10 MiB"):
        f.get(url)


def test_body_just_under_cap_is_read(settings: Settings, site: Site) -> None:
    url = site.put("/ok.xml", b"x" * 4096, gzip=True)
    with fetcher(settings, http_max_bytes=4096) as f:
        assert len(f.get(url).body) == 4096


def test_redirects_are_followed_and_counted(settings: Settings, site: Site) -> None:
    site.put("/final.xml", "<rss/>")
    site.redirect("/moved.xml", "/final.xml", status=301)
    with fetcher(settings) as f:
        response = f.get(site.url("/moved.xml"))

    assert response.url == site.url("/final.xml")
    assert response.requests == 2


def test_redirect_limit(settings: Settings, site: Site) -> None:
    for n in range(7):
        site.redirect(f"/r{n}", f"/r{n + 1}")
    site.put("/r7", "<rss/>")

    with fetcher(settings) as f, pytest.raises(FetchError, match="more than 5 redirects"):
        f.get(site.url("/r0"))


def test_redirect_to_other_scheme_is_refused(settings: Settings, site: Site) -> None:
    site.redirect("/ftp", "ftp://files.example/feed.xml")
    with fetcher(settings) as f, pytest.raises(FetchError, match="non-HTTP"):
        f.get(site.url("/ftp"))


def test_guard_refuses_loopback(settings: Settings, site: Site) -> None:
    url = site.put("/feed.xml", "<rss/>")
    with fetcher(settings, allow_private_networks=False) as f, pytest.raises(FetchError) as raised:
        f.get(url)

    assert str(raised.value).startswith("refused: 127.0.0.1 is a private or local address")
    assert site.hits_for("/feed.xml") == []


def test_guard_checks_every_redirect_hop(
    settings: Settings, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This machine has no public server to start from: pretend 127.0.0.1 is public, so the
    # first hop passes and the redirect to 127.0.0.2 (still loopback) must be refused.
    real = netguard.is_public
    monkeypatch.setattr(netguard, "is_public", lambda a: a == "127.0.0.1" or real(a))
    port = site.server.port
    site.redirect("/hop", f"http://127.0.0.2:{port}/feed.xml")
    site.put("/feed.xml", "<rss/>")

    with fetcher(settings, allow_private_networks=False) as f, pytest.raises(FetchError) as raised:
        f.get(site.url("/hop"))

    assert "127.0.0.2 is a private or local address" in str(raised.value)
    assert [hit.path for hit in site.hits] == ["/hop"]


def test_guard_resolves_names(settings: Settings) -> None:
    with fetcher(settings, allow_private_networks=False) as f, pytest.raises(FetchError) as raised:
        f.get("http://localhost:9/feed.xml")

    assert "localhost" in str(raised.value) and "private or local" in str(raised.value)


def test_per_host_limit(settings: Settings, site: Site) -> None:
    for n in range(6):
        site.put(f"/slow{n}.xml", "<rss/>", delay=0.3)
    with fetcher(settings, per_host_limit=2) as f, ThreadPoolExecutor(6) as pool:
        list(pool.map(lambda n: f.get(site.url(f"/slow{n}.xml")), range(6)))

    assert site.max_in_flight == 2


@pytest.mark.parametrize(
    ("status", "message"),
    [(404, "HTTP 404 NOT FOUND"), (410, "HTTP 410 GONE"), (503, "HTTP 503 SERVICE UNAVAILABLE")],
)
def test_http_errors_are_one_line(
    settings: Settings, site: Site, status: int, message: str
) -> None:
    url = site.put("/x", "no", status=status)
    with fetcher(settings) as f, pytest.raises(FetchError, match=f"^{message}$"):
        f.get(url)


def test_connection_refused_is_one_line(settings: Settings) -> None:
    with fetcher(settings) as f, pytest.raises(FetchError) as raised:
        f.get("http://127.0.0.1:9/feed.xml")

    assert "\n" not in str(raised.value)
    assert "127.0.0.1" in str(raised.value)


def test_each_polling_thread_fetches_on_a_connection_of_its_own(
    settings: Settings, site: Site
) -> None:
    for n in range(24):
        site.put(f"/f{n}.xml", "<rss/>", delay=0.05)
    with fetcher(settings, per_host_limit=8) as f, ThreadPoolExecutor(8) as pool:
        for _ in range(2):
            list(pool.map(lambda n: f.get(site.url(f"/f{n}.xml")), range(24)))
        clients = list(f._clients)

    # Eight threads, one client each.
    assert len(clients) == 8
    assert all(c.is_closed for c in clients)  # closed with the fetcher
    assert len(site.hits) == 48 and site.max_in_flight == 8


def test_https_is_verified_against_the_trusted_certificates(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pem = self_signed_pem(tmp_path, ["localhost"])
    sink = HttpSink(tls=pem, reply=b"<rss/>")
    url = f"https://localhost:{sink.port}/feed.xml"
    try:
        with fetcher(settings) as f, pytest.raises(FetchError) as refused:
            f.get(url)
        monkeypatch.setenv("SSL_CERT_FILE", str(pem.with_suffix(".crt")))
        with fetcher(settings) as f, ThreadPoolExecutor(4) as pool:
            bodies = list(pool.map(lambda _: f.get(url).body, range(8)))
    finally:
        sink.close()

    assert "certificate" in str(refused.value).lower() and "\n" not in str(refused.value)
    assert bodies == [b"<rss/>"] * 8
