"""One deadline per fetch, enforced on the socket, and a way to abort every fetch at once.

httpx's timeouts bound each read, not a whole response: a server that drips one header line
every few seconds never trips a 5 s read timeout and can hold a poll for minutes. Every
connection the fetcher opens goes through `DeadlineBackend`, whose streams shorten each
read and write to what is left of the deadline of the fetch running in this thread, and
fail once it has passed. `abort()` shuts every open socket down, which wakes the threads
blocked on them at once (closing a socket from another thread does not).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore

_local = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every read and write this thread makes inside the block ends `seconds` from now."""
    previous = getattr(_local, "until", None)
    _local.until = time.monotonic() + seconds
    try:
        yield
    finally:
        _local.until = previous


def _remaining(timeout: float | None, error: type[Exception]) -> float | None:
    until = getattr(_local, "until", None)
    if until is None:
        return timeout
    left = until - time.monotonic()
    if left <= 0:
        raise error("the fetch took too long (deadline passed)")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose reads and writes end at the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, backend: DeadlineBackend) -> None:
        self._inner = inner
        self._backend = backend
        backend._opened(self)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self._backend._check_aborted(httpcore.ReadError)
        return self._inner.read(max_bytes, _remaining(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._backend._check_aborted(httpcore.WriteError)
        self._inner.write(buffer, _remaining(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._backend._closed(self)
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _remaining(timeout, httpcore.ConnectTimeout)
        secured = self._inner.start_tls(ssl_context, server_hostname, bounded)
        self._backend._closed(self)
        return DeadlineStream(secured, self._backend)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def shutdown(self) -> None:
        sock = self._inner.get_extra_info("socket")
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):  # already closed, or never connected
                sock.shutdown(socket.SHUT_RDWR)


class DeadlineBackend(httpcore.NetworkBackend):
    """Wraps a network backend (the private-network guard, or plain sockets)."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner
        self._streams: weakref.WeakSet[DeadlineStream] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._aborted = False

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        self._check_aborted(httpcore.ConnectError)
        bounded = _remaining(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        return DeadlineStream(stream, self)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by the tracker")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)

    def abort(self) -> None:
        """Fail every fetch in flight now, and every later one."""
        with self._lock:
            self._aborted = True
            streams = list(self._streams)
        for stream in streams:
            stream.shutdown()

    def _check_aborted(self, error: type[Exception]) -> None:
        if self._aborted:
            raise error("aborted")

    def _opened(self, stream: DeadlineStream) -> None:
        with self._lock:
            self._streams.add(stream)
        if self._aborted:
            stream.shutdown()

    def _closed(self, stream: DeadlineStream) -> None:
        with self._lock:
            self._streams.discard(stream)
