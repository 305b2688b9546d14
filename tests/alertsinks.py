"""Local servers that alert plugins talk to: an HTTP sink for any method, a raw TCP listener.

The HTTP sink records every request (method, path, headers, body) and answers 200 with a
small JSON body that most plugins accept, or a redirect when told to. It can listen on
IPv4 or IPv6 loopback, and over TLS with a throwaway self-signed certificate (for hosted
services whose fixed host a test maps to loopback).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


@dataclass
class HttpSink:
    """Records every request; answers `redirect_to` with `redirect_status` when set."""

    host: str = "127.0.0.1"
    port_wanted: int = 0
    redirect_to: str | None = None
    redirect_status: int = 302
    reply: bytes = b'{"ok": true, "success": true, "code": 0, "status": "ok", "id": 1}'
    tls: Path | None = None  # a PEM file with certificate and key
    extra_headers: dict[str, str] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                sink._answer(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server_class = _Server6 if ":" in self.host else _Server
        self.server = server_class((self.host, self.port_wanted), Handler)
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        self.requests.append(
            Request(handler.command, handler.path, dict(handler.headers.items()), body)
        )
        if self.redirect_to:
            handler.send_response(self.redirect_status)
            handler.send_header("Location", self.redirect_to)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(200)
        for name, value in self.extra_headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(self.reply)))
        handler.end_headers()
        handler.wfile.write(self.reply)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class TcpListener:
    """Accepts raw TCP connections and records the first bytes each one sends."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.connections = 0
        self.received = b""
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.settimeout(0.5)
            with contextlib.suppress(OSError):
                self.received += conn.recv(4096)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.sock.close()


def self_signed_pem(folder: Path, names: list[str]) -> Path:
    """A certificate and key for `names`, made by the openssl command line tool."""
    pem = folder / "cert.pem"
    san = ",".join(f"DNS:{n}" for n in names)
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}",
            "-keyout", str(pem), "-out", str(pem.with_suffix(".crt")),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    pem.write_text(pem.with_suffix(".crt").read_text() + pem.read_text())
    return pem
