"""The Hub client: listings, info calls and READMEs through huggingface_hub, with request
counting, quick retries of transient failures, and a shared stop after a 429.

Kept apart from `hub.py` so that importing the tracker does not import huggingface_hub:
only a poll of a Hub source needs it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
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
from tracker.bulk import collector_paused
from tracker.config import Settings
from tracker.errors import FetchError, RateLimitedError
from tracker.http import MAX_RETRY_AFTER, retry_after
from tracker.observations import (
    RELATIONS,
    BaseRef,
    Derivative,
    Gone,
    Renamed,
    RepoState,
    Validators,
)

# The fields detection reads; spaces have no gate. An unknown expand value gets HTTP 400.
# The tags and the card also carry what a model is built on (`base_model:` tags).
_FIELDS = ["cardData", "sha", "lastModified", "createdAt", "private", "disabled", "tags"]
EXPAND = {"model": ["gated", *_FIELDS], "dataset": ["gated", *_FIELDS], "space": _FIELDS}
# An info call may ask for more: `usedStorage` and `childrenModelCount` are accepted on a
# repo's own route only (listings answer 400 for them), and they cost nothing extra there.
INFO_EXPAND = {
    "model": [*EXPAND["model"], "usedStorage", "childrenModelCount"],
    "dataset": [*EXPAND["dataset"], "usedStorage"],
    "space": [*EXPAND["space"], "usedStorage"],
}
# What a new model's disclosure scorecard reads, asked in one info call per new model. The
# Hub would serve these in listings too (only usedStorage, childrenModelCount and
# baseModels are refused there), but config and siblings weigh kilobytes per repo, on every
# listing of every poll, for the few repos that are new.
RELEASE_EXPAND = [
    "author", "cardData", "config", "createdAt", "evalResults", "gated", "model-index",
    "safetensors", "sha", "siblings", "tags",
]  # fmt: skip
# A listing page holds at most this many rows; the Hub's own maximum, asked for explicitly.
PAGE_LIMIT = 1000
INFO_CLASS: dict[str, type[ModelInfo | DatasetInfo | SpaceInfo]] = {
    "model": ModelInfo,
    "dataset": DatasetInfo,
    "space": SpaceInfo,
}
README_BYTES = 512 * 1024
# A license file read from a repo (a LICENSE, a LICENSE.pdf) is refused beyond this size.
FILE_BYTES = 4 * 1024 * 1024
# Transient listing failures (5xx, timeouts) are retried this many times, quickly.
LISTING_RETRIES = 2
DEFAULT_RATE_LIMIT_WAIT = 60.0
TRANSIENT_STATUSES = {500, 502, 503, 504}
# The Hub's rate-limit buckets (the name in its `RateLimit` header): API calls (listings,
# info), resolvers (file downloads, `/resolve/` URLs: READMEs), web pages. A 429 in one
# bucket does not stop requests of another.
API, RESOLVERS = "api", "resolvers"


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
        self._blocked_until: dict[str, float] = {}

    def list_repos(self, repo_type: str, author: str) -> list[RepoState]:
        """Every repo of `author` of one type; raises unless every page arrived."""
        query = [("author", author), *(("expand", field) for field in EXPAND[repo_type])]
        with collector_paused():
            rows = self._list(repo_type, query, max_pages=None)
            return [_repo_state(repo_type, INFO_CLASS[repo_type](**raw)) for raw in rows]

    def count_repos(self, repo_type: str, author: str) -> int:
        """Whether `author` has repos of this type: 0 or 1 (one row asked for, one request)."""
        rows = self._list(repo_type, [("author", author), ("expand", "sha")], max_pages=1, limit=1)
        return min(len(rows), 1)

    def derivatives(
        self, base_id: str, *, limit: int, max_pages: int
    ) -> tuple[list[Derivative], bool]:
        """Models naming `base_id` as their base, most downloaded first: at most `max_pages`
        pages of `limit` rows; and whether that was all of them."""
        query = [
            ("filter", f"base_model:{base_id}"),
            ("sort", "downloads"),
            ("expand", "downloads"),
            ("expand", "tags"),
        ]
        complete: list[bool] = []
        rows = self._list("model", query, max_pages=max_pages, limit=limit, complete=complete)
        found = [_derivative(base_id, raw) for raw in rows if isinstance(raw, dict)]
        return [d for d in found if d is not None], bool(complete and complete[0])

    def children(self, base_id: str) -> dict[str, int] | None:
        """`childrenModelCount` of a model: how many models name it as base, by relation
        (a total alone when the Hub gives one number); None when it cannot be asked."""
        self._check_not_blocked(API)
        self._count()
        try:
            info = self.api.model_info(base_id, expand=["childrenModelCount"], timeout=self.timeout)
        except (RepositoryNotFoundError, DisabledRepoError):
            return None
        except HfHubHTTPError as exc:
            raise self._http_failure(exc, API) from None
        except httpx2.HTTPError as exc:
            raise FetchError(f"Hub unreachable: {_describe(exc)}") from None
        return _children(getattr(info, "children_model_count", None))

    def contents(
        self, repo_type: str, repo_id: str, revision: str | None = None
    ) -> tuple[tuple[str, ...], int | None]:
        """The file names of a repo (at `revision`, else its head) and its `usedStorage`."""
        self._check_not_blocked(API)
        self._count()
        expand = ["siblings"] if revision else ["siblings", "usedStorage"]
        try:
            info = self._calls()[repo_type](
                repo_id, revision=revision, expand=expand, timeout=self.timeout
            )
        except (RepositoryNotFoundError, DisabledRepoError):
            raise FetchError(f"{repo_id} cannot be read") from None
        except HfHubHTTPError as exc:
            raise self._http_failure(exc, API) from None
        except httpx2.HTTPError as exc:
            raise FetchError(f"Hub unreachable: {_describe(exc)}") from None
        names = tuple(s.rfilename for s in (info.siblings or []) if s.rfilename)
        return names, _count_or_none(getattr(info, "used_storage", None))

    def release_info(self, repo_id: str) -> dict[str, Any] | None:
        """A model's info answer as the Hub sends it (JSON), with the fields its disclosure
        scorecard reads (RELEASE_EXPAND); None when the model is not visible."""
        self._check_not_blocked(API)
        self._count()
        headers = build_hf_headers(
            token=self.token, library_name="release-tracker", library_version=__version__
        )
        try:
            # The same request as HfApi.model_info, kept as JSON: the scorecard reads the
            # Hub's own keys (`cardData`, `model-index`, `evalResults`).
            response = get_session().get(
                f"{self.endpoint}/api/models/{repo_id}",
                params=[("expand", name) for name in RELEASE_EXPAND],
                headers=headers,
                timeout=self.timeout,
            )
            hf_raise_for_status(response)
        except (RepositoryNotFoundError, DisabledRepoError):
            return None
        except HfHubHTTPError as exc:
            raise self._http_failure(exc, API) from None
        except httpx2.HTTPError as exc:
            raise FetchError(f"Hub unreachable: {_describe(exc)}") from None
        try:
            body = response.json()
        except ValueError:
            raise FetchError(f"the Hub's answer for {repo_id} is not JSON") from None
        if not isinstance(body, dict):
            raise FetchError(f"the Hub's answer for {repo_id} is not a repo")
        return body

    def _calls(self) -> dict[str, Callable[..., ModelInfo | DatasetInfo | SpaceInfo]]:
        return {
            "model": self.api.model_info,
            "dataset": self.api.dataset_info,
            "space": self.api.space_info,
        }

    def info(self, repo_type: str, repo_id: str) -> RepoState | Gone | Renamed:
        """What the Hub says of one repo; FetchError when it said nothing conclusive."""
        self._check_not_blocked(API)
        self._count()
        call = self._calls()[repo_type]
        try:
            info = call(repo_id, expand=INFO_EXPAND[repo_type], timeout=self.timeout)
        except DisabledRepoError:
            return Gone(repo_type, repo_id, "disabled")
        except RepositoryNotFoundError:
            # Deleted, or private (the Hub answers both alike unless the token may see it).
            return Gone(repo_type, repo_id, "not_found")
        except HfHubHTTPError as exc:
            raise self._http_failure(exc, API) from None
        except httpx2.HTTPError as exc:
            raise FetchError(f"Hub unreachable: {_describe(exc)}") from None
        state = _repo_state(repo_type, info)
        # Repo ids are case-insensitive on the Hub: asked in other case, it answers with the
        # id as spelt by its owner, without a redirect. Only another name is a rename.
        if state.id.lower() != repo_id.lower():
            self._count()  # the redirect cost a second request
            return Renamed(repo_type, repo_id, state)
        if not state.visible:
            return Gone(repo_type, repo_id, "disabled" if state.disabled else "private")
        return state

    def readme(self, repo_type: str, repo_id: str, revision: str) -> str | None:
        """The repo's README.md at `revision`, or None when it has none or cannot be read;
        RateLimitedError when the resolvers bucket is spent."""
        # The Hub's file URL scheme (what huggingface_hub's hf_hub_url builds, but from our
        # endpoint rather than the one the library read from the environment at import).
        prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
        url = f"{self.endpoint}/{prefix}{repo_id}/resolve/{quote(revision, safe='')}/README.md"
        self._check_not_blocked(RESOLVERS)
        self._count()
        headers = build_hf_headers(
            token=self.token, library_name="release-tracker", library_version=__version__
        )
        try:
            response = get_session().get(url, headers=headers, timeout=self.timeout)
        except httpx2.HTTPError:
            return None
        if response.status_code == 429:
            raise self._rate_limited(response.headers, RESOLVERS)
        if response.status_code != 200:
            return None
        return response.content[:README_BYTES].decode("utf-8", errors="replace")

    def file(
        self, url: str, *, validators: Validators | None = None, max_bytes: int = FILE_BYTES
    ) -> HubFile:
        """A file of a repo (`{endpoint}/.../resolve/{rev}/{path}`), read like a README (in
        the resolvers bucket, conditionally when `validators` are given) but as the public
        sees it: without the token. A card names the file, and what is read may end up in
        the event log; no card may make the tracker read what only the token can.
        RateLimitedError when the bucket is spent; FetchError when it cannot be read
        (`permanent` for what stays so until the repo changes: gated, missing, too large)."""
        if not _same_origin(url, self.endpoint):
            raise FetchError(f"not a file of the Hub at {self.endpoint}: {url[:200]}")
        self._check_not_blocked(RESOLVERS)
        self._count()
        headers = build_hf_headers(
            token=False, library_name="release-tracker", library_version=__version__
        )
        if validators is not None and validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators is not None and validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        try:
            with get_session().stream("GET", url, headers=headers, timeout=self.timeout) as r:
                if r.status_code == 429:
                    raise self._rate_limited(r.headers, RESOLVERS)
                found = Validators(r.headers.get("etag"), r.headers.get("last-modified"))
                if r.status_code == 304:
                    return HubFile(b"", None, found, not_modified=True)
                if r.status_code != 200:
                    raise _file_failure(r.status_code, r.headers)
                body = bytearray()
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise HubFileError(f"larger than {max_bytes:,} bytes", permanent=True)
                return HubFile(bytes(body), r.headers.get("content-type"), found)
        except httpx2.HTTPError as exc:
            raise FetchError(f"Hub unreachable: {_describe(exc)}") from None

    def _list(
        self,
        repo_type: str,
        query: list[tuple[str, str]],
        *,
        max_pages: int | None,
        limit: int = PAGE_LIMIT,
        complete: list[bool] | None = None,
    ) -> list[Any]:
        """The rows of a listing, page after page (at most `max_pages`); raises unless
        every page asked for arrived. `complete` gets whether no page was left unread."""
        params: list[tuple[str, str]] | None = [*query, ("limit", str(limit))]
        rows: list[Any] = []
        next_url: str | None = f"{self.endpoint}/api/{repo_type}s"
        pages = 0
        while next_url and (max_pages is None or pages < max_pages):
            page, links = self._get_page(next_url, params)
            rows.extend(page)
            pages += 1
            # The Link URL already carries the query (and the cursor).
            next_url, params = links.get("next", {}).get("url"), None
            if next_url and not _same_origin(next_url, self.endpoint):
                # The token goes to the configured endpoint only, whatever a page says.
                raise FetchError(f"the Hub's next-page link leaves {self.endpoint}: refused")
        if complete is not None:
            complete.append(next_url is None)
        return rows

    def _get_page(
        self, url: str, params: Sequence[tuple[str, str | int | float | bool | None]] | None
    ) -> tuple[list[Any], Mapping[Any, Any]]:
        """One listing page (its rows) and its links; transient failures are retried."""
        headers = build_hf_headers(
            token=self.token, library_name="release-tracker", library_version=__version__
        )
        for attempt in range(LISTING_RETRIES + 1):
            self._check_not_blocked(API)
            self._count()
            try:
                response = get_session().get(
                    url,
                    params=list(params) if params else None,
                    headers=headers,
                    timeout=self.timeout,
                )
                hf_raise_for_status(response)
                return _rows(response), response.links
            except HfHubHTTPError as exc:
                failure = self._http_failure(exc, API)
                transient = (
                    exc.response is not None and exc.response.status_code in TRANSIENT_STATUSES
                )
            except httpx2.HTTPError as exc:
                failure, transient = FetchError(f"Hub unreachable: {_describe(exc)}"), True
            except _NotAListing as exc:
                # An error page from a proxy in front of the Hub, a truncated body: the next
                # try usually gets the real page.
                failure, transient = FetchError(f"Hub sent a listing page that {exc}"), True
            if not transient or attempt == LISTING_RETRIES:
                raise failure
            time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def _http_failure(self, exc: HfHubHTTPError, bucket: str) -> FetchError:
        response = exc.response
        if response is not None and response.status_code == 429:
            return self._rate_limited(response.headers, bucket)
        status = f"HTTP {response.status_code} " if response is not None else ""
        return FetchError(f"Hub answered {status}{_describe(exc)}".strip())

    def _rate_limited(self, headers: Mapping[str, str], bucket: str) -> RateLimitedError:
        """Block the bucket the 429 names (or the one asked) until the Hub says."""
        wait = _retry_after(headers)
        limit = parse_ratelimit_headers(headers)
        named = limit.resource_type if limit is not None and limit.resource_type else bucket
        with self._lock:
            until = time.monotonic() + wait
            self._blocked_until[named] = max(self._blocked_until.get(named, 0.0), until)
        return RateLimitedError(wait)

    def _check_not_blocked(self, bucket: str) -> None:
        # After one 429, every source on this Hub waits for that bucket: asking again only
        # prolongs the ban. The other buckets go on (a README 429 leaves listings alone).
        with self._lock:
            remaining = self._blocked_until.get(bucket, 0.0) - time.monotonic()
        if remaining > 0:
            raise RateLimitedError(remaining)

    def _count(self) -> None:
        with self._lock:
            self.requests += 1


class _NotAListing(Exception):
    """A listing answer that is not a JSON list of repos."""


@dataclass(frozen=True)
class HubFile:
    """A file read from the Hub: its bytes (none when `not_modified`), type and validators."""

    body: bytes
    content_type: str | None
    validators: Validators
    not_modified: bool = False


class HubFileError(FetchError):
    """A file that cannot be read; `permanent` when it stays so until the repo changes."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def _file_failure(status: int, headers: Mapping[str, str]) -> HubFileError:
    code = headers.get("x-error-code") or ""
    if code == "GatedRepo" or (status in (401, 403) and "gated" in code.lower()):
        # A gated repo's files are refused until its terms are accepted (the card is not).
        return HubFileError(
            f"HTTP {status}: the repo is gated, its files are refused", permanent=True
        )
    if status in (401, 403, 404):
        what = {"EntryNotFound": "no such file", "RepoNotFound": "no such repo"}.get(code, code)
        return HubFileError(f"HTTP {status}{': ' + what if what else ''}", permanent=True)
    return HubFileError(f"HTTP {status}")


def _rows(response: httpx2.Response) -> list[Any]:
    try:
        body = response.json()
    except ValueError:
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        raise _NotAListing(f"is not JSON ({kind})") from None
    if not isinstance(body, list):
        raise _NotAListing("is not a list") from None
    return body


def _count_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _children(value: Any) -> dict[str, int] | None:
    """`childrenModelCount` is counts by relation (`{"finetune": 328, ...}`); an older
    answer may be one number, kept as the total."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return {"total": value}
    if isinstance(value, Mapping):
        return {str(k): int(v) for k, v in value.items() if isinstance(v, int)}
    return None


def _derivative(base_id: str, raw: Mapping[str, Any]) -> Derivative | None:
    repo_id = raw.get("id")
    if not isinstance(repo_id, str):
        return None
    tags = [t for t in raw.get("tags") or [] if isinstance(t, str)]
    relation = next(
        (b.relation for b in bases_from_tags(tags) if b.id.lower() == base_id.lower()), None
    )
    licenses = [t.removeprefix("license:") for t in tags if t.startswith("license:")]
    downloads = raw.get("downloads")
    return Derivative(
        id=repo_id,
        relation=relation,
        downloads=downloads if isinstance(downloads, int) else 0,
        license=", ".join(licenses) if licenses else None,
    )


def bases_from_tags(tags: Sequence[str]) -> list[BaseRef]:
    """The bases the Hub's tags name: `base_model:<relation>:<id>` and `base_model:<id>`."""
    found: dict[str, BaseRef] = {}
    for tag in tags:
        if not tag.startswith("base_model:"):
            continue
        rest = tag.removeprefix("base_model:")
        relation, _, repo_id = rest.partition(":")
        if repo_id and relation in RELATIONS:
            found[repo_id.lower()] = BaseRef(repo_id, relation, "tags")
        elif rest and ":" not in rest:
            found.setdefault(rest.lower(), BaseRef(rest, None, "tags"))
    return list(found.values())


def bases_from_card(card: Mapping[str, Any]) -> list[BaseRef]:
    """The bases a card names: `base_model` (a string or a list) and `base_model_relation`."""
    named = card.get("base_model")
    ids = [named] if isinstance(named, str) else named if isinstance(named, list) else []
    relation = card.get("base_model_relation")
    relation = relation if isinstance(relation, str) and relation in RELATIONS else None
    found: dict[str, BaseRef] = {}
    for repo_id in ids:
        if isinstance(repo_id, str) and repo_id.strip():
            found.setdefault(repo_id.strip().lower(), BaseRef(repo_id.strip(), relation, "card"))
    return list(found.values())


def _repo_state(repo_type: str, info: ModelInfo | DatasetInfo | SpaceInfo) -> RepoState:
    card = _card(info)
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
        # The tags name a base under its current id (the card may still use an old name).
        bases=tuple(bases_from_tags(info.tags or []) or bases_from_card(card))
        if repo_type == "model"
        else (),
        storage=_count_or_none(getattr(info, "used_storage", None)),
        children=_children(getattr(info, "children_model_count", None)),
        gate=_gate_fields(card) or None,
    )


def _card(info: ModelInfo | DatasetInfo | SpaceInfo) -> dict[str, Any]:
    """The card's metadata fields that are set. Read as they are: `CardData.to_dict`
    deep-copies the whole card (a listing page holds a thousand) and renames fields this
    module does not read (`eval_results`, `train_eval_index`); nothing here changes them."""
    if info.card_data is None:
        return {}
    return {str(k): v for k, v in vars(info.card_data).items() if v is not None}


def _gate_fields(card: Mapping[str, Any]) -> dict[str, Any]:
    """The gate as the card writes it: the `extra_gated_*` fields (prompt, heading,
    description, button, fields asked, EU exclusion), read by detection as they are."""
    return {str(k): v for k, v in card.items() if str(k).startswith("extra_gated_")}


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
