"""The lineage graph in the database: fed by Hub polls, looked up when a base closes up.

Each Hub poll records what its models are built on (the `base_model:` tags and card fields
its listing already carries) in the `lineage` table, in the poll's transaction. When the
poll's detection closes a base model up, the graph says which watched repos are built on
it; the events of a derivative say what it is built on and whether its license is looser
than its base's. The decisions are pure (`tracker.detect.lineage`); this module only reads
the graph and hands plain data over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from tracker import store
from tracker.detect import Detection
from tracker.detect.lineage import (
    Exposure,
    Node,
    closing_bases,
    exposures,
    looser,
    with_lineage,
)
from tracker.models import Item, Lineage, Source, table
from tracker.observations import HubSnapshot, Observation, RepoState, repo_key

# The report walks at most this deep and this wide: lineage can be cyclic (a card naming
# its own derivative) and a popular base has thousands of watched descendants.
MAX_DEPTH = 12
MAX_NODES = 2000


def relate(
    session: Session, source: Source, observation: Observation, detection: Detection
) -> list[Exposure]:
    """Record the poll's lineage edges; add `data.lineage` to derivatives' events; the
    exposures of the base models that closed up (stored once their causes are)."""
    snapshot = observation.hub
    if snapshot is None:
        return []
    edges = _edges(snapshot)
    forget = [key.partition(":")[2] for key in detection.removals if key.startswith("model:")]
    store.write_lineage(session, source.id, edges, forget=forget, now=datetime.now(UTC))
    subjects = [e.subject for e in detection.events if e.data.get("repo_type") == "model"]
    bases = bases_of(session, subjects)
    states = repo_states(session, [b for found in bases.values() for b, _ in found] + subjects)
    states |= {
        state["id"]: state
        for key, state in detection.upserts.items()
        if key.startswith("model:") and "id" in state
    }
    detection.events = [
        with_lineage(
            event,
            [_node(b, relation, states.get(b)) for b, relation in bases.get(event.subject, [])],
            _node(event.subject, None, states.get(event.subject)),
        )
        if event.data.get("repo_type") == "model" and event.kind != "lineage.exposed"
        else event
        for event in detection.events
    ]
    derivatives = watched_derivatives(session, closing_bases(detection.events))
    child_states = repo_states(session, [c for found in derivatives.values() for c, _ in found])
    watched = {
        base: [_node(child, relation, child_states.get(child)) for child, relation in found]
        for base, found in derivatives.items()
    }
    return exposures(detection.events, derivatives=snapshot.derivatives, watched=watched)


def _edges(snapshot: HubSnapshot) -> dict[str, list[tuple[str, str | None, str]]]:
    """Every visible model the poll saw, with the bases it names (none included: an edge
    that disappeared from a card is dropped)."""
    seen = [
        *snapshot.listed.values(),
        *(c for c in snapshot.checked.values() if isinstance(c, RepoState)),
    ]
    return {
        repo.id: [(b.id, b.relation, b.origin) for b in repo.bases]
        for repo in seen
        if repo.type == "model" and repo.visible
    }


def bases_of(session: Session, children: Iterable[str]) -> dict[str, list[tuple[str, str | None]]]:
    """What each model names as its bases (over every source that saw it)."""
    return _neighbours(session, children, key="child", other="base")


def watched_derivatives(
    session: Session, bases: Iterable[str]
) -> dict[str, list[tuple[str, str | None]]]:
    """The watched models built on each base, with their relation."""
    return _neighbours(session, bases, key="base", other="child")


def _neighbours(
    session: Session, ids: Iterable[str], *, key: str, other: str
) -> dict[str, list[tuple[str, str | None]]]:
    lineage = table(Lineage)
    wanted = list(dict.fromkeys(ids))
    found: dict[str, dict[str, str | None]] = {}
    for chunk in store.chunks(wanted):
        rows = session.execute(
            sa.select(lineage.c[key], lineage.c[other], lineage.c.relation).where(
                lineage.c[key].in_(chunk)
            )
        )
        for mine, theirs, relation in rows:
            known = found.setdefault(mine, {})
            # Two sources may have seen the same edge; a stated relation wins.
            known[theirs] = known.get(theirs) or relation
    return {
        mine: sorted(edges.items(), key=lambda e: e[0].lower()) for mine, edges in found.items()
    }


def repo_states(session: Session, repo_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The stored states of watched models, by repo id (any source watching them)."""
    items = table(Item)
    keys = [repo_key("model", repo_id) for repo_id in dict.fromkeys(repo_ids)]
    found: dict[str, dict[str, Any]] = {}
    for chunk in store.chunks(keys):
        for key, data in session.execute(
            sa.select(items.c.key, items.c.data).where(items.c.key.in_(chunk))
        ):
            found.setdefault(key.partition(":")[2], dict(data))
    return found


def _node(repo_id: str, relation: str | None, state: Mapping[str, Any] | None) -> Node:
    if state is None or state.get("status") == "unseen":
        return Node(repo_id, relation)
    return Node(
        str(state.get("id", repo_id)),
        relation,
        license=state.get("license"),
        license_name=state.get("license_name"),
        watched=True,
    )


def tree(session: Session, repo_id: str) -> dict[str, Any]:
    """What the graph knows of a repo: above it, its bases up to the roots; below it, the
    watched repos built on it down to the leaves; each with its license and openness, and
    whether a derivative's license is looser than its base's."""
    walker = _Walker(session)
    root = walker.entry(repo_id, None)
    root["bases"] = walker.walk(repo_id, up=True, depth=0, seen={repo_id.lower()})
    walker.budget = MAX_NODES
    root["derivatives"] = walker.walk(repo_id, up=False, depth=0, seen={repo_id.lower()})
    return root


class _Walker:
    """A bounded walk of the graph, reading repo states as it goes."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.states: dict[str, dict[str, Any]] = {}
        self.budget = MAX_NODES

    def node(self, repo_id: str, relation: str | None = None) -> Node:
        if repo_id not in self.states:
            self.states.update(repo_states(self.session, [repo_id]))
        return _node(repo_id, relation, self.states.get(repo_id))

    def entry(self, repo_id: str, relation: str | None) -> dict[str, Any]:
        from tracker.openness import classify

        known = self.node(repo_id, relation)
        state = self.states.get(repo_id)
        return {
            "id": known.id,
            "relation": relation,
            "watched": known.watched,
            "license": known.license,
            "openness": classify(state).as_dict() if known.watched and state else None,
        }

    def walk(self, start: str, *, up: bool, depth: int, seen: set[str]) -> list[dict[str, Any]]:
        if depth >= MAX_DEPTH or self.budget <= 0:
            return []
        neighbours = bases_of if up else watched_derivatives
        found = neighbours(self.session, [start]).get(start, [])
        self.states.update(repo_states(self.session, [n for n, _ in found] + [start]))
        here = self.node(start)
        entries = []
        for other, relation in found:
            if other.lower() in seen or self.budget <= 0:
                continue
            self.budget -= 1
            entry = self.entry(other, relation)
            there = self.node(other)
            deeper = self.walk(other, up=up, depth=depth + 1, seen=seen | {other.lower()})
            if up:
                # Is the repo below (`start`) more open than this base of it?
                entry["derivative_looser"] = _looser(here, there)
                entry["bases"] = deeper
            else:
                entry["looser_than_base"] = _looser(there, here)
                entry["derivatives"] = deeper
            entries.append(entry)
        return entries


def _looser(child: Node, base: Node) -> bool:
    return child.watched and base.watched and looser(child.license_class, base.license_class)
