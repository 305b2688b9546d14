"""The private-network guard's address rules and URL checks."""

from __future__ import annotations

import pytest

from tracker.catalog import normalize_http_url
from tracker.config import Settings
from tracker.errors import UserError
from tracker.netguard import is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "::1",
        "fe80::1",
        "fd00::1",
        "fc00::5",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "::",
    ],
)
def test_local_and_private_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "151.101.1.69"])
def test_internet_addresses_are_public(address: str) -> None:
    assert is_public(address)


@pytest.fixture
def guarded() -> Settings:
    return Settings(_env_file=None, allow_private_networks=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/feed.xml",
        "http://localhost:8080/feed",
        "http://[::1]/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00::1]/x",
        "http://2130706433/x",  # 127.0.0.1 written as one number
    ],
)
def test_private_targets_are_refused_when_added(guarded: Settings, url: str) -> None:
    with pytest.raises(UserError, match="TRACKER_ALLOW_PRIVATE_NETWORKS"):
        normalize_http_url(url, guarded)


def test_private_targets_pass_when_allowed() -> None:
    allowed = Settings(_env_file=None, allow_private_networks=True)

    assert (
        normalize_http_url("http://127.0.0.1:8000/feed.xml", allowed)
        == "http://127.0.0.1:8000/feed.xml"
    )


def test_unresolvable_host_is_accepted_and_checked_on_every_fetch(guarded: Settings) -> None:
    assert (
        normalize_http_url("https://no-such-host.invalid/feed", guarded)
        == "https://no-such-host.invalid/feed"
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/feed", "expected an http"),
        ("example.com/feed", "expected an http"),
        ("http:///feed", "expected an http"),
        ("https://user:secret@example.com/feed", "credentials"),
        ("http://example.com:99999/", "bad port"),
    ],
)
def test_malformed_urls_are_refused(guarded: Settings, url: str, problem: str) -> None:
    with pytest.raises(UserError, match=problem):
        normalize_http_url(url, guarded)


def test_url_is_tidied() -> None:
    allowed = Settings(_env_file=None, allow_private_networks=True)

    assert normalize_http_url("  HTTPS://Lab.Example.COM  ", allowed) == "https://lab.example.com/"
    assert normalize_http_url("https://lab.example/feed#top", allowed) == "https://lab.example/feed"


# Addresses that carry an IPv4 address inside an IPv6 one, and ranges that are never a
# public destination.
EMBEDDING_LOCAL = [
    "64:ff9b::7f00:1",  # NAT64 well-known prefix, 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64, the cloud metadata address
    "64:ff9b:1::808:808",  # local-use NAT64: translated by the operator's own gateway
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    "::127.0.0.1",  # IPv4-compatible
    "::10.0.0.1",
    "::ffff:0:7f00:1",  # SIIT
    "::ffff:0:a00:1",
    "fec0::1",  # site-local
    "192.0.0.9",
    "192.0.0.170",
    "2001::1",  # Teredo
]


@pytest.mark.parametrize("address", EMBEDDING_LOCAL)
def test_addresses_leading_to_local_ipv4_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize(
    "address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:0:808:808", "::8.8.8.8"]
)
def test_addresses_leading_to_public_ipv4_are_public(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "2002:7f00:1::1", "::ffff:0:7f00:1"])
def test_feed_on_an_embedding_address_is_refused(guarded: Settings, address: str) -> None:
    with pytest.raises(UserError, match="TRACKER_ALLOW_PRIVATE_NETWORKS"):
        normalize_http_url(f"http://[{address}]/feed.xml", guarded)
