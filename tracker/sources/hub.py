"""The Hugging Face Hub: one paginated listing per author and repo type, info calls to confirm.

A watched author costs one listing per repo type per poll (one request per page), with
`expand=` asking for exactly the fields detection reads. A repo that was there before and
is missing from a complete listing gets one info call, to tell a withdrawal (not found,
private, disabled) from a rename (307 to the new id) or a listing that lags. A listing
that fails midway raises, so the poll records nothing and nothing is called withdrawn.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2
from huggingface_hub import DatasetInfo, HfApi, ModelInfo, SpaceInfo
from huggingface_hub.errors import (
    DisabledRepoError,
    HfHubHTTPError,
    RepositoryNotFoundError,
)
from huggingface_hub.utils import (
    build_hf_headers,
    get_session,
    hf_raise_for_status,
    parse_ratelimit_headers,
)

from tracker import __version__
from tracker.config import Settings
from tracker.errors import UserError
from tracker.http import DeferredError, FetchError, retry_after
from tracker.observations import REPO_TYPES, Gone, HubSnapshot, Observation, Renamed, RepoState

# The fields detection reads; spaces have no gate. An unknown expand value gets HTTP 400.
_FIELDS = ["cardData", "sha", "lastModified", "createdAt", "private", "disabled", "tags"]
EXPAND = {"model": ["gated", *_FIELDS], "dataset": ["gated", *_FIELDS], "space": _FIELDS}
INFO_CLASS = {"model": ModelInfo, "dataset": DatasetInfo, "space": SpaceInfo}
DEFAULT_TYPES = {"author": ("model", "dataset"), "repo": ("model",)}
# At most this many info calls per poll to confirm disappearances; the rest wait their turn.
MAX_CONFIRMATIONS = 50
# At most this many READMEs of updated repos are read per poll (for the disclosure rules).
MAX_READMES = 20
README_BYTES = 512 * 1024
# Transient listing failures (5xx, timeouts) are retried this many times, quickly.
LISTING_RETRIES = 2
DEFAULT_RATE_LIMIT_WAIT = 60.0
TRANSIENT_STATUSES = {500, 502, 503, 504}

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_TARGET = re.compile(rf"(?P<owner>{_NAME})(?:/(?P<name>{_NAME}))?")


class RateLimitedError(DeferredError):
    """The Hub answered 429: this source waits `retry_after` seconds, the poll goes on."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited by the Hub; next try in {round(retry_after)}s", retry_after)


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


class HubClient:
    """The Hub as one poll run sees it: shared by threads, counting requests, minding 429s."""

    def __init__(self, settings: Settings) -> None:
        self.endpoint = settings.hf_endpoint.rstrip("/")
        self.token = settings.hf_token
        self.timeout = settings.http_timeout_seconds
        self.api = HfApi(
            endpoint=self.endpoint,
            token=self.token,
            library_name="release-tracker",
            library_version=__version__,
        )
        self.requests = 0
        self._lock = threading.Lock()
        self._blocked_until = 0.0

    def list_repos(self, repo_type: str, author: str) -> list[RepoState]:
        """Every repo of `author` of one type; raises unless every page arrived."""
        url = f"{self.endpoint}/api/{repo_type}s"
        params: list[tuple[str, str]] | None = [("author", author)]
        params += [("expand", field) for field in EXPAND[repo_type]]
        repos: list[RepoState] = []
        next_url: str | None = url
        while next_url:
            response = self._get_page(next_url, params)
            repos.extend(
                _repo_state(repo_type, INFO_CLASS[repo_type](**raw)) for raw in response.json()
            )
            # The Link URL already carries the query (and the cursor).
            next_url, params = response.links.get("next", {}).get("url"), None
        return repos

    def info(self, repo_type: str, repo_id: str) -> RepoState | Gone | Renamed:
        """What the Hub says of one repo; FetchError when it said nothing conclusive."""
        self._check_not_blocked()
        self._count()
        call = {
            "model": self.api.model_info,
            "dataset": self.api.dataset_info,
            "space": self.api.space_info,
        }[repo_type]
        try:
            info = call(repo_id, expand=EXPAND[repo_type], timeout=self.timeout)
        except DisabledRepoError:
            return Gone(repo_type, repo_id, "disabled")
        except RepositoryNotFoundError:
            # Deleted, or private (the Hub answers both alike unless the token may see it).
            return Gone(repo_type, repo_id, "not_found")
        except HfHubHTTPError as exc:
            raise self._http_failure(exc) from None
        except httpx2.HTTPError as exc:
            raise FetchError(f"Hub unreachable: {_describe(exc)}") from None
        state = _repo_state(repo_type, info)
        if state.id != repo_id:
            self._count()  # the redirect cost a second request
            return Renamed(repo_type, repo_id, state)
        if not state.visible:
            return Gone(repo_type, repo_id, "disabled" if state.disabled else "private")
        return state

    def readme(self, repo_type: str, repo_id: str, revision: str) -> str | None:
        """The repo's README.md at `revision`, or None when it has none or cannot be read."""
        # The Hub's file URL scheme (what huggingface_hub's hf_hub_url builds, but from our
        # endpoint rather than the one the library read from the environment at import).
        prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
        url = f"{self.endpoint}/{prefix}{repo_id}/resolve/{quote(revision, safe='')}/README.md"
        self._check_not_blocked()
        self._count()
        headers = build_hf_headers(
            token=self.token, library_name="release-tracker", library_version=__version__
        )
        try:
            response = get_session().get(url, headers=headers, timeout=self.timeout)
        except httpx2.HTTPError:
            return None
        if response.status_code != 200:
            return None
        return response.content[:README_BYTES].decode("utf-8", errors="replace")

    def _get_page(self, url: str, params: list[tuple[str, str]] | None) -> httpx2.Response:
        headers = build_hf_headers(
            token=self.token, library_name="release-tracker", library_version=__version__
        )
        for attempt in range(LISTING_RETRIES + 1):
            self._check_not_blocked()
            self._count()
            try:
                response = get_session().get(
                    url, params=params, headers=headers, timeout=self.timeout
                )
                hf_raise_for_status(response)
                return response
            except HfHubHTTPError as exc:
                failure = self._http_failure(exc)
                transient = (
                    exc.response is not None and exc.response.status_code in TRANSIENT_STATUSES
                )
            except httpx2.HTTPError as exc:
                failure, transient = FetchError(f"Hub unreachable: {_describe(exc)}"), True
            if not transient or attempt == LISTING_RETRIES:
                raise failure
            time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def _http_failure(self, exc: HfHubHTTPError) -> FetchError:
        response = exc.response
        if response is not None and response.status_code == 429:
            wait = _retry_after(response.headers)
            with self._lock:
                self._blocked_until = max(self._blocked_until, time.monotonic() + wait)
            return RateLimitedError(wait)
        status = f"HTTP {response.status_code} " if response is not None else ""
        return FetchError(f"Hub answered {status}{_describe(exc)}".strip())

    def _check_not_blocked(self) -> None:
        # After one 429, every source on this Hub waits: asking again only prolongs the ban.
        with self._lock:
            remaining = self._blocked_until - time.monotonic()
        if remaining > 0:
            raise RateLimitedError(remaining)

    def _count(self) -> None:
        with self._lock:
            self.requests += 1


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
            text = client.readme(repo.type, repo.id, repo.sha)
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


def _repo_state(repo_type: str, info: ModelInfo | DatasetInfo | SpaceInfo) -> RepoState:
    card = info.card_data.to_dict() if info.card_data is not None else {}
    license_id = card.get("license")
    if isinstance(license_id, list):
        license_id = ", ".join(str(v) for v in license_id)
    if not license_id:
        # A card without a license field still gets the license tag the Hub derives.
        tags = [t for t in (info.tags or []) if t.startswith("license:")]
        license_id = tags[0].removeprefix("license:") if tags else None
    return RepoState(
        type=repo_type,
        id=info.id,
        gated=getattr(info, "gated", None) or False,
        license=license_id,
        license_name=card.get("license_name"),
        license_link=card.get("license_link"),
        sha=info.sha,
        private=bool(info.private),
        disabled=bool(info.disabled),
        created_at=info.created_at,
        last_modified=info.last_modified,
    )


def _retry_after(headers: Mapping[str, str]) -> float:
    limit = parse_ratelimit_headers(headers)
    if limit is not None:
        return float(limit.reset_in_seconds) + 1
    wait = retry_after(headers.get("retry-after"))
    return wait if wait is not None else DEFAULT_RATE_LIMIT_WAIT


def _describe(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
