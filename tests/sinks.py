"""HTTP sinks for alerts: small servers on loopback recording what apprise posts."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Received", "Sink"]


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Sink:
    """An HTTP server recording each POST; answers `statuses` in turn, then `status`.

    With `hang`, it reads the request and never answers (until the test ends); with `hold`,
    it answers once the test sets `released`.
    """

    status: int = 200
    statuses: list[int] = field(default_factory=list)
    hang: bool = False
    hold: bool = False  # answer only once `released` is set
    delay: float = 0.0  # answer that many seconds late
    on_request: Any = None  # called with each request's path as it arrives
    requests: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.released = threading.Event()
        self.arrived = threading.Event()  # set by the first request
        self.in_flight = 0
        self.max_in_flight = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sink._answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str = "/hook", query: str = "", *, auth: str = "") -> str:
        """A `json://` URL posting to this sink."""
        return f"json://{auth}127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")

    @property
    def payloads(self) -> list[Any]:
        with self._lock:
            return [r.payload for r in self.requests]

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        with self._lock:
            self.requests.append(Received(handler.path, dict(handler.headers), body))
            status = self.statuses.pop(0) if self.statuses else self.status
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.arrived.set()
        if self.on_request is not None:
            self.on_request(handler.path)
        try:
            if self.hang:
                self.released.wait(30)
                return
            if self.hold:
                self.released.wait(30)
            if self.delay:
                time.sleep(self.delay)
            self._reply(handler, status)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _reply(self, handler: BaseHTTPRequestHandler, status: int) -> None:
        reply = b'{"success": true}'
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(reply)))
        handler.end_headers()
        handler.wfile.write(reply)

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()
