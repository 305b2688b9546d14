"""The private-network guard: user-supplied URLs must not reach the machine's own networks.

Sources and alert targets are URLs that anyone with write access can enter. Without this
guard they could make the tracker probe loopback services, the cloud metadata address or
the office LAN. Addresses are checked after DNS resolution, at the moment a connection is
opened (so every redirect hop and DNS rebinding are covered too).
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

import httpcore

ALLOW_HINT = "set TRACKER_ALLOW_PRIVATE_NETWORKS=true to allow it"


class BlockedAddressError(Exception):
    """A URL's host is, or resolves to, a loopback, private, link-local or reserved address."""


# Prefixes whose addresses carry an IPv4 address that decides where packets go: NAT64's
# well-known prefix (RFC 6052) and SIIT's IPv4-translated form (RFC 2765); IPv4-mapped,
# IPv4-compatible and 6to4 addresses have their own accessors below.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIIT = ipaddress.ip_network("::ffff:0:0:0/96")
_COMPATIBLE = ipaddress.ip_network("::/96")
# Never a public destination, whatever the Python version's tables say: local-use NAT64
# (RFC 8215, translated by the operator's own gateway), deprecated site-local, Teredo
# tunnels, and the IETF protocol assignments of 192.0.0.0/24.
_NEVER_PUBLIC = tuple(
    ipaddress.ip_network(n) for n in ("64:ff9b:1::/48", "fec0::/10", "2001::/32", "192.0.0.0/24")
)


def is_public(address: str) -> bool:
    """Whether an IP address belongs to the public internet.

    An IPv6 address that embeds an IPv4 address (mapped, compatible, SIIT, NAT64, 6to4)
    is as public as the IPv4 address it leads to.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
    if any(ip in network for network in _NEVER_PUBLIC if network.version == ip.version):
        return False
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or ip in _SIIT or ip in _COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def literal_host(host: str) -> str:
    """A host as the resolver wants it: `[::1]` (URL form) becomes `::1`."""
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        return text[1:-1]
    return text


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, literal IPs included."""
    infos = socket.getaddrinfo(literal_host(host), port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_host(host: str, port: int) -> list[str]:
    """The host's addresses, or BlockedAddressError if any of them is not public."""
    literal = literal_host(host)
    try:
        ipaddress.ip_address(literal.split("%", 1)[0])
    except ValueError:
        addresses = resolve(host, port)
    else:
        addresses = [literal]  # an address literal needs no lookup to be judged
    for address in addresses:
        if not is_public(address):
            shown = host if host == address else f"{host} ({address})"
            raise BlockedAddressError(f"{shown} is a private or local address; {ALLOW_HINT}")
    return addresses


def check_url(url: str) -> None:
    """Check an http(s) URL's host before it is stored; DNS failures pass (checked on use)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        check_host(host, port)
    except (socket.gaierror, UnicodeError):
        # Unresolvable now (offline, typo, split-horizon DNS): the connect-time check below
        # still guards every fetch.
        return


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, refusing connections to non-public addresses."""

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = check_host(host, port)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror}") from exc
        # Connect to the address that was checked, not to a second (possibly different)
        # answer of the resolver; TLS still verifies the certificate against `host`.
        last_error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error
