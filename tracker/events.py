"""The event vocabulary: kinds, severities, and the draft that detection hands to storage."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SEVERITIES = ("info", "notice", "warning", "critical")

KIND_SEVERITY: dict[str, str] = {
    "model.published": "notice",
    "dataset.published": "notice",
    "space.published": "notice",
    "repo.updated": "info",
    "access.gated": "warning",
    "access.gate_changed": "notice",
    "access.ungated": "notice",
    "license.changed": "warning",
    "repo.withdrawn": "warning",
    "repo.restored": "notice",
    "repo.renamed": "info",
    "post.published": "notice",
    "page.changed": "notice",
    "disclosure.withheld": "warning",
    "disclosure.regressed": "warning",
    "source.baselined": "info",
    "source.failing": "warning",
    "source.recovered": "info",
}
KINDS = tuple(KIND_SEVERITY)


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True)
class EventDraft:
    """An event as detection decides it, before it has an id.

    `fingerprint` tells this change apart from other changes of the same kind to the same
    subject (the new license, the new sha, the entry id); with the source, kind and subject
    it forms the event's idempotency key.
    """

    kind: str
    subject: str
    title: str
    fingerprint: str
    url: str | None = None
    published_at: datetime | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def severity(self) -> str:
        return KIND_SEVERITY[self.kind]

    def key(self, source_id: int | None) -> str:
        """A stable digest of (source, kind, subject, fingerprint)."""
        parts = [source_id, self.kind, self.subject, self.fingerprint]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()
