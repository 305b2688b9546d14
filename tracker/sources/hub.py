"""The Hugging Face Hub: one paginated listing per author and repo type, info calls to confirm.

A watched author costs one listing per repo type per poll (one request per page), with
`expand=` asking for exactly the fields detection reads. A repo that was there before and
is missing from a complete listing gets one info call, to tell a withdrawal (not found,
private, disabled) from a rename (307 to the new id) or a listing that lags. A listing
that fails midway raises, so the poll records nothing and nothing is called withdrawn.

Beyond that, requests are spent only on what changed, a bounded few per poll: the README
and the file list of repos whose head commit moved, and, for base models that closed up,
what is built on them. A poll asked for by a webhook looks up only the repos it names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tracker.errors import FetchError, RateLimitedError, UserError
from tracker.observations import (
    REPO_TYPES,
    Derivatives,
    Discussion,
    HubSnapshot,
    Observation,
    ReleaseInfo,
    Renamed,
    RepoContents,
    RepoState,
    built_on_own,
)

if TYPE_CHECKING:
    from tracker.sources.hubclient import HubClient

# The Hub's own maximum rows per listing page (hubclient.PAGE_LIMIT, without importing it).
PAGE_LIMIT = 1000

DEFAULT_TYPES = {"author": ("model", "dataset"), "repo": ("model",)}
# At most this many info calls per poll to confirm disappearances; the rest wait their turn.
MAX_CONFIRMATIONS = 50
# At most this many repos whose head moved get their README read (for the disclosure
# rules) and their files looked at (for withdrawn content) per poll.
MAX_READMES = 20
# At most this many base models that closed up get their derivatives counted per poll: one
# info call (`childrenModelCount`, by relation) and one listing page of the most downloaded.
MAX_LINEAGE_BASES = 5
TOP_DERIVATIVES = 10
# A base that cannot be asked (it is gone) is counted from listing pages instead: at most
# this many pages of PAGE_LIMIT rows.
MAX_DERIVATIVE_PAGES = 3
# At most this many new models a poll (the newest) get their release facts read for their
# disclosure scorecards: one info call and one README each; and the author's model before
# them, to compare with. The rest are not scored.
MAX_RELEASES = 20
# A webhook's poll looks up at most this many named repos one by one; more, and the
# source is listed as usual (a listing page costs no more than an info call).
MAX_FOCUS = 20
# Files that hold a repo's substance: weights (models) and data (data sets). Spaces are
# code and are not looked at.
CONTENT_TYPES = ("model", "dataset")

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_TARGET = re.compile(rf"(?P<owner>{_NAME})(?:/(?P<name>{_NAME}))?")


@dataclass(frozen=True)
class HubTarget:
    """A watched author (every repo of it) or one repo, and the repo types to watch."""

    owner: str
    name: str | None
    types: tuple[str, ...]

    @property
    def repo_id(self) -> str | None:
        return f"{self.owner}/{self.name}" if self.name else None


def parse_target(target: str, types: str | None) -> HubTarget:
    """`AUTHOR` or `OWNER/REPO`, with `--types`; UserError when malformed."""
    match = _TARGET.fullmatch(target.strip())
    if not match:
        raise UserError(
            f"invalid Hub target {target!r}: expected AUTHOR or OWNER/REPO (e.g. meta-llama "
            "or meta-llama/Llama-2-7b-hf)"
        )
    owner, name = match.group("owner"), match.group("name")
    chosen = tuple(t.strip() for t in types.split(",") if t.strip()) if types else ()
    unknown = [t for t in chosen if t not in REPO_TYPES]
    if unknown:
        raise UserError(f"unknown repo type {unknown[0]!r}: use {', '.join(REPO_TYPES)}")
    if name and len(chosen) > 1:
        raise UserError("a single repo has one type: give one of --types model|dataset|space")
    chosen = tuple(dict.fromkeys(chosen)) or DEFAULT_TYPES["repo" if name else "author"]
    return HubTarget(owner, name, chosen)


def probe(target: HubTarget, client: HubClient) -> tuple[HubTarget, str | None]:
    """Ask the Hub, at add time, whether the target is what it seems: the target as the Hub
    spells it, and a warning to show. UserError when the repo exists under another type
    (a data set added as a model). FetchError when the Hub cannot be asked.

    A typo must not turn into data: a repo that does not exist would be watched as one the
    Hub never showed, and an author without repos would baseline "0 repos" in silence.
    """
    if target.repo_id:
        (repo_type,) = target.types
        found = client.info(repo_type, target.repo_id)
        if isinstance(found, RepoState):
            owner, _, name = found.id.partition("/")
            return HubTarget(owner, name or None, target.types), None
        if isinstance(found, Renamed):
            return target, f"{target.repo_id} is now {found.new.id} on the Hub (followed)"
        for other in REPO_TYPES:
            if other != repo_type and isinstance(client.info(other, target.repo_id), RepoState):
                noun = {"model": "model", "dataset": "data set", "space": "Space"}
                raise UserError(
                    f"{target.repo_id} is a {noun[other]} on the Hub, not a {noun[repo_type]}: "
                    f"add it with --types {other}"
                )
        return target, (
            f"{target.repo_id} is not on the Hub (or not visible to this token): it is "
            "watched, and reported when it appears"
        )
    if any(client.count_repos(repo_type, target.owner) for repo_type in target.types):
        return target, None
    kinds = " or ".join(f"{t}s" for t in target.types)
    return target, (
        f"the Hub shows no {kinds} of {target.owner!r}: check the spelling (it is watched, "
        "and its first repos will be reported)"
    )


def fetch(
    target: HubTarget,
    client: HubClient,
    known: Mapping[str, Mapping[str, Any]],
    *,
    focus: Sequence[Mapping[str, Any]] = (),
    closed_up: Callable[[HubSnapshot], Sequence[str]] | None = None,
    license_pages: Callable[[HubSnapshot], int] | None = None,
    releases: bool = False,
) -> Observation:
    """Observe a Hub source: list an author's repos, or look one repo up.

    `focus` holds the poll requests webhooks left on the source (repo keys, maybe with a
    discussion): an author source then looks up only those repos, when they are few.
    `closed_up` names the base models that closed up in what was fetched (detection is
    pure, so the kind can ask it before the poll is recorded); what is built on them is
    counted, a bounded few per poll. `license_pages` reads the license pages the cards
    name (`tracker.sources.licensepages`), returning the requests made beside the Hub's.
    With `releases` (after the baseline), what new models disclose is read for their
    scorecards.
    """
    before = client.requests
    observed_at = datetime.now(UTC)
    focused = bool(focus) and not target.repo_id and len(focus) <= MAX_FOCUS
    if target.repo_id:
        (repo_type,) = target.types
        snapshot = HubSnapshot(
            checked={f"{repo_type}:{target.repo_id}": client.info(repo_type, target.repo_id)}
        )
    elif focused:
        snapshot = HubSnapshot()
        spelt = {key.lower(): key for key in known}
        for asked in dict.fromkeys(str(entry.get("key", "")) for entry in focus):
            # A webhook may spell the id in other case; the stored spelling is the item's.
            key = spelt.get(asked.lower(), asked)
            repo_type, _, repo_id = key.partition(":")
            if repo_type not in target.types or not repo_id:
                continue
            try:
                found = client.info(repo_type, repo_id)
                snapshot.checked[found.key if isinstance(found, RepoState) else key] = found
            except FetchError:
                if not snapshot.checked:
                    raise  # nothing learnt: the poll fails and the requests stay
                break  # what was learnt so far stands; the rest waits for the next poll
    else:
        snapshot = HubSnapshot()
        for repo_type in target.types:
            for repo in client.list_repos(repo_type, target.owner):
                snapshot.listed[repo.key] = repo
        for key, state in _missing(known, snapshot, target)[:MAX_CONFIRMATIONS]:
            try:
                snapshot.checked[key] = client.info(state["type"], state["id"])
            except RateLimitedError:
                break  # what was learnt so far stands; the rest is confirmed later
            except FetchError:
                continue  # no conclusion: the repo stays as it was
    snapshot.discussions = _discussions(focus, known)
    snapshot.observed_at = observed_at
    _read_updated(snapshot, known, client)
    if releases:
        _read_releases(snapshot, known, client)
    elsewhere = license_pages(snapshot) if license_pages is not None else 0
    if closed_up is not None:
        _count_derivatives(snapshot, closed_up(snapshot), client)
    return Observation(
        unchanged=False,
        hub=snapshot,
        requests=client.requests - before + elsewhere,
        partial=focused,
        answered=tuple(focus),
    )


def _updated(snapshot: HubSnapshot, known: Mapping[str, Mapping[str, Any]]) -> list[RepoState]:
    """The known repos whose head commit moved."""
    seen = [
        *snapshot.listed.values(),
        *(c for c in snapshot.checked.values() if isinstance(c, RepoState)),
    ]
    return [
        repo
        for repo in seen
        if repo.visible
        and repo.sha
        and (known.get(repo.key) or {}).get("sha") not in (None, repo.sha)
    ]


def _read_updated(
    snapshot: HubSnapshot, known: Mapping[str, Mapping[str, Any]], client: HubClient
) -> None:
    """The README and the files of each known repo whose head commit moved (a bounded few
    per poll). READMEs come from the resolvers bucket, files from the API bucket: a 429 in
    one stops only that half."""
    readmes = files = True
    for repo in _updated(snapshot, known)[:MAX_READMES]:
        if readmes:
            try:
                text = client.readme(repo.type, repo.id, repo.sha or "")
            except RateLimitedError:
                readmes = False
            else:
                if text:
                    snapshot.readmes[repo.key] = text
        if files and repo.type in CONTENT_TYPES:
            try:
                snapshot.contents[repo.key] = _contents(repo, known.get(repo.key) or {}, client)
            except RateLimitedError:
                files = False
            except FetchError:
                continue  # looked at next time its head moves


def _read_releases(
    snapshot: HubSnapshot, known: Mapping[str, Mapping[str, Any]], client: HubClient
) -> None:
    """The release facts of the new models (the newest MAX_RELEASES): the info answer with
    what a scorecard reads, and the README; and of the author's model just before them,
    to compare with. A model built on one of its owner's own models (a quantized or
    fine-tuned variant) is no release and costs nothing."""
    renamed = {c.new.key for c in snapshot.checked.values() if isinstance(c, Renamed)}
    seen = [
        *snapshot.listed.values(),
        *(c for c in snapshot.checked.values() if isinstance(c, RepoState)),
    ]

    def is_new(repo: RepoState) -> bool:
        state = known.get(repo.key)
        return repo.key not in renamed and (state is None or state.get("status") == "unseen")

    if not any(repo.type == "model" and is_new(repo) for repo in seen):
        return  # the usual poll: no new model, nothing to read
    models = [
        repo for repo in seen if repo.type == "model" and repo.visible and not built_on_own(repo)
    ]

    def created(repo: RepoState) -> float:
        return repo.created_at.timestamp() if repo.created_at else 0.0

    new = sorted((r for r in models if is_new(r)), key=created, reverse=True)
    chosen = [(repo, False) for repo in new[:MAX_RELEASES]]
    if not chosen:
        return
    oldest = created(chosen[-1][0])
    before = [r for r in models if r.created_at is not None and created(r) < oldest]
    earlier = max(before, key=created, default=None)
    if earlier is not None and not is_new(earlier):
        chosen.append((earlier, True))
    for repo, is_earlier in chosen:
        try:
            info = client.release_info(repo.id)
            if info is None:
                continue
            readme = client.readme(repo.type, repo.id, repo.sha or "main")
        except RateLimitedError:
            break  # what was read so far stands; a release without its README is not scored
        except FetchError:
            continue
        snapshot.releases[repo.key] = ReleaseInfo(info, readme or "", earlier=is_earlier)


def _contents(repo: RepoState, before: Mapping[str, Any], client: HubClient) -> RepoContents:
    """The repo's files now; and at the head last seen, when no count of them is stored
    (the first move after the baseline), so that a first commit emptying it is seen."""
    names, storage = client.contents(repo.type, repo.id)
    earlier = None
    if "content_files" not in before and before.get("sha"):
        earlier, _ = client.contents(repo.type, repo.id, revision=str(before["sha"]))
    return RepoContents(files=names, storage=storage, files_before=earlier)


def _count_derivatives(snapshot: HubSnapshot, bases: Sequence[str], client: HubClient) -> None:
    """What is built on each base that closed up: `childrenModelCount` when the base can be
    asked (one request, whatever the number) and the most downloaded derivatives from one
    listing page; for a base that is gone, up to MAX_DERIVATIVE_PAGES listing pages."""
    if not bases:
        return
    states = {
        r.id.lower(): r
        for r in [
            *snapshot.listed.values(),
            *(c for c in snapshot.checked.values() if isinstance(c, RepoState)),
        ]
    }
    for base in list(dict.fromkeys(bases))[:MAX_LINEAGE_BASES]:
        state = states.get(base.lower())
        try:
            counts = state.children if state is not None and state.children is not None else None
            if counts is None and state is not None and state.visible:
                counts = client.children(base)
            if counts is not None and sum(counts.values()) == 0:
                snapshot.derivatives[base] = Derivatives(counts=counts, complete=True)
                continue
            limit, pages = (TOP_DERIVATIVES, 1) if counts else (PAGE_LIMIT, MAX_DERIVATIVE_PAGES)
            found, complete = client.derivatives(base, limit=limit, max_pages=pages)
        except FetchError:
            continue  # counted from the tracker's own graph alone
        by_relation: dict[str, int] = {}
        for derivative in found:
            name = derivative.relation or "unknown"
            by_relation[name] = by_relation.get(name, 0) + 1
        ranked = sorted(found, key=lambda d: -d.downloads)[:TOP_DERIVATIVES]
        snapshot.derivatives[base] = Derivatives(
            counts=counts,
            top=tuple(ranked),
            listed=len(found),
            complete=complete,
            by_relation=by_relation,
        )


def _discussions(
    focus: Sequence[Mapping[str, Any]], known: Mapping[str, Any]
) -> dict[str, list[Discussion]]:
    """The discussions that webhooks announced, by repo key (as the item spells it)."""
    spelt = {key.lower(): key for key in known}
    found: dict[str, list[Discussion]] = {}
    for entry in focus:
        raw = entry.get("discussion")
        if not isinstance(raw, Mapping) or not isinstance(raw.get("num"), int):
            continue
        discussion = Discussion(
            num=raw["num"],
            title=str(raw.get("title") or "")[:300],
            url=str(raw["url"])[:2048] if raw.get("url") else None,
            status=str(raw["status"])[:20] if raw.get("status") else None,
            is_pull_request=bool(raw.get("is_pull_request")),
            author=str(raw["author"])[:100] if raw.get("author") else None,
        )
        key = str(entry.get("key", ""))
        found.setdefault(spelt.get(key.lower(), key), []).append(discussion)
    return found


def _missing(
    known: Mapping[str, Mapping[str, Any]], snapshot: HubSnapshot, target: HubTarget
) -> list[tuple[str, Mapping[str, Any]]]:
    """Repos last seen available, of a watched type, that the listings did not return."""
    return [
        (key, state)
        for key, state in known.items()
        if state.get("status") == "available"
        and state.get("type") in target.types
        and key not in snapshot.listed
    ]
