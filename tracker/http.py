"""Polite, bounded HTTP GETs for feeds and pages.

One `Fetcher` per poll run: a shared connection pool, a per-host concurrency limit,
conditional requests, a redirect limit, a size cap applied after decompression and a
private-network guard on every connection.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from tracker.config import Settings
from tracker.errors import DeferredError, FetchError
from tracker.netguard import BlockedAddressError, GuardedBackend
from tracker.observations import Validators

__all__ = ["DeferredError", "FetchError", "Validators"]

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
DEFAULT_RETRY_AFTER = 600.0
_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)", re.IGNORECASE)


@dataclass
class Response:
    """A completed GET: either `not_modified`, or a body with its hash."""

    url: str
    status: int
    headers: dict[str, str]
    body: bytes = b""
    validators: Validators = field(default_factory=Validators)
    requests: int = 1  # one more for each redirect followed

    @property
    def fresh_for(self) -> float | None:
        """Seconds the server says the response stays fresh (Cache-Control max-age)."""
        match = _MAX_AGE.search(self.headers.get("cache-control", ""))
        return float(match.group(1)) if match else None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def body_hash(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


class Fetcher:
    """A thread-safe HTTP client for one poll run."""

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.requests = 0
        self.body_bytes = 0
        self._counter_lock = threading.Lock()
        self._host_slots: defaultdict[str, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(settings.per_host_limit)
        )
        self._hosts_lock = threading.Lock()
        timeout = httpx.Timeout(settings.http_timeout_seconds, connect=10.0)
        self._client = httpx.Client(
            transport=transport or guarded_transport(settings),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": settings.user_agent},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(
        self, url: str, *, validators: Validators | None = None, accept: str | None = None
    ) -> Response:
        """GET `url`, following redirects by hand so each hop is checked and counted."""
        headers = _conditional_headers(validators)
        if accept:
            headers["Accept"] = accept
        deadline = time.monotonic() + self.settings.http_timeout_seconds * 3
        for hop in range(self.settings.http_max_redirects + 1):
            response = self._get_once(url, headers, deadline)
            if response.status not in REDIRECT_STATUSES:
                response.requests = hop + 1
                return response
            location = response.headers.get("location")
            if not location:
                raise FetchError(f"HTTP {response.status} redirect without a Location header")
            url = urljoin(url, location)
            if urlsplit(url).scheme not in ("http", "https"):
                raise FetchError(f"redirect to a non-HTTP URL: {url[:200]}")
        raise FetchError(f"more than {self.settings.http_max_redirects} redirects")

    def _get_once(self, url: str, headers: dict[str, str], deadline: float) -> Response:
        host = (urlsplit(url).hostname or "").lower()
        with self._slot(host):
            self._count(requests=1)
            try:
                with self._client.stream("GET", url, headers=headers) as http_response:
                    body = b""
                    if http_response.status_code == 200:
                        body = self._read_capped(http_response, deadline)
                    elif http_response.status_code >= 400:
                        wait = retry_after(http_response.headers.get("retry-after"))
                        if http_response.status_code == 429 or (
                            http_response.status_code == 503 and wait is not None
                        ):
                            wait = wait if wait is not None else DEFAULT_RETRY_AFTER
                            raise DeferredError(
                                f"{_status_line(http_response)}; retrying in {round(wait)}s", wait
                            )
                        raise FetchError(_status_line(http_response))
                    return Response(
                        url=url,
                        status=http_response.status_code,
                        headers={k.lower(): v for k, v in http_response.headers.items()},
                        body=body,
                        validators=Validators(
                            etag=http_response.headers.get("etag"),
                            last_modified=http_response.headers.get("last-modified"),
                        ),
                    )
            except BlockedAddressError as exc:
                raise FetchError(f"refused: {exc}") from None
            except httpx.TimeoutException as exc:
                raise FetchError(f"timed out ({_describe(exc)}) fetching {host}") from None
            except (httpx.HTTPError, httpcore.NetworkError) as exc:
                raise FetchError(f"{_describe(exc)} fetching {host}") from None

    def _read_capped(self, response: httpx.Response, deadline: float) -> bytes:
        cap = self.settings.http_max_bytes
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise FetchError(f"response larger than {cap // 1024 // 1024 or 1} MiB")
            if time.monotonic() > deadline:
                raise FetchError("response took too long to arrive")
            chunks.append(chunk)
        self._count(body_bytes=size)
        return b"".join(chunks)

    def _slot(self, host: str) -> threading.BoundedSemaphore:
        with self._hosts_lock:
            return self._host_slots[host]

    def _count(self, *, requests: int = 0, body_bytes: int = 0) -> None:
        with self._counter_lock:
            self.requests += requests
            self.body_bytes += body_bytes


def guarded_transport(settings: Settings) -> httpx.HTTPTransport:
    """httpx's transport, with the private-network guard unless private networks are allowed."""
    limits = httpx.Limits(max_connections=max(settings.poll_concurrency, 10))
    transport = httpx.HTTPTransport(limits=limits, retries=0)
    if not settings.allow_private_networks:
        # httpx offers no public hook for httpcore's network backend; the pool reads this
        # attribute each time it opens a connection.
        transport._pool._network_backend = GuardedBackend()
    return transport


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _conditional_headers(validators: Validators | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if validators and validators.etag:
        headers["If-None-Match"] = validators.etag
    if validators and validators.last_modified:
        headers["If-Modified-Since"] = validators.last_modified
    return headers


def _status_line(response: httpx.Response) -> str:
    reason = response.reason_phrase or ""
    return f"HTTP {response.status_code} {reason}".strip()


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
