"""What a fetch saw, as plain data: the input of detection."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracker.http import Validators


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a feed. `key` is its identity: guid, else link, else a content hash."""

    key: str
    title: str
    link: str | None
    published_at: datetime | None
    summary: str = ""
    author: str | None = None

    def state(self) -> dict[str, Any]:
        """What is stored of the entry between polls."""
        return {"title": self.title, "link": self.link}


@dataclass
class Observation:
    """The result of fetching one source.

    `unchanged` means the server answered 304 or sent the same bytes as last time: there is
    nothing to parse or detect, only the poll to record.
    """

    unchanged: bool
    items: list[Any] = field(default_factory=list)
    title: str | None = None
    validators: Validators | None = None
    content_hash: str | None = None
    requests: int = 1
