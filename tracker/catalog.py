"""The list of watched sources: what a target may be, and add, find, list, remove."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker import dbread
from tracker.config import Settings
from tracker.durations import MAX_INTERVAL, MIN_INTERVAL, check_interval
from tracker.errors import NotFoundError, UserError
from tracker.kinds import kind_of
from tracker.models import Source, SourcePublic, table
from tracker.netguard import BlockedAddressError, check_url
from tracker.sources.arxiv import check_query
from tracker.sources.hub import parse_target
from tracker.sources.page import check_selector

MIN_EVERY = MIN_INTERVAL
MAX_EVERY = MAX_INTERVAL


@dataclass(frozen=True)
class SourceSpec:
    """A source as a user describes it, before it is checked and stored."""

    kind: str
    target: str
    name: str | None = None
    every_seconds: int | None = None
    types: str | None = None
    links: str | None = None


def checked(spec: SourceSpec, settings: Settings) -> SourceSpec:
    """The spec with its target normalised and validated, or UserError."""
    kind = kind_of(spec.kind)
    types = spec.types
    if kind.name == "hub":
        hub_target = parse_target(spec.target, spec.types)
        target = hub_target.repo_id or hub_target.owner
        types = ",".join(hub_target.types)
    else:
        # An arXiv source's target is its search query; the others' is a URL.
        if kind.name == "arxiv":
            target = check_query(spec.target)
        else:
            target = normalize_http_url(spec.target, settings)
        if spec.types:
            raise UserError("--types applies to hub sources only")
    links = spec.links
    if links is not None:
        if kind.name != "page":
            raise UserError("--links applies to page sources only")
        links = check_selector(links)
    name = spec.name.strip() if spec.name and spec.name.strip() else None
    if name and len(name) > 300:
        raise UserError("name too long: at most 300 characters")
    every = check_interval(spec.every_seconds or kind.default_every)
    return SourceSpec(kind.name, target, name, every, types, links)


def normalize_http_url(text: str, settings: Settings) -> str:
    """A user-typed feed or page URL, checked and tidied, or UserError."""
    url = text.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        raise UserError(f"invalid URL {text!r}: bad host") from None
    try:
        port = parts.port
    except ValueError:
        raise UserError(f"invalid URL {text!r}: bad port") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UserError(f"invalid URL {text!r}: expected an http:// or https:// URL")
    if any(ch.isspace() for ch in url):
        raise UserError(f"invalid URL {text!r}: contains spaces")
    netloc = parts.hostname.lower()
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.username or parts.password:
        raise UserError(f"invalid URL {text!r}: credentials in URLs are not supported")
    if port is not None:
        netloc += f":{port}"
    url = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))
    if not settings.allow_private_networks:
        try:
            check_url(url)
        except BlockedAddressError as exc:
            raise UserError(f"refused {url}: {exc}") from None
    return url


def identity(spec: SourceSpec) -> tuple[str, str, str | None, str | None]:
    """What makes two specs the same source: kind, target and options, not name or interval
    (no options and empty ones are the same, as `find` has it)."""
    return (spec.kind, spec.target, spec.types or None, spec.links or None)


def find(session: Session, spec: SourceSpec) -> Source | None:
    """The stored source with the same kind, target and options, if any."""
    statement = select(Source).where(
        Source.kind == spec.kind,
        Source.target == spec.target,
        col(Source.types) == spec.types if spec.types else col(Source.types).is_(None),
        col(Source.links) == spec.links if spec.links else col(Source.links).is_(None),
    )
    return session.exec(statement).first()


def watched(session: Session) -> dict[tuple[str, str, str | None, str | None], int]:
    """Every stored source's identity (as `identity` gives it) and id, in one query."""
    statement = sa.select(
        col(Source.id), col(Source.kind), col(Source.target), col(Source.types), col(Source.links)
    )
    found: dict[tuple[str, str, str | None, str | None], int] = {}
    for source_id, kind, target, types, links in session.execute(statement):
        found.setdefault((kind, target, types or None, links or None), source_id)
    return found


def add(session: Session, spec: SourceSpec) -> Source:
    """Store a checked spec; UserError if the same source is already watched."""
    existing = find(session, spec)
    if existing is not None:
        raise UserError(f"already watching {spec.target} as source {existing.id}")
    source = _source_of(spec)
    session.add(source)
    session.flush()
    return source


def add_all(session: Session, specs: list[SourceSpec]) -> list[SourcePublic]:
    """Store checked specs that are not watched yet (see `watched`) in one batched insert;
    their public views, in the order given."""
    if not specs:
        return []
    if not _batched_returning(session):
        sources = [_source_of(spec) for spec in specs]
        session.add_all(sources)
        session.flush()
        return [SourcePublic.of(source) for source in sources]
    source_table = table(Source)
    shown = [source_table.c[name] for name in SourcePublic.model_fields]
    rows = [
        {
            "kind": spec.kind,
            "target": spec.target,
            "name": spec.name,
            "every_seconds": spec.every_seconds or kind_of(spec.kind).default_every,
            "types": spec.types,
            "links": spec.links,
        }
        for spec in specs
    ]
    # The other columns take their defaults; RETURNING comes back in no particular order.
    stored = {}
    for row in session.execute(sa.insert(source_table).returning(*shown), rows).mappings():
        values = dict(row)
        key = (values["kind"], values["target"], values["types"] or None, values["links"] or None)
        values["types"] = values["types"].split(",") if values["types"] else None
        stored[key] = SourcePublic.model_validate(values)
    return [stored[identity(spec)] for spec in specs]


def _batched_returning(session: Session) -> bool:
    return bool(getattr(session.get_bind().dialect, "insert_executemany_returning", False))


def _source_of(spec: SourceSpec) -> Source:
    return Source(
        kind=spec.kind,
        target=spec.target,
        name=spec.name,
        every_seconds=spec.every_seconds or kind_of(spec.kind).default_every,
        types=spec.types,
        links=spec.links,
    )


def get(session: Session, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        raise NotFoundError(f"no source with id {source_id}")
    return source


def find_by_id(session: Session, source_id: int | None) -> Source | None:
    return session.get(Source, source_id) if source_id is not None else None


def all_sources(session: Session) -> list[Source]:
    """Every source in id order (the statement `tracker sources list` runs, too)."""
    listing = sa.text(dbread.ALL_SOURCES_SQL)
    return list(session.scalars(select(Source).from_statement(listing)))


def remove(session: Session, source_id: int) -> Source:
    """Stop watching a source and forget its item states; its events stay in the log."""
    source = get(session, source_id)
    session.delete(source)
    return source
