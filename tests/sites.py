"""A local web site for tests: real HTTP on loopback, with pages tests change between polls."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import re
import threading
import time
from dataclasses import dataclass, field

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


@dataclass
class Page:
    """What the site answers for one path."""

    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    etag: bool = True
    last_modified: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    gzip: bool = False
    modified_at: float = field(default_factory=time.time)

    @property
    def etag_value(self) -> str:
        return '"' + hashlib.sha1(self.body).hexdigest()[:16] + '"'

    @property
    def last_modified_value(self) -> str:
        return email.utils.formatdate(self.modified_at, usegmt=True)


@dataclass(frozen=True)
class Hit:
    """One request the site received."""

    path: str
    headers: dict[str, str]
    status: int


class Site:
    """Serves `Page`s by path; conditional requests get 304 when the page is unchanged."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.pages: dict[str, Page] = {}
        self.hits: list[Hit] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def put(self, path: str, body: bytes | str, **options: object) -> str:
        """Serve `body` at `path` (replacing what was there); returns the page's URL."""
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            old = self.pages.get(path)
            page = Page(body=data, **options)  # type: ignore[arg-type]
            if old is not None and old.body == data and not options:
                page.modified_at = old.modified_at
            self.pages[path] = page
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        return self.put(path, b"", status=status, headers={"Location": location})

    def hits_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.path == path]

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self._answer(request)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _answer(self, request: Request) -> Response:
        with self._lock:
            page = self.pages.get(request.path)
        if page is None:
            self._log(request, 404)
            return Response("not found", status=404)
        if page.delay:
            time.sleep(page.delay)
        if page.status != 200:
            self._log(request, page.status)
            return Response(page.body, status=page.status, headers=page.headers)
        headers = dict(page.headers)
        if page.etag:
            headers["ETag"] = page.etag_value
        if page.last_modified:
            headers["Last-Modified"] = page.last_modified_value
        if self._not_modified(request, page):
            self._log(request, 304)
            return Response(status=304, headers=headers)
        body = page.body
        if page.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self._log(request, 200)
        return Response(body, status=200, headers=headers, content_type=page.content_type)

    @staticmethod
    def _not_modified(request: Request, page: Page) -> bool:
        if page.etag and request.headers.get("If-None-Match"):
            return request.headers["If-None-Match"] == page.etag_value
        if page.last_modified and request.headers.get("If-Modified-Since"):
            return request.headers["If-Modified-Since"] == page.last_modified_value
        return False

    def _log(self, request: Request, status: int) -> None:
        with self._lock:
            self.hits.append(Hit(request.path, dict(request.headers), status))
