"""The Hugging Face Hub: one paginated listing per author and repo type, info calls to confirm.

A watched author costs one listing per repo type per poll (one request per page), with
`expand=` asking for exactly the fields detection reads. A repo that was there before and
is missing from a complete listing gets one info call, to tell a withdrawal (not found,
private, disabled) from a rename (307 to the new id) or a listing that lags. A listing
that fails midway raises, so the poll records nothing and nothing is called withdrawn.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracker.errors import FetchError, RateLimitedError, UserError
from tracker.observations import REPO_TYPES, HubSnapshot, Observation, RepoState

if TYPE_CHECKING:
    from tracker.sources.hubclient import HubClient

DEFAULT_TYPES = {"author": ("model", "dataset"), "repo": ("model",)}
# At most this many info calls per poll to confirm disappearances; the rest wait their turn.
MAX_CONFIRMATIONS = 50
# At most this many READMEs of updated repos are read per poll (for the disclosure rules).
MAX_READMES = 20

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


def fetch(
    target: HubTarget, client: HubClient, known: Mapping[str, Mapping[str, Any]]
) -> Observation:
    """Observe a Hub source: list an author's repos, or look one repo up."""
    before = client.requests
    if target.repo_id:
        (repo_type,) = target.types
        snapshot = HubSnapshot(
            checked={f"{repo_type}:{target.repo_id}": client.info(repo_type, target.repo_id)}
        )
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
    _read_new_readmes(snapshot, known, client)
    return Observation(unchanged=False, hub=snapshot, requests=client.requests - before)


def _read_new_readmes(
    snapshot: HubSnapshot, known: Mapping[str, Mapping[str, Any]], client: HubClient
) -> None:
    """Read the README of each known repo whose head commit moved (a bounded few per poll)."""
    seen = [
        *snapshot.listed.values(),
        *(c for c in snapshot.checked.values() if isinstance(c, RepoState)),
    ]
    updated = [
        repo
        for repo in seen
        if repo.sha and (known.get(repo.key) or {}).get("sha") not in (None, repo.sha)
    ]
    for repo in updated[:MAX_READMES]:
        try:
            text = client.readme(repo.type, repo.id, repo.sha or "")
        except RateLimitedError:
            return
        if text:
            snapshot.readmes[repo.key] = text


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
