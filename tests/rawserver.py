"""Raw TCP servers on loopback for what an HTTP library would not send: headers dripped a
line at a time, responses that never come, hand-made encodings."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def raw_server(handle: Callable[[socket.socket], None]) -> Iterator[str]:
    """Serve each connection with `handle` on its own thread; yields `http://127.0.0.1:PORT`."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=_run, args=(handle, conn), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        listener.close()


def _run(handle: Callable[[socket.socket], None], conn: socket.socket) -> None:
    with conn:
        try:
            _read_request(conn)
            handle(conn)
        except OSError:
            pass  # the client went away


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    conn.settimeout(5)
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def dripping_headers(lines: int, every: float) -> Callable[[socket.socket], None]:
    """A status line, then one header line every `every` seconds, then a small feed."""

    def handle(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n")
        for n in range(lines):
            time.sleep(every)
            conn.sendall(b"X-Drip-%d: %d\r\n" % (n, n))
        body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
        conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    return handle


def fixed_response(raw: bytes) -> Callable[[socket.socket], None]:
    """Answer every request with these exact bytes."""

    def handle(conn: socket.socket) -> None:
        conn.sendall(raw)

    return handle
