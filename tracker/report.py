"""Reports over the stored states and the event log: openness, lineage, terms, and
the disclosure report (each author's release scorecards over time).

The openness report: per Hub author, today's mix of repos by openness and how it moved.
Today's mix comes from the stored repo states. The past is computed from the event log by
walking it backwards from today: each event undone (a publication removed, a gate
reopened, a license or its clauses put back) gives the state just before it.

The lineage report: what the graph knows above and below a model. The terms report: the
clauses a repo's license page and gate (or a watched page) carry now, each with the
sentence that shows it and when it appeared.
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
from tracker.openness import (
    ACCESS_LEVELS,
    GATE_PART,
    LICENSE_CLASSES,
    LICENSE_PART,
    TERMS_KEY,
    Openness,
    classify,
    direction,
    merged_terms,
)

HUB_EVENT_KINDS = (
    "model.published", "dataset.published", "space.published", "access.gated",
    "access.gate_changed", "access.ungated", "license.changed", "repo.withdrawn",
    "repo.restored", "repo.renamed", "access.terms_changed", "license.terms_changed",
)  # fmt: skip
TERMS_KINDS = ("access.terms_changed", "license.terms_changed")


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
    elif event.kind in TERMS_KINDS:
        _undo_terms(state, event)
    elif event.kind.startswith("access."):
        state["gated"] = (event.before or {}).get("gated", False)
        _merge_terms(state)  # a gate's clauses count while the repo is gated
    elif event.kind == "license.changed":
        for name in ("license", "license_name", "license_link"):
            state[name] = (event.before or {}).get(name)
    elif event.kind == "repo.renamed":
        old_id = (event.before or {}).get("id")
        if old_id:
            states.pop(key)
            states[f"{event.data.get('repo_type', 'model')}:{old_id}"] = state | {"id": old_id}


def _undo_terms(state: dict[str, Any], event: Event) -> None:
    """Put back the clauses a terms event changed: the text it read (`data.terms_of`; an
    `access.terms_changed` is the gate's) had `before["clauses"]`."""
    part = GATE_PART if event.kind == "access.terms_changed" else event.data.get("terms_of")
    clauses = (event.before or {}).get("clauses")
    terms = state.get(TERMS_KEY)
    if not isinstance(part, str) or not isinstance(clauses, list):
        return
    parts = dict((terms or {}).get("parts") or {}) if isinstance(terms, Mapping) else {}
    parts[part] = dict(parts.get(part) or {}) | {"clauses": list(clauses)}
    if "open_license" in (event.before or {}):
        parts[part]["open_license"] = (event.before or {}).get("open_license")
    _merge_terms(state, parts)


def _merge_terms(state: dict[str, Any], parts: Mapping[str, Any] | None = None) -> None:
    """`state[TERMS_KEY]` again from its parts (or `parts`), as the repo is gated or not."""
    if parts is None:
        terms = state.get(TERMS_KEY)
        if not isinstance(terms, Mapping) or not isinstance(terms.get("parts"), Mapping):
            return
        parts = terms["parts"]
    ordered = {name: parts[name] for name in (LICENSE_PART, GATE_PART) if name in parts}
    merged = merged_terms(ordered, gated=bool(state.get("gated")))
    if merged is not None:
        state[TERMS_KEY] = merged


def _moves(events: list[Event]) -> dict[str, int]:
    """How the window went: repos getting harder or easier to use, published, withdrawn.
    One poll's events of one repo move it once (a stricter gate prompt is an
    `access.terms_changed` and a `license.terms_changed`)."""
    moves = Counter({"closing": 0, "opening": 0, "published": 0, "withdrawn": 0, "restored": 0})
    moved: set[tuple[str, datetime]] = set()
    for event in events:
        openness = event.data.get("openness") or {}
        before, after = openness.get("before"), openness.get("after")
        if event.kind.endswith(".published"):
            moves["published"] += 1
        elif before and after:
            way = direction(Openness(**before), Openness(**after))
            if way != "same" and (event.subject, event.detected_at) not in moved:
                moved.add((event.subject, event.detected_at))
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


# ---------------------------------------------------------------------------- terms report


def terms_report(session: Session, target: str) -> dict[str, Any]:
    """`tracker report terms`: the clauses a Hub repo's license page and gate carry now
    (`OWNER/REPO`), or a watched page's, or a license page some repos name (a URL); each
    with its evidence sentence and when it appeared. UserError for what is not watched."""
    from tracker.errors import UserError

    text = target.strip()
    if text.lower().startswith(("http://", "https://")):
        return _page_terms(session, text)
    from tracker.sources.hub import parse_target

    parsed = parse_target(text, None)
    if not parsed.repo_id:
        raise UserError(f"expected OWNER/REPO or a page's URL, not {target!r}")
    return _repo_terms(session, parsed.repo_id)


def _repo_terms(session: Session, repo_id: str) -> dict[str, Any]:
    from tracker.errors import UserError

    hub_sources = [s.id for s in session.exec(select(Source).where(Source.kind == "hub"))]
    found = [
        item
        for item in session.exec(
            select(Item)
            .where(col(Item.source_id).in_(hub_sources), col(Item.key).ilike(f"%:{repo_id}"))
            .order_by(col(Item.changed_at).desc())
        )
        if str(item.data.get("id", "")).lower() == repo_id.lower() and ever_seen(item.data)
    ]
    if not found:
        raise UserError(
            f"no watched Hub repo {repo_id}: watch it with `tracker sources add hub {repo_id}`"
        )
    item = sorted(found, key=lambda i: (i.key.split(":", 1)[0] != "model", -_stamp(i)))[0]
    state = item.data
    events = _terms_events(session, str(state["id"]), item.source_id)
    texts: list[dict[str, Any]] = []
    page = state.get("license_page")
    if isinstance(page, Mapping):
        texts.append(_license_text(page, events, item))
    gate = state.get("gate_terms")
    if isinstance(gate, Mapping):
        texts.append(_gate_text(gate, events, item, gated=state.get("gated")))
    return {
        "target": repo_id,
        "kind": "repo",
        "subject": state["id"],
        "repo_type": state.get("type", item.key.split(":", 1)[0]),
        "source_id": item.source_id,
        "license": {
            "id": state.get("license"),
            "name": state.get("license_name"),
            "link": state.get("license_link"),
        },
        "gated": state.get("gated", False),
        "openness": classify(state).as_dict(),
        "clauses": _union(texts),
        "texts": texts,
    }


def _page_terms(session: Session, url: str) -> dict[str, Any]:
    """A watched page's clauses, else those of a license page that watched repos name."""
    from tracker.errors import UserError

    wanted = _comparable_url(url)
    for source in session.exec(select(Source).where(Source.kind == "page")):
        if _comparable_url(source.target) != wanted or source.links:
            continue
        item = session.exec(
            select(Item).where(Item.source_id == source.id, Item.key == "text")
        ).first()
        if item is None or not isinstance(item.data.get("terms"), Mapping):
            raise UserError(f"{source.target} is watched but its text was not read yet: poll it")
        events = _terms_events(session, source.target, source.id)
        terms = item.data["terms"]
        text = {
            "text": "page",
            "url": source.target,
            "name": source.name,
            "read_at": _iso(item.changed_at),
            "open_license": terms.get("open_license"),
            "clauses": _clauses(terms, events, None, fallback=_iso(item.first_seen_at)),
        }
        return {
            "target": url,
            "kind": "page",
            "subject": source.target,
            "source_id": source.id,
            "clauses": _union([text]),
            "texts": [text],
        }
    hub_sources = [s.id for s in session.exec(select(Source).where(Source.kind == "hub"))]
    naming = []
    for item in session.exec(select(Item).where(col(Item.source_id).in_(hub_sources))):
        page = item.data.get("license_page")
        if isinstance(page, Mapping) and _comparable_url(str(page.get("url") or "")) == wanted:
            naming.append(item)
    if not naming:
        raise UserError(
            f"no watched page or license page {url}: watch it with `tracker sources add page URL`"
        )
    naming.sort(key=lambda i: -_stamp(i))
    first = naming[0]
    events = _terms_events(session, str(first.data["id"]), first.source_id)
    text = _license_text(first.data["license_page"], events, first)
    return {
        "target": url,
        "kind": "license_page",
        "subject": text["url"],
        "repos": sorted({str(i.data["id"]) for i in naming}, key=str.lower),
        "clauses": _union([text]),
        "texts": [text],
    }


def _license_text(page: Mapping[str, Any], events: list[Event], item: Item) -> dict[str, Any]:
    terms = page.get("terms") if isinstance(page.get("terms"), Mapping) else {}
    fallback = page.get("recorded_at") or _iso(item.first_seen_at)
    return {
        "text": LICENSE_PART,
        "link": page.get("link"),
        "url": page.get("url"),
        "read_at": page.get("checked_at"),
        "error": page.get("error"),
        "open_license": (terms or {}).get("open_license"),
        "clauses": _clauses(terms or {}, events, LICENSE_PART, fallback=fallback),
    }


def _gate_text(
    gate: Mapping[str, Any], events: list[Event], item: Item, *, gated: Any
) -> dict[str, Any]:
    fallback = gate.get("recorded_at") or _iso(item.first_seen_at)
    prompt = gate.get("prompt") or {}
    access = [e for e in events if e.kind == "access.terms_changed"]
    fields = []
    for raw in gate.get("fields") or []:
        key = " ".join(str(raw.get("name", "")).split()).casefold()
        event = _last(
            access,
            lambda e, key=key: any(
                " ".join(str(f.get("name", "")).split()).casefold() == key
                for f in e.data.get("fields_added") or []
            ),
        )
        fields.append(dict(raw) | _since(event, fallback))
    eu = bool(gate.get("eu_disallowed"))
    eu_event = _last(
        access,
        lambda e: (
            (e.data.get("eu_disallowed") or {}).get("after") is True
            and (e.data.get("eu_disallowed") or {}).get("before") is False
        ),
    )
    return {
        "text": GATE_PART,
        "gated": gated,
        "heading": prompt.get("heading"),
        "button": prompt.get("button_content"),
        "eu_disallowed": eu,
        "eu_since": _since(eu_event, fallback) if eu else None,
        "fields": fields,
        "clauses": _clauses(gate.get("terms") or {}, events, GATE_PART, fallback=fallback),
    }


def _clauses(
    terms: Mapping[str, Any], events: list[Event], part: str | None, *, fallback: str | None
) -> list[dict[str, Any]]:
    """Each clause of a reading with its words, evidence and since when it is there: the
    last event that added it to this text, else the first reading of the text."""
    from tracker.detect.clauses import describe

    evidence = terms.get("evidence") or {}
    # A gate's changes are its own events (`access.terms_changed`); a license page's or a
    # watched page's, `license.terms_changed`.
    if part == GATE_PART:
        mine = [e for e in events if e.kind == "access.terms_changed"]
    else:
        mine = [
            e
            for e in events
            if e.kind == "license.terms_changed"
            and (part is None or e.data.get("terms_of") == part)
        ]
    found = []
    for clause in terms.get("clauses") or []:
        event = _last(mine, lambda e, c=clause: c in (e.data.get("clauses_added") or []))
        found.append(
            {
                "clause": clause,
                "words": describe(clause, evidence.get(clause)),
                "evidence": evidence.get(clause),
            }
            | _since(event, fallback)
        )
    return found


def _since(event: Event | None, fallback: str | None) -> dict[str, Any]:
    if event is not None:
        return {"since": _iso(event.detected_at), "event_id": event.id}
    return {"since": fallback, "event_id": None}


def _last(events: list[Event], wanted: Any) -> Event | None:
    return next((e for e in reversed(events) if wanted(e)), None)


def _union(texts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every clause of the texts once, in the vocabulary's order, with the texts that carry
    it; the evidence and since of the first text that does."""
    from tracker.detect.clauses import CLAUSES

    found: dict[str, dict[str, Any]] = {}
    for text in texts:
        for clause in text["clauses"]:
            entry = found.setdefault(clause["clause"], dict(clause) | {"in": []})
            entry["in"].append(text["text"])
    return [found[c] for c in CLAUSES if c in found]


def _terms_events(session: Session, subject: str, source_id: int | None) -> list[Event]:
    """The terms events of a subject at a source, oldest first."""
    return list(
        session.exec(
            select(Event)
            .where(
                Event.source_id == source_id,
                col(Event.kind).in_(TERMS_KINDS),
                sa.func.lower(Event.subject) == subject.lower(),
            )
            .order_by(col(Event.id))
        )
    )


def _comparable_url(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return url.strip()
    return urlunsplit((parts.scheme.lower(), host + port, parts.path or "/", parts.query, ""))


def _stamp(item: Item) -> float:
    return item.changed_at.timestamp() if item.changed_at else 0.0


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
