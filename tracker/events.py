"""The event vocabulary: kinds, severities, and the draft that detection hands to storage."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
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
    "repo.reported": "notice",
    "post.published": "notice",
    "page.changed": "notice",
    "disclosure.withheld": "warning",
    # Closing-up intelligence. The two *.terms_changed kinds are warnings when the terms got
    # stricter and notices otherwise: detection sets the severity of each event explicitly.
    "access.terms_changed": "warning",
    "license.terms_changed": "warning",
    "content.withdrawn": "warning",
    "lineage.exposed": "warning",
    "disclosure.regressed": "warning",
    "source.baselined": "info",
    "source.failing": "warning",
    "source.recovered": "info",
    "source.churned": "notice",
}
KINDS = tuple(KIND_SEVERITY)


class FrozenList(tuple[Any, ...]):
    """A list made read-only: a tuple that still compares equal to the list it was."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, list):
            return list(self) == other
        return tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__


def freeze(value: Any) -> Any:
    """A read-only copy of JSON-like data: mappings as views, lists as `FrozenList`s."""
    if isinstance(value, Mapping):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return FrozenList(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """Plain JSON-ready data again (dicts and lists) from `freeze`'s output."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(item) for item in value]
    return value


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
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    # Set only where a kind's severity depends on the change (terms got stricter or looser);
    # otherwise the kind decides.
    severity_override: str | None = None

    def __post_init__(self) -> None:
        if self.severity_override is not None and self.severity_override not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity_override!r}")
        # Truly immutable: detection hands drafts around, and nothing downstream may change
        # what it decided. Mappings become read-only views and lists tuples, all the way down.
        for name in ("before", "after", "data"):
            object.__setattr__(self, name, freeze(getattr(self, name)))

    @property
    def severity(self) -> str:
        return self.severity_override or KIND_SEVERITY[self.kind]

    def key(self, source_id: int | None) -> str:
        """A stable digest of (source, kind, subject, fingerprint)."""
        parts = [source_id, self.kind, self.subject, self.fingerprint]
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()
