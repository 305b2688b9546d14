"""Lineage: who is exposed when a base model closes up, and derivatives looser than their base.

Most open models are built on a few bases. When one of them is gated, withdrawn, emptied
or relicensed, everything built on it inherits the problem: `lineage.exposed` reports it
beside the cause, with how many repos are built on the base (by relation), which of them
the tracker watches, and the most downloaded. All of it is computed here from plain data:
the cause event, what the Hub said (`Derivatives`) and what the tracker's own graph holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracker.detect import with_data
from tracker.events import EventDraft
from tracker.observations import RELATIONS, Derivatives
from tracker.openness import LICENSE_CLASSES, license_class

# Each kind of derivative, as the summary names it (one, many).
_NOUNS = {
    "finetune": ("fine-tune", "fine-tunes"),
    "adapter": ("adapter", "adapters"),
    "quantized": ("quantization", "quantizations"),
    "merge": ("merge", "merges"),
    "unknown": ("of unsaid relation", "of unsaid relation"),
}


def _always(_event: EventDraft) -> bool:
    return True


def _made_manual(event: EventDraft) -> bool:
    return (event.after or {}).get("gated") == "manual"


def _license_stricter(event: EventDraft) -> bool:
    openness = event.data.get("openness") or {}
    before, after = openness.get("before") or {}, openness.get("after") or {}
    if not before.get("license") or not after.get("license"):
        return False
    return LICENSE_CLASSES.index(after["license"]) > LICENSE_CLASSES.index(before["license"])


def _terms_stricter(event: EventDraft) -> bool:
    # The contract's `clauses_added` of access.terms_changed and license.terms_changed.
    return bool(event.data.get("clauses_added")) or event.data.get("stricter") is True


# The events that close a base up for whoever builds on it, by kind: the one hook every
# cause goes through (a new cause kind is one more entry).
CLOSING_CAUSES: dict[str, Callable[[EventDraft], bool]] = {
    "access.gated": _always,
    "access.gate_changed": _made_manual,
    "repo.withdrawn": _always,
    "content.withdrawn": _always,
    "license.changed": _license_stricter,
    "access.terms_changed": _terms_stricter,
    "license.terms_changed": _terms_stricter,
}
_CAUSE_WORDS = {
    "access.gated": "gated",
    "access.gate_changed": "gate made manual",
    "repo.withdrawn": "withdrawn",
    "content.withdrawn": "content withdrawn",
    "license.changed": "license made stricter",
    "access.terms_changed": "gate terms made stricter",
    "license.terms_changed": "license terms made stricter",
}


def closes_up(event: EventDraft) -> bool:
    """Whether `event` closes a model up for the repos built on it."""
    if event.data.get("repo_type", "model") != "model":
        return False
    predicate = CLOSING_CAUSES.get(event.kind)
    return predicate is not None and predicate(event)


def closing_bases(events: Iterable[EventDraft]) -> list[str]:
    """The models that closed up in these events, in order, each once."""
    return list(dict.fromkeys(e.subject for e in events if closes_up(e)))


@dataclass(frozen=True)
class Node:
    """A repo in the graph as the tracker knows it: its relation to the base it was
    reached from, and its license when it is watched."""

    id: str
    relation: str | None = None
    license: str | None = None
    license_name: str | None = None
    watched: bool = False

    @property
    def license_class(self) -> str:
        return license_class(self.license, self.license_name)


def looser(child: str, base: str) -> bool:
    """Whether a license class is more open than its base's (both known)."""
    if "unknown" in (child, base):
        return False
    return LICENSE_CLASSES.index(child) < LICENSE_CLASSES.index(base)


@dataclass(frozen=True)
class Exposure:
    """A `lineage.exposed` waiting for its cause's id (known once the cause is stored)."""

    cause: EventDraft
    base_class: str
    watched: tuple[Node, ...] = ()
    derivatives: Derivatives | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def event(self, cause_event_id: int | None) -> EventDraft | None:
        """The event, or None when nothing is built on the base."""
        counts, counted_by = self._counts()
        total = counts["total"]
        if total == 0:
            return None
        watched = sorted({n.id: n for n in self.watched}.values(), key=lambda n: n.id.lower())
        others = max(total - len(watched), 0)
        summary = _summary(len(watched), others, counted_by)
        top = self._top()
        looser_ids = [n.id for n in watched if looser(n.license_class, self.base_class)]
        looser_ids += [t["id"] for t in top if t["looser_license"] and t["id"] not in looser_ids]
        breakdown = _breakdown(counts)
        return EventDraft(
            kind="lineage.exposed",
            subject=self.cause.subject,
            title=f"{self.cause.subject} closed up ({_CAUSE_WORDS[self.cause.kind]}): {summary}",
            fingerprint=f"{self.cause.kind}@{self.cause.fingerprint}",
            url=self.cause.url,
            after={"derivatives": total, "watched_derivatives": len(watched)},
            data={
                "repo_type": "model",
                "cause": self.cause.kind,
                "cause_event_id": cause_event_id,
                "derivatives": counts,
                "derivatives_counted_by": counted_by,
                "watched_derivatives": [n.id for n in watched],
                "watched": [
                    {
                        "id": n.id,
                        "relation": n.relation,
                        "license": n.license,
                        "license_class": n.license_class,
                        "looser_license": looser(n.license_class, self.base_class),
                    }
                    for n in watched
                ],
                "others": others,
                "top": top,
                "base_license_class": self.base_class,
                "looser_licenses": looser_ids,
                "summary": summary + (f" ({breakdown})" if breakdown else ""),
                **self.extra,
            },
        )

    def _counts(self) -> tuple[dict[str, int], str]:
        """How many repos name the base, by relation, and where the numbers come from:
        `hub` (its childrenModelCount), `listing` (every derivative listed),
        `listing_partial` (the first pages only: a lower bound), `watched` (the graph)."""
        found = self.derivatives
        watched = {n.id.lower(): n for n in self.watched}
        if found is not None and found.counts is not None:
            relations = {k: v for k, v in found.counts.items() if k != "total"}
            total = found.counts.get("total", sum(relations.values()))
            counted, source = dict(relations), "hub"
        elif found is not None and found.listed:
            counted = dict(found.by_relation)
            total, source = found.listed, "listing" if found.complete else "listing_partial"
        else:
            counted = {}
            for node in watched.values():
                name = node.relation or "unknown"
                counted[name] = counted.get(name, 0) + 1
            total, source = len(watched), "watched"
        total = max(total, len(watched))
        if source != "watched":  # every relation, zeros too, then any the Hub adds
            counted = {r: counted.get(r, 0) for r in RELATIONS} | {
                r: n for r, n in counted.items() if r not in RELATIONS
            }
        return {"total": total, **counted}, source

    def _top(self) -> list[dict[str, Any]]:
        if self.derivatives is None:
            return []
        return [
            {
                "id": d.id,
                "relation": d.relation,
                "downloads": d.downloads,
                "license": d.license,
                "looser_license": looser(license_class(d.license), self.base_class),
            }
            for d in self.derivatives.top
        ]


def exposures(
    events: Sequence[EventDraft],
    *,
    derivatives: Mapping[str, Derivatives],
    watched: Mapping[str, Sequence[Node]],
) -> list[Exposure]:
    """An exposure for each model that closed up in `events` (its first closing event)."""
    found: dict[str, Exposure] = {}
    for event in events:
        if event.subject in found or not closes_up(event):
            continue
        openness = event.data.get("openness") or {}
        side = openness.get("after") or openness.get("before") or {}
        found[event.subject] = Exposure(
            cause=event,
            base_class=str(side.get("license", "unknown")),
            watched=tuple(watched.get(event.subject, ())),
            derivatives=_lookup(derivatives, event.subject),
        )
    return list(found.values())


def with_lineage(event: EventDraft, bases: Sequence[Node], license_of: Node) -> EventDraft:
    """A derivative's event with `data.lineage`: its bases and which it is looser than."""
    if not bases:
        return event
    mine = license_of.license_class
    listed = [
        {
            "id": b.id,
            "relation": b.relation,
            "license": b.license if b.watched else None,
            "license_class": b.license_class if b.watched else "unknown",
        }
        for b in bases
    ]
    looser_than = [b.id for b in bases if b.watched and looser(mine, b.license_class)]
    return with_data(
        event, lineage={"bases": listed, "license_class": mine, "looser_than_base": looser_than}
    )


def _lookup(derivatives: Mapping[str, Derivatives], base: str) -> Derivatives | None:
    if base in derivatives:
        return derivatives[base]
    lowered = {k.lower(): v for k, v in derivatives.items()}
    return lowered.get(base.lower())


def _summary(watched: int, others: int, counted_by: str) -> str:
    """ "31 watched repos and about 4,800 others are built on it"."""
    many = f"at least {others:,}" if counted_by == "listing_partial" else _about(others)
    mine = f"{watched:,} watched repo{'s' if watched != 1 else ''}"
    if watched and others:
        return f"{mine} and {many} other{'s' if others != 1 else ''} are built on it"
    if watched:
        return f"{mine} {'is' if watched == 1 else 'are'} built on it"
    return f"{many} repo{'s are' if others != 1 else ' is'} built on it"


def _about(count: int) -> str:
    """Exact below 100, else two significant figures: "about 4,800"."""
    if count < 100:
        return f"{count:,}"
    digits = len(str(count)) - 2
    rounded = round(count, -digits)
    return f"about {rounded:,}" if rounded != count else f"{count:,}"


def _breakdown(counts: Mapping[str, int]) -> str:
    """The counts by relation in words: 4 fine-tunes, 2 adapters, 1 quantization."""
    order = list(_NOUNS)
    ranked = sorted(
        counts.items(), key=lambda rn: (order.index(rn[0]) if rn[0] in order else 99, rn[0])
    )
    return ", ".join(
        f"{n:,} {_NOUNS.get(r, (r, r))[n != 1]}" for r, n in ranked if r != "total" and n
    )
