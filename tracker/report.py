"""The openness report: per Hub author, today's mix of repos by openness and how it moved;
the lineage report; the disclosure report (each author's release scorecards over time).

Today's mix comes from the stored repo states. The past is computed from the event log by
walking it backwards from today: each event undone (a publication removed, a gate
reopened, a license put back) gives the state just before it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.models import Event, Item, Source
from tracker.openness import ACCESS_LEVELS, LICENSE_CLASSES, Openness, classify, direction

HUB_EVENT_KINDS = (
    "model.published", "dataset.published", "space.published", "access.gated",
    "access.gate_changed", "access.ungated", "license.changed", "repo.withdrawn",
    "repo.restored", "repo.renamed",
)  # fmt: skip


def ever_seen(state: Mapping[str, Any]) -> bool:
    """Whether the Hub ever showed the repo: a watched repo that never existed (a typo, a
    release awaited) is no withdrawal. States stored before "unseen" existed say
    "withdrawn" without ever having had a license field."""
    if state.get("status") == "unseen":
        return False
    return not (state.get("status") == "withdrawn" and "license" not in state)


@dataclass
class Mix:
    """Repos counted by license class and by access level."""

    repos: int = 0
    license: dict[str, int] = field(default_factory=dict)
    access: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, states: Iterable[Mapping[str, Any]]) -> Mix:
        found = [classify(state) for state in states]
        licenses = Counter(o.license for o in found)
        access = Counter(o.access for o in found)
        return cls(
            repos=len(found),
            license={c: licenses.get(c, 0) for c in LICENSE_CLASSES},
            access={a: access.get(a, 0) for a in ACCESS_LEVELS},
        )


@dataclass
class AuthorReport:
    author: str
    today: Mix
    timeline: list[tuple[datetime, Mix]]
    moves: dict[str, int]


def openness_report(
    session: Session, *, since: datetime, now: datetime, author: str | None = None, points: int = 6
) -> list[AuthorReport]:
    """One report per author whose repos are watched (or just `author`)."""
    hub_sources = [s.id for s in session.exec(select(Source).where(Source.kind == "hub"))]
    states: dict[str, dict[str, dict[str, Any]]] = {}
    for key, data in session.exec(
        select(Item.key, Item.data).where(col(Item.source_id).in_(hub_sources))
    ):
        if not ever_seen(data):
            continue
        owner = str(data.get("id", key.split(":", 1)[-1])).split("/", 1)[0]
        states.setdefault(owner, {})[key] = dict(data)
    events = list(
        session.exec(
            select(Event)
            .where(
                col(Event.source_id).in_(hub_sources),
                col(Event.kind).in_(HUB_EVENT_KINDS),
                col(Event.detected_at) >= since,
            )
            .order_by(col(Event.id).desc())
        )
    )
    wanted = author.casefold() if author else None
    reports = []
    for owner in sorted(states, key=str.casefold):
        if wanted and owner.casefold() != wanted:
            continue
        own = [e for e in events if e.subject.split("/", 1)[0].casefold() == owner.casefold()]
        reports.append(_author_report(owner, states[owner], own, since, now, points))
    return reports


def _author_report(
    owner: str,
    current: dict[str, dict[str, Any]],
    events_newest_first: list[Event],
    since: datetime,
    now: datetime,
    points: int,
) -> AuthorReport:
    step = (now - since) / max(points, 1)
    moments = [now - step * i for i in range(points + 1)]  # newest first
    states = {key: dict(state) for key, state in current.items()}
    timeline: list[tuple[datetime, Mix]] = []
    pending = iter(events_newest_first)
    event = next(pending, None)
    for moment in moments:
        while event is not None and event.detected_at > moment:
            _undo(states, event)
            event = next(pending, None)
        timeline.append((moment, Mix.of(states.values())))
    timeline.reverse()
    return AuthorReport(owner, Mix.of(current.values()), timeline, _moves(events_newest_first))


def _undo(states: dict[str, dict[str, Any]], event: Event) -> None:
    """Turn the states back to just before `event`."""
    key = f"{event.data.get('repo_type', 'model')}:{event.subject}"
    state = states.get(key)
    if event.kind.endswith(".published"):
        states.pop(key, None)
    elif state is None:
        return
    elif event.kind == "repo.withdrawn":
        state["status"] = "available"
    elif event.kind == "repo.restored":
        state["status"] = "withdrawn"
    elif event.kind.startswith("access."):
        state["gated"] = (event.before or {}).get("gated", False)
    elif event.kind == "license.changed":
        for name in ("license", "license_name", "license_link"):
            state[name] = (event.before or {}).get(name)
    elif event.kind == "repo.renamed":
        old_id = (event.before or {}).get("id")
        if old_id:
            states.pop(key)
            states[f"{event.data.get('repo_type', 'model')}:{old_id}"] = state | {"id": old_id}


def _moves(events: list[Event]) -> dict[str, int]:
    """How the window went: repos getting harder or easier to use, published, withdrawn."""
    moves = Counter({"closing": 0, "opening": 0, "published": 0, "withdrawn": 0, "restored": 0})
    for event in events:
        openness = event.data.get("openness") or {}
        before, after = openness.get("before"), openness.get("after")
        if event.kind.endswith(".published"):
            moves["published"] += 1
        elif before and after:
            way = direction(Openness(**before), Openness(**after))
            if way != "same":
                moves[way] += 1
        if event.kind == "repo.withdrawn":
            moves["withdrawn"] += 1
        elif event.kind == "repo.restored":
            moves["restored"] += 1
    return dict(moves)


def as_json(reports: list[AuthorReport], *, since: datetime, now: datetime) -> dict[str, Any]:
    def mix(m: Mix) -> dict[str, Any]:
        return {"repos": m.repos, "license": m.license, "access": m.access}

    return {
        "since": since.isoformat(),
        "generated_at": now.isoformat(),
        "authors": [
            {
                "author": r.author,
                "today": mix(r.today),
                "timeline": [{"at": at.isoformat()} | mix(m) for at, m in r.timeline],
                "moves": r.moves,
            }
            for r in reports
        ],
    }


def lineage_report(session: Session, repo_id: str) -> dict[str, Any]:
    """`tracker report lineage`: what the graph knows above and below a repo, with the
    openness of each watched one, the derivatives whose license is looser than their
    base's, and the Hub's last count of what is built on it (from its last
    `lineage.exposed`)."""
    from tracker.lineage import tree
    from tracker.observations import RELATIONS

    report = tree(session, repo_id)
    direct = Counter(d["relation"] or "unknown" for d in report["derivatives"])
    report["counts"] = {
        "watched": {"total": len(report["derivatives"])}
        | {r: direct.get(r, 0) for r in RELATIONS}
        | {r: n for r, n in direct.items() if r not in RELATIONS},
        "watched_descendants": len(_ids(report["derivatives"], "derivatives")),
        "hub": _last_hub_count(session, report["id"]),
    }
    report["looser_licenses"] = _looser_licenses(report)
    return report


def _ids(entries: list[dict[str, Any]], key: str) -> set[str]:
    """Every repo id in a tree (a merge reached twice counts once)."""
    found: set[str] = set()
    for entry in entries:
        found |= {entry["id"].lower()} | _ids(entry.get(key, []), key)
    return found


def _last_hub_count(session: Session, repo_id: str) -> dict[str, Any] | None:
    """The derivative counts of the newest `lineage.exposed` of the repo, if any."""
    event = session.exec(
        select(Event)
        .where(Event.kind == "lineage.exposed", col(Event.subject).ilike(repo_id))
        .order_by(col(Event.id).desc())
        .limit(1)
    ).first()
    if event is None:
        return None
    return {
        **(event.data.get("derivatives") or {}),
        "counted_by": event.data.get("derivatives_counted_by"),
        "as_of": event.detected_at.isoformat(),
        "event_id": event.id,
    }


def _looser_licenses(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each derivative in the tree whose license is looser than its base's."""
    found: list[dict[str, Any]] = []

    def down(base: dict[str, Any]) -> None:
        for entry in base.get("derivatives", []):
            if entry.get("looser_than_base"):
                found.append({"id": entry["id"], "license": entry["license"], "base": base["id"]})
            down(entry)

    def up(child: dict[str, Any]) -> None:
        for entry in child.get("bases", []):
            if entry.get("derivative_looser"):
                found.append({"id": child["id"], "license": child["license"], "base": entry["id"]})
            up(entry)

    down(report)
    up(report)
    return found


def disclosure_report(session: Session, *, author: str | None = None) -> dict[str, Any]:
    """`tracker report disclosure`, and the data of a per-author view: per author (a Hub
    user or org; for posts and reports, the source's name), the scored releases oldest
    first, each dimension `disclosed`, `withheld` or `unknown` with its evidence, the
    score, and the `disclosure.regressed` that release yielded, if any. Plain data, ready
    for JSON."""
    from tracker.detect.releases import card_from_row
    from tracker.disclosure import DIMENSIONS
    from tracker.models import ReleaseScorecard, table

    cards = table(ReleaseScorecard)
    statement = sa.select(cards)
    if author is not None:
        statement = statement.where(sa.func.lower(cards.c.author) == author.lower())
    when = sa.func.coalesce(cards.c.published_at, cards.c.created_at)
    rows = [dict(row) for row in session.execute(statement.order_by(when, cards.c.id)).mappings()]
    regressions = _regressions(session, {row["subject"] for row in rows})
    authors: dict[str, dict[str, Any]] = {}
    for row in rows:
        card = card_from_row(row)
        entry = authors.setdefault(
            row["author"].casefold(), {"author": row["author"], "releases": []}
        )
        entry["author"] = row["author"]  # the latest spelling
        event = regressions.get((row["subject"], row["version"] if row["kind"] == "report" else ""))
        entry["releases"].append(
            {
                "subject": row["subject"],
                "kind": row["kind"],
                "title": row["title"],
                "url": row["url"],
                "source_id": row["source_id"],
                "version": row["version"] or None,
                "published_at": _iso(row["published_at"]),
                "recorded_at": _iso(row["created_at"]),
                "score": card.score,
                "of": len(DIMENSIONS),
                "disclosed": list(card.disclosed),
                "withheld": list(card.withheld),
                "unknown": [d.dimension for d in card.dimensions if d.status == "unknown"],
                "dimensions": {
                    d.dimension: {"status": d.status, "evidence": d.evidence}
                    for d in card.dimensions
                },
                "regressed": event,
            }
        )
    found = sorted(authors.values(), key=lambda a: a["author"].casefold())
    for entry in found:
        scores = [r["score"] for r in entry["releases"]]
        entry["count"] = len(scores)
        entry["latest_score"] = scores[-1] if scores else None
        entry["regressions"] = sum(1 for r in entry["releases"] if r["regressed"])
    return {"dimensions": list(DIMENSIONS), "authors": found}


def _regressions(session: Session, subjects: set[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """The latest `disclosure.regressed` of each subject (and report version)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    wanted = sorted(subjects)
    for start in range(0, len(wanted), 500):
        events = session.exec(
            select(Event)
            .where(
                Event.kind == "disclosure.regressed",
                col(Event.subject).in_(wanted[start : start + 500]),
            )
            .order_by(col(Event.id))
        )
        for event in events:
            version = str(event.data.get("version") or "")
            found[(event.subject, version)] = {
                "event_id": event.id,
                "previous": event.data.get("previous"),
                "lost": event.data.get("lost", []),
                "score_before": event.data.get("score_before"),
                "score_after": event.data.get("score_after"),
                "detected_at": event.detected_at.isoformat(),
            }
    return found


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
