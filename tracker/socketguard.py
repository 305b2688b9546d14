"""A connect-time guard for code we do not control: every socket opened inside a scope.

Feeds and pages go through httpx, whose connections the guard in `netguard` checks. Alert
sends go through apprise, whose plugins open their own connections (requests, smtplib,
raw sockets) after doing their own DNS lookups, following their own redirects. Inside
`guarded_scope()`, every `connect`, `connect_ex`, `sendto` and `sendmsg` of a Python socket
is checked first: a host name is resolved once here, each address must be public, and the
socket connects to the address that was checked (so a second, different answer of the
resolver is never used). A lookup that fails refuses the connection. Non-IP sockets (Unix
domain, netlink) are refused. HTTP redirects made through `requests` are not followed.

The scope is a context variable: other threads (the poller, huggingface_hub) never see
it and pass straight through. Code that starts a thread of its own inside the scope would
escape it, which is why alert schemas are allowed only after an audit of their plugin
(`tracker.alerts.schemas`).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from tracker.netguard import ALLOW_HINT, BlockedAddressError, is_public, literal_host


class BlockedConnectionError(BlockedAddressError, ConnectionRefusedError):
    """A connection the guard refused; an OSError, so libraries report it as a failed send."""


@dataclass
class Scope:
    """What one guarded scope refused, for the one-line error of a failed send."""

    refused: list[str] = field(default_factory=list)

    def refuse(self, reason: str) -> BlockedConnectionError:
        if reason not in self.refused:
            self.refused.append(reason)
        return BlockedConnectionError(reason)


_SCOPE: ContextVar[Scope | None] = ContextVar("tracker_socket_guard", default=None)
_INSTALL_LOCK = threading.Lock()
_installed = False
_IP_FAMILIES = (socket.AF_INET, socket.AF_INET6)


@contextmanager
def guarded_scope() -> Iterator[Scope]:
    """Every connection this thread (and its asyncio tasks) opens inside is checked."""
    _install()
    scope = Scope()
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def active() -> bool:
    return _SCOPE.get() is not None


def _checked_address(scope: Scope, sock: socket.socket, address: Any) -> Any:
    """The address to use instead of `address`, or BlockedConnectionError."""
    if sock.family not in _IP_FAMILIES:
        raise scope.refuse(f"a local ({sock.family.name}) socket; {ALLOW_HINT}")
    host, port, *rest = address
    host = literal_host(str(host))
    try:
        infos = socket.getaddrinfo(host, port, sock.family, sock.type)
    except (socket.gaierror, UnicodeError) as exc:
        # Fail closed: a name that cannot be checked is not connected to.
        raise scope.refuse(f"cannot resolve {host} ({exc}); refusing to connect") from None
    if not infos:
        raise scope.refuse(f"cannot resolve {host}; refusing to connect")
    for info in infos:
        ip = str(info[4][0])
        if not is_public(ip):
            shown = host if host == ip else f"{host} ({ip})"
            raise scope.refuse(f"{shown} is a private or local address; {ALLOW_HINT}")
    resolved = infos[0][4]
    return (resolved[0], resolved[1], *rest) if rest else (resolved[0], resolved[1])


def _install() -> None:
    """Wrap the socket methods once per process; outside a scope they only pass through."""
    global _installed
    with _INSTALL_LOCK:
        if _installed:
            return
        _wrap_socket_methods()
        _refuse_requests_redirects()
        _installed = True


def _wrap_socket_methods() -> None:
    cls = socket.socket
    real_connect, real_connect_ex = cls.connect, cls.connect_ex
    real_sendto, real_sendmsg = cls.sendto, cls.sendmsg

    def connect(self: socket.socket, address: Any) -> None:
        scope = _SCOPE.get()
        if scope is not None:
            address = _guarded(scope, self, address)
        return real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        scope = _SCOPE.get()
        if scope is not None:
            address = _guarded(scope, self, address)
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        scope = _SCOPE.get()
        if scope is not None and args:
            args = (*args[:-1], _guarded(scope, self, args[-1]))
        return real_sendto(self, data, *args)

    def sendmsg(self: socket.socket, buffers: Any, *args: Any) -> int:
        scope = _SCOPE.get()
        if scope is not None and len(args) >= 3 and args[2] is not None:
            args = (*args[:2], _guarded(scope, self, args[2]), *args[3:])
        return real_sendmsg(self, buffers, *args)

    cls.connect = connect  # type: ignore[method-assign,assignment]
    cls.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    cls.sendto = sendto  # type: ignore[method-assign,assignment]
    cls.sendmsg = sendmsg  # type: ignore[method-assign,assignment]


def _guarded(scope: Scope, sock: socket.socket, address: Any) -> Any:
    try:
        return _checked_address(scope, sock, address)
    except BlockedConnectionError:
        # The caller may drop the socket without closing it when an error surprises it.
        sock.close()
        raise


def _refuse_requests_redirects() -> None:
    """Inside a scope, `requests` returns a 3xx response as it is instead of following it."""
    try:
        import requests
    except ImportError:  # pragma: no cover - apprise depends on requests
        return
    real = requests.Session.get_redirect_target

    def get_redirect_target(self: Any, response: Any) -> Any:
        target = real(self, response)
        scope = _SCOPE.get()
        if target and scope is not None:
            scope.refused.append(f"HTTP {response.status_code} redirect not followed")
            return None
        return target

    requests.Session.get_redirect_target = get_redirect_target  # type: ignore[method-assign,assignment]
