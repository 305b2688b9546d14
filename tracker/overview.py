"""What the front page and a lab's page say: who closed up, when, and how, read from the
event log (and the openness report). The functions that decide take plain events; the
`load_*` functions only fetch them.

A closing-up event falls in one category (gated, gate stricter, license and terms
stricter, withdrawn, content withdrawn, lineage exposed, withheld, disclosure regressed);
each is told in words, before → after.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlmodel import Session, col, or_, select

from tracker.alerts.messages import change_lines
from tracker.detect.clauses import describe as clause_words
from tracker.events import severity_rank
from tracker.models import Event, Source
from tracker.openness import LICENSE_CLASSES
from tracker.report import AuthorReport

CATEGORIES: tuple[tuple[str, str], ...] = (
    ("gated", "Gated"),
    ("gate_stricter", "Gate stricter"),
    ("license_stricter", "License and terms stricter"),
    ("withdrawn", "Withdrawn"),
    ("content_withdrawn", "Content withdrawn"),
    ("lineage_exposed", "Lineage exposed"),
    ("withheld", "Details withheld"),
    ("disclosure_regressed", "Disclosure regressed"),
)
LABELS = dict(CATEGORIES)
# The event-log filter that shows a category's kinds (looser changes of them included).
CATEGORY_KINDS: dict[str, tuple[str, ...]] = {
    "gated": ("access.gated",),
    "gate_stricter": ("access.gate_changed", "access.terms_changed"),
    "license_stricter": ("license.changed", "license.terms_changed"),
    "withdrawn": ("repo.withdrawn",),
    "content_withdrawn": ("content.withdrawn",),
    "lineage_exposed": ("lineage.exposed",),
    "withheld": ("disclosure.withheld",),
    "disclosure_regressed": ("disclosure.regressed",),
}
# Every kind that can close something up; `category_of` decides which events of them do.
CLOSING_KINDS = (
    "access.gated",
    "access.gate_changed",
    "access.terms_changed",
    "license.changed",
    "license.terms_changed",
    "repo.withdrawn",
    "content.withdrawn",
    "lineage.exposed",
    "disclosure.withheld",
    "disclosure.regressed",
)
WINDOWS = (
    ("week", "This week", timedelta(days=7), "7d"),
    ("month", "This month", timedelta(days=30), "30d"),
)
SHOWN_PER_SECTION = 8
LOADED_AT_MOST = 5000

_GATE_WORDS = {False: "public", "auto": "gated (automatic approval)", "manual": "gated (manual)"}
_REASON_WORDS = {
    "files_removed": "its weight or data files were removed",
    "storage_dropped": "its storage fell by more than half",
    "marked_defunct": "its card now says it is defunct or removed",
    "not_found": "not found",
    "private": "made private",
    "disabled": "disabled",
}
_RELATION_WORDS = {
    "finetune": "fine-tunes",
    "adapter": "adapters",
    "quantized": "quantized copies",
    "merge": "merges",
}


# ------------------------------------------------------------------ deciding (plain data)


def category_of(event: Event) -> str | None:
    """The closing-up category of an event, or None when it did not close anything up."""
    kind = event.kind
    if kind == "access.gated":
        return "gated"
    if kind == "access.gate_changed":
        return "gate_stricter" if _get(event.after, "gated") == "manual" else None
    if kind == "access.terms_changed":
        return "gate_stricter" if event.severity != "info" and _stricter_terms(event) else None
    if kind == "license.changed":
        return "license_stricter" if _license_stricter(event) else None
    if kind == "license.terms_changed":
        return "license_stricter" if _stricter_terms(event) else None
    return {
        "repo.withdrawn": "withdrawn",
        "content.withdrawn": "content_withdrawn",
        "lineage.exposed": "lineage_exposed",
        "disclosure.withheld": "withheld",
        "disclosure.regressed": "disclosure_regressed",
    }.get(kind)


def _stricter_terms(event: Event) -> bool:
    added = _get(event.data, "clauses_added") or _get(event.data, "fields_added")
    return bool(added) or event.severity in ("warning", "critical")


def _license_stricter(event: Event) -> bool:
    """A license change that moved to a stricter class; an unclassified one counts (it may
    have, and the reader decides)."""
    openness = _get(event.data, "openness") or {}
    before = _get(_get(openness, "before"), "license")
    after = _get(_get(openness, "after"), "license")
    if before in LICENSE_CLASSES and after in LICENSE_CLASSES:
        return LICENSE_CLASSES.index(after) > LICENSE_CLASSES.index(before)
    return True


def in_words(event: Event) -> list[str]:
    """What changed, for people: `access: public → gated (manual)`, the clauses a license
    gained, the derivatives a closed base exposes."""
    kind, data = event.kind, event.data or {}
    if kind in ("access.gated", "access.gate_changed", "access.ungated"):
        before, after = _get(event.before, "gated"), _get(event.after, "gated")
        return [f"access: {_gate(before)} → {_gate(after)}"]
    if kind in ("access.terms_changed", "license.terms_changed"):
        return _terms_words(event)
    if kind == "license.changed":
        lines = change_lines(event.before, event.after)
        openness = _get(data, "openness") or {}
        before = _get(_get(openness, "before"), "license")
        after = _get(_get(openness, "after"), "license")
        if before and after and before != after:
            lines.append(f"class: {before} → {after}")
        return lines
    if kind == "repo.withdrawn":
        reason = _get(event.after, "status") or _get(data, "reason")
        return [f"withdrawn: {_REASON_WORDS.get(str(reason), reason or 'gone')}"]
    if kind == "content.withdrawn":
        reason = _get(data, "reason")
        said = _REASON_WORDS.get(str(reason), str(reason or "content removed"))
        return [said, *change_lines(event.before, event.after)]
    if kind == "lineage.exposed":
        return _lineage_words(data)
    if kind == "page.changed":
        added = [f"added: “{line}”" for line in (_get(data, "added") or [])[:5]]
        removed = [f"removed: “{line}”" for line in (_get(data, "removed") or [])[:5]]
        return added + removed
    if kind == "disclosure.withheld":
        dims = _get(data, "dimensions") or []
        lines = [f"“{_get(data, 'sentence') or ''}”"]
        if dims:
            lines.append("withholds: " + ", ".join(_dimension(d) for d in dims))
        return lines
    if kind == "disclosure.regressed":
        lost = _get(data, "lost") or []
        lines = [f"disclosure score: {_get(data, 'score_before')} → {_get(data, 'score_after')}"]
        if lost:
            lines.append("no longer discloses: " + ", ".join(_dimension(d) for d in lost))
        if _get(data, "previous"):
            lines.append(f"compared with {_get(data, 'previous')}")
        return lines
    return change_lines(event.before, event.after)


def _terms_words(event: Event) -> list[str]:
    data = event.data or {}
    lines = [f"now {clause_words(c)}" for c in _get(data, "clauses_added") or []]
    lines += [f"no longer {clause_words(c)}" for c in _get(data, "clauses_removed") or []]
    for name in _get(data, "fields_added") or []:
        lines.append(f"now asks for {name}")
    if _get(event.after, "eu_disallowed") and not _get(event.before, "eu_disallowed"):
        lines.append("now refuses users in the EU")
    return lines or change_lines(event.before, event.after)


def _lineage_words(data: Mapping[str, Any]) -> list[str]:
    derivatives = _get(data, "derivatives")
    lines = []
    if isinstance(derivatives, Mapping):
        total = derivatives.get("total")
        if total is None:
            total = sum(v for v in derivatives.values() if isinstance(v, int))
        # In the relations' own order: PostgreSQL's JSONB keeps keys in an order of its own.
        order = list(_RELATION_WORDS)
        parts = [
            f"{n} {_RELATION_WORDS.get(str(k), str(k))}"
            for k, n in sorted(
                derivatives.items(),
                key=lambda kv: (order.index(kv[0]) if kv[0] in order else 99, str(kv[0])),
            )
            if k != "total" and isinstance(n, int) and n
        ]
        lines.append(f"{total} repos built on it" + (f" ({', '.join(parts)})" if parts else ""))
    elif isinstance(derivatives, int):
        lines.append(f"{derivatives} repos built on it")
    watched = _get(data, "watched_derivatives") or []
    if watched:
        lines.append(f"{len(watched)} of them watched here: " + ", ".join(map(str, watched[:5])))
    if _get(data, "cause"):
        lines.append(f"because of {_get(data, 'cause')}")
    return lines


def derivative_count(data: Mapping[str, Any]) -> int:
    derivatives = _get(data, "derivatives")
    if isinstance(derivatives, int):
        return derivatives
    if isinstance(derivatives, Mapping):
        if isinstance(derivatives.get("total"), int):
            return int(derivatives["total"])
        return sum(v for v in derivatives.values() if isinstance(v, int))
    return 0


def _gate(value: Any) -> str:
    if value is None:
        return "unknown"
    return _GATE_WORDS.get(value, str(value))


def _dimension(name: object) -> str:
    return str(name).replace("_", " ")


def _get(mapping: Any, key: str) -> Any:
    return mapping.get(key) if isinstance(mapping, Mapping) else None


def most_severe_first(events: Iterable[Event]) -> list[Event]:
    return sorted(events, key=lambda e: (-severity_rank(e.severity), -(e.id or 0)))


@dataclass
class Section:
    """One category of closing up in a window: how many, and the most severe first."""

    key: str
    label: str
    count: int
    events: list[Event]
    subjects: int

    def log_query(self, since: str = "") -> str:
        """The event log's query string for this category's kinds."""
        pairs = [("kind", k) for k in CATEGORY_KINDS[self.key]]
        return urlencode(pairs + ([("since", since)] if since else []))

    @property
    def severity(self) -> str:
        return self.events[0].severity if self.events else "info"


@dataclass
class Window:
    key: str
    label: str
    since: datetime
    sections: list[Section]
    span: str = ""

    @property
    def total(self) -> int:
        return sum(s.count for s in self.sections)


def sections_of(events: Iterable[Event], *, shown: int = SHOWN_PER_SECTION) -> list[Section]:
    """The closing-up events by category (empty categories included, in the fixed order),
    the categories with the most severe events first."""
    grouped: dict[str, list[Event]] = {key: [] for key, _ in CATEGORIES}
    for event in events:
        category = category_of(event)
        if category:
            grouped[category].append(event)
    sections = []
    for key, label in CATEGORIES:
        ordered = most_severe_first(grouped[key])
        subjects = len({e.subject for e in ordered})
        sections.append(Section(key, label, len(ordered), ordered[:shown], subjects))
    order = {key: n for n, (key, _) in enumerate(CATEGORIES)}
    return sorted(
        sections,
        key=lambda s: (not s.count, -severity_rank(s.severity), order[s.key]),
    )


def closing_windows(events: Sequence[Event], *, now: datetime) -> list[Window]:
    """This week's and this month's closing up, from events of at least the last month."""
    windows = []
    for key, label, span, spelled in WINDOWS:
        since = now - span
        inside = [e for e in events if _aware(e.detected_at) >= since]
        windows.append(Window(key, label, since, sections_of(inside), spelled))
    return windows


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ------------------------------------------------------------------ a lab's page


@dataclass
class ReleaseRow:
    """A release of the lab with what the log says of its disclosure."""

    subject: str
    kind: str
    at: datetime
    event_id: int
    score: int | None = None
    lost: list[str] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)
    disclosure_event_id: int | None = None


@dataclass
class LineageRow:
    base: str
    derivatives: int
    words: list[str]
    event_id: int
    at: datetime


@dataclass
class TermsRow:
    subject: str
    kind: str
    clauses: list[str]
    words: list[str]
    event_id: int
    at: datetime


@dataclass
class LabView:
    author: str
    report: AuthorReport | None
    recent: list[Event]
    sections: list[Section]
    releases: list[ReleaseRow]
    lineage: list[LineageRow]
    terms: list[TermsRow]
    scores: list[tuple[datetime, str, int]]
    kinds: dict[str, int]


RELEASE_KINDS = ("model.published", "dataset.published", "space.published", "post.published")


def lab_view(author: str, events: Sequence[Event], report: AuthorReport | None) -> LabView:
    """Everything a lab's page shows, from its events (newest first) and its openness."""
    newest_first = sorted(events, key=lambda e: -(e.id or 0))
    releases: dict[str, ReleaseRow] = {}
    for event in reversed(newest_first):  # oldest first: a later event refines the row
        if event.kind in RELEASE_KINDS and event.subject not in releases:
            releases[event.subject] = ReleaseRow(
                event.subject, event.kind, event.detected_at, event.id or 0
            )
    scores: list[tuple[datetime, str, int]] = []
    for event in reversed(newest_first):
        data = event.data or {}
        if event.kind == "disclosure.regressed":
            row = releases.setdefault(
                event.subject,
                ReleaseRow(event.subject, "release", event.detected_at, event.id or 0),
            )
            row.score = _int(data.get("score_after"))
            row.lost = [str(d) for d in data.get("lost") or []]
            row.withheld = [str(d) for d in data.get("withheld") or []] or row.withheld
            row.disclosure_event_id = event.id
            previous = data.get("previous")
            known = isinstance(previous, str) and _int(data.get("score_before")) is not None
            if known and not any(s[1] == previous for s in scores):
                scores.append((event.detected_at, str(previous), int(data["score_before"])))
            if row.score is not None:
                scores.append((event.detected_at, event.subject, row.score))
        elif event.kind == "disclosure.withheld" and event.subject in releases:
            row = releases[event.subject]
            dims = [str(d) for d in data.get("dimensions") or []]
            row.withheld = sorted(set(row.withheld) | set(dims))
            row.disclosure_event_id = row.disclosure_event_id or event.id
    lineage: dict[str, LineageRow] = {}
    terms: dict[tuple[str, str], TermsRow] = {}
    for event in newest_first:  # the latest per base and per text
        if event.kind == "lineage.exposed" and event.subject not in lineage:
            data = event.data or {}
            lineage[event.subject] = LineageRow(
                event.subject,
                derivative_count(data),
                _lineage_words(data),
                event.id or 0,
                event.detected_at,
            )
        if event.kind in ("license.terms_changed", "access.terms_changed"):
            key = (event.subject, event.kind)
            if key not in terms:
                clauses = [str(c) for c in (_get(event.after, "clauses") or [])]
                terms[key] = TermsRow(
                    event.subject,
                    event.kind,
                    clauses,
                    [clause_words(c) for c in clauses],
                    event.id or 0,
                    event.detected_at,
                )
    return LabView(
        author=author,
        report=report,
        recent=newest_first[:20],
        sections=sections_of(newest_first),
        releases=sorted(releases.values(), key=lambda r: r.at, reverse=True)[:30],
        lineage=sorted(lineage.values(), key=lambda r: -r.derivatives),
        terms=sorted(terms.values(), key=lambda r: r.subject),
        scores=sorted(scores),
        kinds=dict(Counter(e.kind for e in newest_first).most_common()),
    )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


# ------------------------------------------------------------------ sources' health


@dataclass
class Health:
    total: int
    ok: int
    failing: int
    never: int
    failing_names: list[str]


def health_of(sources: Iterable[Source]) -> Health:
    listed = list(sources)
    failing = [s for s in listed if s.last_error]
    never = [s for s in listed if not s.last_error and s.last_polled_at is None]
    return Health(
        total=len(listed),
        ok=len(listed) - len(failing) - len(never),
        failing=len(failing),
        never=len(never),
        failing_names=[s.name or s.target for s in failing[:5]],
    )


def why_no_report(sources: Iterable[Source], author: str | None) -> str:
    """Why the openness report is empty: no Hub source, or none polled successfully yet."""
    hub = [s for s in sources if s.kind == "hub"]
    if author:
        hub = [s for s in hub if s.target.split("/")[0].casefold() == author.casefold()]
    where = f" for {author}" if author else ""
    if not hub:
        return f"No Hub repos watched{where}. Add an author with `tracker sources add hub AUTHOR`."
    if any(s.last_polled_at and not s.last_error for s in hub):
        return f"The watched Hub sources{where} hold no repos yet."
    failing = sum(1 for s in hub if s.last_error)
    count = f"{len(hub)} Hub source{'s' * (len(hub) != 1)}{where}"
    return (
        f"{count} watched, none polled successfully yet ({failing} failing): "
        "run `tracker poll`, and see `tracker sources list`."
    )


# ------------------------------------------------------------------ loading


def load_closing(session: Session, *, now: datetime) -> list[Window]:
    longest = max(span for _, _, span, _ in WINDOWS)
    statement = (
        select(Event)
        .where(col(Event.kind).in_(CLOSING_KINDS), Event.detected_at >= now - longest)
        .order_by(col(Event.id).desc())
        .limit(LOADED_AT_MOST)
    )
    return closing_windows(list(session.exec(statement)), now=now)


def load_lab_events(session: Session, author: str) -> list[Event]:
    """The events of an author's repos (subjects `author/...`), newest first."""
    prefix = author.rstrip("/") + "/"
    statement = (
        select(Event)
        .where(
            or_(
                col(Event.subject).startswith(prefix, autoescape=True),
                col(Event.subject) == author,
            )
        )
        .order_by(col(Event.id).desc())
        .limit(LOADED_AT_MOST)
    )
    return list(session.exec(statement))


def known_authors(session: Session) -> list[str]:
    """Hub authors: watched ones and the owners of repos with events."""
    authors = {
        s.target.split("/")[0] for s in session.exec(select(Source).where(Source.kind == "hub"))
    }
    statement = (
        select(Event.subject)
        .where(col(Event.kind).in_(CLOSING_KINDS + RELEASE_KINDS[:3]))
        .distinct()
        .limit(LOADED_AT_MOST)
    )
    for subject in session.exec(statement):
        if "/" in subject and "://" not in subject:
            authors.add(subject.split("/")[0])
    return sorted(authors, key=str.casefold)
