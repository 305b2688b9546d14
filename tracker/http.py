"""Polite, bounded HTTP GETs for feeds and pages.

One `Fetcher` per poll run: a connection pool per polling thread, a per-host concurrency
limit, conditional requests, a redirect limit, a size cap applied after decompression and
a private-network guard on every connection.

Each thread has a client of its own (one connection, kept alive for the thread's next
fetch), all sharing one TLS context and one network backend. A pool shared by every thread
costs more than its fetches: httpcore 1.0.9 walks all its connections, and for each idle
one counts them all again, at every request and every response's end (seconds of CPU for
1,000 fetches on 100 threads, `bench/fetch_floor.py`); and with fewer connections kept
alive than open it can close a connection it has just handed to a waiting request
(encode/httpcore#1110). A thread's own pool is never shared, so neither can happen.
"""

from __future__ import annotations

import hashlib
import re
import ssl
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from tracker.config import Settings
from tracker.deadlines import DeadlineBackend, deadline
from tracker.decoding import ACCEPT_ENCODING, decode
from tracker.errors import DeferredError, FetchError
from tracker.netguard import BlockedAddressError, GuardedBackend
from tracker.observations import Validators

__all__ = ["DeferredError", "FetchError", "Validators"]

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
DEFAULT_RETRY_AFTER = 600.0
# A server asking for more than this is waited for this long (the scheduler's cap too).
MAX_RETRY_AFTER = 86400.0
CONDITIONAL_HEADERS = {"If-None-Match", "If-Modified-Since"}
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

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.requests = 0
        self.body_bytes = 0
        self._counter_lock = threading.Lock()
        self._host_slots: defaultdict[str, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(settings.per_host_limit)
        )
        self._hosts_lock = threading.Lock()
        inner: httpcore.NetworkBackend = (
            httpcore.SyncBackend() if settings.allow_private_networks else GuardedBackend()
        )
        self._backend = DeadlineBackend(inner)
        self._tls = httpx.create_ssl_context()  # as each transport would make, made once
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._clients_lock = threading.Lock()

    @property
    def _client(self) -> httpx.Client:
        """This thread's client."""
        client: httpx.Client | None = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = httpx.Client(
                transport=thread_transport(self._backend, self._tls),
                timeout=httpx.Timeout(self.settings.http_timeout_seconds, connect=10.0),
                follow_redirects=False,
                trust_env=False,
                headers={
                    "User-Agent": self.settings.user_agent,
                    "Accept-Encoding": ACCEPT_ENCODING,
                },
            )
            with self._clients_lock:
                self._clients.append(client)
        return client

    def close(self) -> None:
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            client.close()

    def abort(self) -> None:
        """Fail the fetches in flight at once (their sockets are shut down), and later ones."""
        self._backend.abort()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def deadline_seconds(self) -> float:
        """How long one fetch may take in all: redirects, headers and body."""
        return self.settings.http_timeout_seconds * 3

    def get(
        self, url: str, *, validators: Validators | None = None, accept: str | None = None
    ) -> Response:
        """GET `url`, following redirects by hand so each hop is checked and counted."""
        headers = _conditional_headers(validators)
        if accept:
            headers["Accept"] = accept
        until = time.monotonic() + self.deadline_seconds
        with deadline(self.deadline_seconds):
            for hop in range(self.settings.http_max_redirects + 1):
                response = self._get_once(url, headers, until)
                if response.status not in REDIRECT_STATUSES:
                    if response.not_modified and not headers.keys() & CONDITIONAL_HEADERS:
                        # Nothing was asked to be compared: a 304 here carries no feed, and
                        # taking it as "unchanged" would leave the source never baselined.
                        raise FetchError(
                            "HTTP 304 Not Modified to a request that was not conditional"
                        )
                    response.requests = hop + 1
                    return response
                url = _redirect_target(url, response)
        raise FetchError(f"more than {self.settings.http_max_redirects} redirects")

    def _get_once(self, url: str, headers: dict[str, str], until: float) -> Response:
        host = (urlsplit(url).hostname or "").lower()
        with self._slot(host):
            self._count(requests=1)
            try:
                with self._client.stream("GET", url, headers=headers) as http_response:
                    body = b""
                    if http_response.status_code == 200:
                        body = self._read_capped(http_response)
                    elif http_response.status_code >= 400:
                        raise _status_error(http_response)
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
                if time.monotonic() >= until - 0.1:
                    raise FetchError(
                        f"the fetch took too long (more than {self.deadline_seconds:g}s in all) "
                        f"fetching {host}"
                    ) from None
                raise FetchError(f"timed out ({_describe(exc)}) fetching {host}") from None
            except (httpx.HTTPError, httpcore.NetworkError) as exc:
                raise FetchError(f"{_describe(exc)} fetching {host}") from None
            except (httpx.InvalidURL, ValueError) as exc:
                # An address httpx cannot use (a malformed host, an odd port), in the request
                # or in a redirect's Location (httpx reads it even when not following), is the
                # source's problem, not the tracker's.
                raise FetchError(f"invalid URL fetching {host}: {_describe(exc)}") from None

    def _read_capped(self, response: httpx.Response) -> bytes:
        chunks = list(
            decode(
                response.iter_raw(),
                response.headers.get("content-encoding"),
                cap=self.settings.http_max_bytes,
            )
        )
        body = b"".join(chunks)
        self._count(body_bytes=len(body))
        return body

    def _slot(self, host: str) -> threading.BoundedSemaphore:
        with self._hosts_lock:
            return self._host_slots[host]

    def _count(self, *, requests: int = 0, body_bytes: int = 0) -> None:
        with self._counter_lock:
            self.requests += requests
            self.body_bytes += body_bytes


def thread_transport(backend: DeadlineBackend, tls: ssl.SSLContext) -> httpx.HTTPTransport:
    """httpx's transport for one thread: one connection at a time (a thread makes one
    request at a time), on `backend`'s sockets: a deadline per fetch, through the
    private-network guard unless private networks are allowed."""
    transport = httpx.HTTPTransport(verify=tls, limits=httpx.Limits(max_connections=1), retries=0)
    # httpx offers no public hook for httpcore's network backend; the pool reads this
    # attribute each time it opens a connection.
    transport._pool._network_backend = backend
    return transport


def _redirect_target(url: str, response: Response) -> str:
    location = response.headers.get("location")
    if not location:
        raise FetchError(f"HTTP {response.status} redirect without a Location header")
    try:
        target = urljoin(url, location.strip())
        scheme = urlsplit(target).scheme.lower()
    except ValueError:
        raise FetchError(f"redirect to an invalid URL: {location[:200]!r}") from None
    if scheme not in ("http", "https"):
        raise FetchError(f"redirect to a non-HTTP URL: {target[:200]!r}")
    return target


def _status_error(response: httpx.Response) -> FetchError:
    status = response.status_code
    wait = retry_after(response.headers.get("retry-after"))
    if status == 429 or (status == 503 and wait is not None):
        wait = min(wait if wait is not None else DEFAULT_RETRY_AFTER, MAX_RETRY_AFTER)
        return DeferredError(f"{_status_line(response)}; retrying in {round(wait)}s", wait)
    return FetchError(_status_line(response))


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
