"""The Hub client: listings, info calls and READMEs through huggingface_hub, with request
counting, quick retries of transient failures, and a shared stop after a 429.

Kept apart from `hub.py` so that importing the tracker does not import huggingface_hub:
only a poll of a Hub source needs it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote, urlsplit

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
from tracker.errors import FetchError, RateLimitedError
from tracker.http import MAX_RETRY_AFTER, retry_after
from tracker.observations import Gone, Renamed, RepoState

# The fields detection reads; spaces have no gate. An unknown expand value gets HTTP 400.
_FIELDS = ["cardData", "sha", "lastModified", "createdAt", "private", "disabled", "tags"]
EXPAND = {"model": ["gated", *_FIELDS], "dataset": ["gated", *_FIELDS], "space": _FIELDS}
INFO_CLASS: dict[str, type[ModelInfo | DatasetInfo | SpaceInfo]] = {
    "model": ModelInfo,
    "dataset": DatasetInfo,
    "space": SpaceInfo,
}
README_BYTES = 512 * 1024
# Transient listing failures (5xx, timeouts) are retried this many times, quickly.
LISTING_RETRIES = 2
DEFAULT_RATE_LIMIT_WAIT = 60.0
TRANSIENT_STATUSES = {500, 502, 503, 504}


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
        query = [("author", author), *(("expand", field) for field in EXPAND[repo_type])]
        params: list[tuple[str, str]] | None = query
        repos: list[RepoState] = []
        next_url: str | None = url
        while next_url:
            response = self._get_page(next_url, params)
            repos.extend(
                _repo_state(repo_type, INFO_CLASS[repo_type](**raw)) for raw in response.json()
            )
            # The Link URL already carries the query (and the cursor).
            next_url, params = response.links.get("next", {}).get("url"), None
            if next_url and not _same_origin(next_url, self.endpoint):
                # The token goes to the configured endpoint only, whatever a page says.
                raise FetchError(f"the Hub's next-page link leaves {self.endpoint}: refused")
        return repos

    def info(self, repo_type: str, repo_id: str) -> RepoState | Gone | Renamed:
        """What the Hub says of one repo; FetchError when it said nothing conclusive."""
        self._check_not_blocked()
        self._count()
        calls: dict[str, Callable[..., ModelInfo | DatasetInfo | SpaceInfo]] = {
            "model": self.api.model_info,
            "dataset": self.api.dataset_info,
            "space": self.api.space_info,
        }
        call = calls[repo_type]
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

    def _get_page(
        self, url: str, params: Sequence[tuple[str, str | int | float | bool | None]] | None
    ) -> httpx2.Response:
        headers = build_hf_headers(
            token=self.token, library_name="release-tracker", library_version=__version__
        )
        for attempt in range(LISTING_RETRIES + 1):
            self._check_not_blocked()
            self._count()
            try:
                response = get_session().get(
                    url,
                    params=list(params) if params else None,
                    headers=headers,
                    timeout=self.timeout,
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


def _same_origin(url: str, endpoint: str) -> bool:
    a, b = urlsplit(url), urlsplit(endpoint)
    ports = {"http": 80, "https": 443}
    return (a.scheme, a.hostname, a.port or ports.get(a.scheme)) == (
        b.scheme,
        b.hostname,
        b.port or ports.get(b.scheme),
    )


def _retry_after(headers: Mapping[str, str]) -> float:
    limit = parse_ratelimit_headers(headers)
    if limit is not None:
        return min(float(limit.reset_in_seconds) + 1, MAX_RETRY_AFTER)
    wait = retry_after(headers.get("retry-after"))
    return min(wait, MAX_RETRY_AFTER) if wait is not None else DEFAULT_RATE_LIMIT_WAIT


def _describe(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
