"""The network clients one poll run shares across its threads, created on first use: the
HTTP fetcher for feeds and pages, the Hub client, and the processes that parse feeds and
read PDFs."""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeVar

from tracker.config import Settings
from tracker.errors import FetchError
from tracker.http import Fetcher

if TYPE_CHECKING:
    from collections.abc import Callable

    from tracker.feedparse import ParsedFeed
    from tracker.pdftext import PdfText
    from tracker.sources.hubclient import HubClient

T = TypeVar("T")

# Documents this large are parsed in a worker process even when parsing runs in-line, so
# that a pathological one can be stopped when it takes too long.
BIG_DOCUMENT_BYTES = 512 * 1024
PARSE_SECONDS = 60.0


class Clients:
    """What the fetch side of a poll run needs to reach the world.

    With `parallel_parsing`, feeds are parsed in worker processes (one per core): fetching
    is I/O and threads suffice, but feedparser is pure Python and would keep a baseline of
    many feeds on one core.
    """

    def __init__(self, settings: Settings, *, parallel_parsing: bool = False) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._http: Fetcher | None = None
        self._hub: HubClient | None = None
        self._parallel = parallel_parsing and (os.cpu_count() or 1) > 1 and _may_fork()
        self._parsers: ProcessPoolExecutor | None = None
        self._aborted = False

    def parse_feed(
        self, body: bytes, *, url: str, content_type: str | None, baseline: bool = False
    ) -> ParsedFeed:
        """feedparser on the bytes: in a worker process when parsing in parallel or when the
        document is big, so its time is bounded; a lost worker is replaced and the parse
        tried once more."""
        from tracker import feedparse  # the parsers, imported by the first body to read

        if not self._parallel and (len(body) < BIG_DOCUMENT_BYTES or not _may_fork()):
            return feedparse.parse(
                body,
                url=url,
                content_type=content_type,
                fast=self.settings.feed_fast_path,
                baseline=baseline,
            )
        return self._in_worker(
            feedparse.parse,
            body,
            url=url,
            content_type=content_type,
            fast=self.settings.feed_fast_path,
            baseline=baseline,
            doing="parsing",
            what="feed parser",
        )

    def read_pdf(self, body: bytes) -> PdfText:
        """The text of a PDF, always read in a worker process: pypdf is pure Python, and a
        hostile document must not hold a poll thread and a core for long."""
        from tracker.pdftext import read_pdf

        return self._in_worker(read_pdf, body, doing="reading the PDF", what="PDF reader")

    def _in_worker(
        self, function: Callable[..., T], *args: Any, doing: str, what: str, **kwargs: Any
    ) -> T:
        """`function(*args, **kwargs)` in a parser process, bounded by PARSE_SECONDS; a lost
        worker is replaced and the call tried once more. In a process that may not start
        children (a Celery pool process) it runs in-line, bounded by the task's time limit."""
        if not _may_fork():
            return function(*args, **kwargs)
        for attempt in range(2):
            pool = self._parser_pool()
            try:
                # submit() raises too, when the pool broke since its last document.
                future = pool.submit(function, *args, **kwargs)
                return future.result(timeout=PARSE_SECONDS)
            except FutureTimeout:
                self._replace_parsers(pool, kill=True)
                raise FetchError(
                    f"{doing} took longer than {PARSE_SECONDS:.0f}s: the document is too complex"
                ) from None
            except BrokenProcessPool:
                # A worker died (the OOM killer, a signal), or the fork server it came
                # from did (systemd's stop signals every process of the unit): the pool is
                # unusable for every document in it; a new one starts a new fork server.
                self._replace_parsers(pool)
                if attempt == 1 or self._aborted:
                    raise FetchError(f"the {what} process died twice on this document") from None
        raise AssertionError("unreachable")

    def _parser_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._parsers is None:
                self._parsers = ProcessPoolExecutor(
                    os.cpu_count() or 1,
                    mp_context=_parser_context(),
                    # Ctrl-C reaches the whole process group; the parent decides what an
                    # interrupt means. (A function of this module would import the module,
                    # and with it the HTTP client and the settings, in every parser.)
                    initializer=functools.partial(signal.signal, signal.SIGINT, signal.SIG_IGN),
                )
            return self._parsers

    def _replace_parsers(self, broken: ProcessPoolExecutor, *, kill: bool = False) -> None:
        with self._lock:
            if self._parsers is broken:
                self._parsers = None
        if kill:
            for process in list(getattr(broken, "_processes", {}).values()):
                process.kill()
        broken.shutdown(wait=False, cancel_futures=True)

    @property
    def http(self) -> Fetcher:
        with self._lock:
            if self._http is None:
                self._http = Fetcher(self.settings)
                if self._aborted:
                    self._http.abort()
            return self._http

    @property
    def hub(self) -> HubClient:
        from tracker.sources.hubclient import HubClient

        with self._lock:
            if self._hub is None:
                self._hub = HubClient(self.settings)
            return self._hub

    @property
    def http_requests(self) -> int:
        return self._http.requests if self._http else 0

    @property
    def hub_requests(self) -> int:
        return self._hub.requests if self._hub else 0

    @property
    def body_bytes(self) -> int:
        return self._http.body_bytes if self._http else 0

    def abort(self) -> None:
        """Make the fetches in flight fail now (an interrupted poll records nothing of them)."""
        with self._lock:
            self._aborted = True
            http = self._http
        if http is not None:
            http.abort()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        if self._parsers is not None:
            self._parsers.shutdown(wait=not self._aborted, cancel_futures=True)

    def __enter__(self) -> Clients:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _may_fork() -> bool:
    """Whether this process may start parser processes: a Celery pool process is daemonic,
    and multiprocessing refuses children to those (there the task's time limit bounds a
    parse instead)."""
    return not multiprocessing.current_process().daemon


def _parser_context() -> multiprocessing.context.BaseContext:
    """Processes for feedparser and pypdf: forked from a small, single-threaded server
    process that imported only the feed parser (forking this threaded process could copy a
    held lock, and spawning would import the whole application in every worker). pypdf is
    imported by the first PDF a process reads (`tracker.pdftext`), not by every parser."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tracker.feedparse"])
    return context
