"""Who sends the alerts of new events: the part of "poll and alert" after the poll.

A poll hands the ids of the events it recorded to a sender. In this process that is
`BackgroundSender`, which sends on a thread of its own beside the polls (so a slow target
never stretches a poll); in distributed mode it is the Celery sender in `workers.tasks`,
which queues delivery tasks. Deliveries are already rows in the database (the outbox):
a sender only decides when they go out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Protocol

from tracker.alerts.deliver import DeliveryReport, deliver_due
from tracker.db import Database

log = logging.getLogger(__name__)


class Sender(Protocol):
    def events_recorded(self, event_ids: Sequence[int]) -> None:
        """New events (and their pending deliveries) are in the database."""


class BackgroundSender:
    """Sends due deliveries on a background thread whenever events are recorded."""

    def __init__(self, db: Database, *, on_message: Callable[[bool], None] | None = None) -> None:
        self.db = db
        self.report = DeliveryReport()
        self._on_message = on_message
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._again = False

    def events_recorded(self, event_ids: Sequence[int]) -> None:
        if event_ids:
            self.kick()

    def kick(self) -> None:
        """Send what is due now; if a run is going, it runs once more when done."""
        with self._lock:
            if self._thread is not None:
                self._again = True
                return
            self._thread = threading.Thread(target=self._run, name="deliver", daemon=True)
            self._thread.start()

    def finish(self, *, on_message: Callable[[bool], None] | None = None) -> DeliveryReport:
        """Send everything due (retries included) and wait until it is sent."""
        if on_message is not None:
            self._on_message = on_message
        self.kick()
        self.wait()
        return self.report

    def wait(self) -> None:
        while True:
            with self._lock:
                thread = self._thread
            if thread is None:
                return
            thread.join()

    def _run(self) -> None:
        while True:
            try:
                part = deliver_due(self.db, on_message=self._on_message)
                with self._lock:
                    self.report.add(part)
            except Exception:  # a database hiccup must not end sending for good
                log.exception("alert delivery run failed")
            with self._lock:
                if not self._again:
                    self._thread = None
                    return
                self._again = False
