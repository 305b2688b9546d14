"""A fake Hugging Face Hub API server for tests.

`FakeHub` is a real HTTP server on 127.0.0.1 (ephemeral port, background thread) that answers
the read-only Hub API calls release-tracker makes through `huggingface_hub.HfApi`:

- ``GET /api/{models,datasets,spaces}``: listings with ``author``, ``search``, ``filter``,
  ``gated``, ``sort``, ``limit``, repeated ``expand``, ``full``/``cardData``/``config`` flags,
  and cursor pagination through a ``Link: <...>; rel="next"`` header.
- ``GET /api/{type}s/{repo_id}`` and ``.../revision/{rev}``: repo info, with ``expand``;
  ``siblings`` as they were at that revision, ``childrenModelCount`` counted from the
  ``base_model:`` tags of the world's models.

The world is an in-memory, mutable set of repos that tests change between calls (add, update,
remove, make private, disable, rename, gate, relicense, commit), plus fault injection (5xx,
429 with ``RateLimit`` headers, failure on listing page K, a fixed-window rate limiter) and a
log of every request. Each behaviour notes what the real Hub does and where that was seen;
``tests/fixtures/hub/README.md`` lists the facts and their sources. ``tests/corpus`` checks the
fake against real recorded Hub answers (``../shared/corpus/hub``) when they are there.

Only the standard library is used. ``patch_hf_client`` touches ``huggingface_hub`` if it is
importable.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

if TYPE_CHECKING:
    import pytest

RepoType = Literal["model", "dataset", "space"]
Gated = Literal[False, "auto", "manual"]

FIXTURES_DIR = Path(__file__).parent / "fixtures" / "hub"

_PLURAL: dict[str, str] = {"model": "models", "dataset": "datasets", "space": "spaces"}
_SINGULAR: dict[str, str] = {plural: singular for singular, plural in _PLURAL.items()}

# Values the Hub accepts in `expand` (huggingface_hub 2.4.0 `Expand*Property_T`, hf_api.py
# lines 159-236). "xetEnabled" is also accepted: the client's own recorded traffic asks for it
# (TestSpaceAPIProduction cassettes: `/api/spaces/.../revision/main?expand=xetEnabled`, 200).
EXPAND_PROPERTIES: dict[str, frozenset[str]] = {
    "model": frozenset(
        {
            "author", "baseModels", "cardData", "childrenModelCount", "config", "createdAt",
            "disabled", "downloads", "downloadsAllTime", "evalResults", "gated", "gguf",
            "inference", "inferenceProviderMapping", "lastModified", "library_name", "likes",
            "mask_token", "model-index", "pipeline_tag", "private", "resourceGroup",
            "safetensors", "sha", "siblings", "spaces", "tags", "transformersInfo",
            "trendingScore", "usedStorage", "widgetData", "xetEnabled",
        }
    ),
    "dataset": frozenset(
        {
            "author", "cardData", "citation", "createdAt", "description", "disabled",
            "downloads", "downloadsAllTime", "gated", "lastModified", "likes", "mainSize",
            "paperswithcode_id", "private", "resourceGroup", "sha", "siblings", "tags",
            "trendingScore", "usedStorage", "xetEnabled",
        }
    ),
    "space": frozenset(
        {
            "author", "cardData", "createdAt", "datasets", "disabled", "lastModified", "likes",
            "models", "private", "region", "resourceGroup", "runtime", "sdk", "sha", "siblings",
            "subdomain", "tags", "trendingScore", "usedStorage", "xetEnabled",
        }
    ),
}  # fmt: skip
# Accepted on a repo's own route only: listings answer 400 for them. A public Hub client
# keeps its expand tables transcribed from the Hub's own 400 messages, with exactly these
# as "detail only"; huggingface_hub 2.4.0's list_models docstring leaves them out too
# (huggingface/huggingface_hub#3182 took `baseModels`, `childrenModelCount` and
# `usedStorage` out of it, as the Hub's listing routes refuse them).
DETAIL_ONLY: dict[str, frozenset[str]] = {
    "model": frozenset({"baseModels", "childrenModelCount", "usedStorage"}),
    "dataset": frozenset({"usedStorage"}),
    "space": frozenset({"usedStorage"}),
}
# The relations of `base_model:<relation>:<id>` tags (and `childrenModelCount` keys).
RELATIONS = ("adapter", "merge", "quantized", "finetune")

# Fields of a listing row when neither `expand` nor `full` is sent. Models: exactly the keys of
# a recorded /api/models page (checked in tests/corpus; fixtures/hub/list_models.default_fields.json
# has rows of that shape). Datasets: the
# leading keys are seen in recorded rows (_id, id, author, disabled, gated, lastModified, likes,
# trendingScore, private); the tail is an assumption. Spaces: an assumption.
DEFAULT_LIST_FIELDS: dict[str, tuple[str, ...]] = {
    "model": (
        "_id", "id", "likes", "trendingScore", "private", "downloads", "tags",
        "pipeline_tag", "library_name", "createdAt", "modelId",
    ),
    "dataset": (
        "_id", "id", "author", "disabled", "gated", "lastModified", "likes", "trendingScore",
        "private", "sha", "description", "downloads", "tags", "createdAt",
    ),
    "space": ("_id", "id", "likes", "trendingScore", "private", "sdk", "tags", "createdAt"),
}  # fmt: skip

# Messages the Hub sends in `X-Error-Message` and in the `{"error": ...}` body.
MSG_ANONYMOUS_NOT_FOUND = "Invalid username or password."  # 401 to anonymous callers
MSG_REPO_NOT_FOUND = "Repository not found"  # 401 to authenticated callers (wording assumed)
MSG_DISABLED = "Access to this resource is disabled."  # matched verbatim by the client
MSG_BAD_TOKEN = "Invalid credentials in Authorization header"  # matched verbatim by the client
MSG_NOT_FOUND = "Sorry, we can't find the page you are looking for."  # wording assumed

_BASE_TIME = datetime(2024, 1, 1, tzinfo=UTC)
_TRUE_VALUES = {"1", "true", "True"}


def hub_timestamp(moment: datetime) -> str:
    """Format a datetime the way the Hub does: ``2024-02-19T11:06:12.000Z`` (always UTC, ms)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def load_fixture(name: str, directory: Path = FIXTURES_DIR) -> Any:
    """Parse a Hub response body from ``tests/fixtures/hub/<name>`` (or another directory)."""
    return json.loads((directory / name).read_text(encoding="utf-8"))


def normalize_repo_type(repo_type: str) -> str:
    """Accept ``model``/``models`` (etc.) and return the singular form."""
    singular = _SINGULAR.get(repo_type, repo_type)
    if singular not in _PLURAL:
        raise ValueError(f"unknown repo type {repo_type!r}")
    return singular


@dataclass(frozen=True)
class RecordedRequest:
    """One request the fake received, in arrival order.

    ``query`` maps each parameter to all its values (``expand`` repeats). ``headers`` has
    lower-cased names. ``status`` is what the fake answered.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    status: int

    @property
    def page(self) -> int:
        """Listing page number (1 without a cursor); 0 if the request is not a listing."""
        return _page_of(self.path, self.query)


@dataclass
class _Fault:
    """A canned error answer for requests whose path starts with ``path_prefix``."""

    path_prefix: str
    status: int
    remaining: int | None  # None: answer this way forever
    headers: dict[str, str]
    body: Any
    page: int | None = None  # only listing requests for this page
    text: str | None = None  # a plain-text (or HTML) body instead of JSON
    content_type: str | None = None


@dataclass
class _RateLimiter:
    """A fixed-window request budget, like the Hub's (quota per 5-minute window)."""

    limit: int
    window: int
    resource: str = "api"
    started: float | None = None
    used: int = 0

    def take(self) -> tuple[bool, int, int]:
        """Count one request; return (allowed, remaining, seconds until the window resets)."""
        now = time.monotonic()
        if self.started is None or now - self.started >= self.window:
            self.started, self.used = now, 0
        self.used += 1
        reset = max(0, math.ceil(self.window - (now - self.started)))
        return self.used <= self.limit, max(0, self.limit - self.used), reset

    def headers(self, remaining: int, reset: int) -> dict[str, str]:
        """``RateLimit``/``RateLimit-Policy`` as documented in hub-docs rate-limits.md."""
        return ratelimit_headers(remaining, reset, self.limit, self.window, self.resource)


def ratelimit_headers(
    remaining: int, reset: int, limit: int = 500, window: int = 300, resource: str = "api"
) -> dict[str, str]:
    """The Hub's rate-limit headers (IETF draft 9), parsed by ``parse_ratelimit_headers``."""
    return {
        "RateLimit": f'"{resource}";r={remaining};t={reset}',
        "RateLimit-Policy": f'"fixed window";"{resource}";q={limit};w={window}',
    }


@dataclass
class _Answer:
    """A response the handler writes."""

    status: int
    body: Any = None
    headers: dict[str, str] | None = None
    text: str | None = None  # plain-text body instead of JSON
    content_type: str | None = None  # of a text body (text/plain by default)
    data: bytes | None = None  # a file's bytes as they are (with `content_type`)


def _error(status: int, message: str, *, code: str | None = None) -> _Answer:
    """An error the way the Hub sends it: JSON ``{"error": msg}`` plus ``X-Error-*`` headers.

    The client reads ``X-Error-Code`` and ``X-Error-Message`` (utils/_http.py
    ``hf_raise_for_status``) and the ``error`` key of the body (``_format``).
    """
    headers = {"X-Error-Message": message}
    if code is not None:
        headers["X-Error-Code"] = code
    return _Answer(status, {"error": message}, headers)


def _encode_cursor(page: int, key: list[Any]) -> str:
    raw = json.dumps({"p": page, "k": key}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, list[Any]] | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        return int(data["p"]), list(data["k"])
    except (ValueError, KeyError, TypeError):
        return None


def _page_of(path: str, query: Mapping[str, list[str]]) -> int:
    if path.rstrip("/") not in {f"/api/{plural}" for plural in _SINGULAR}:
        return 0
    cursor = (query.get("cursor") or [""])[0]
    decoded = _decode_cursor(cursor) if cursor else None
    return decoded[0] if decoded else 1


def _flag(query: Mapping[str, list[str]], name: str) -> bool:
    """Boolean query flag; httpx2 sends Python ``True`` as ``true``."""
    return any(value in _TRUE_VALUES for value in query.get(name, []))


def _project(record: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {name: record[name] for name in fields if name in record}


class FakeHub:
    """In-memory Hugging Face Hub served over HTTP on 127.0.0.1.

    Use as a context manager (``with FakeHub() as hub:``) or call ``start()``/``stop()``.
    Point the client at it with ``HfApi(endpoint=hub.endpoint)``.

    ``page_size`` is the number of rows per listing page (the Hub serves up to 1000; a small
    value exercises pagination). A ``limit`` query parameter lowers it further, as on the Hub,
    where ``limit`` caps the page, not the listing (huggingface_hub's own test paginates past
    ``?limit=2``). ``strict_tokens``: a bearer token not registered with ``add_user`` gets 401
    ``Invalid credentials in Authorization header``, as the Hub answers unknown tokens.
    """

    def __init__(self, *, page_size: int = 3, strict_tokens: bool = True) -> None:
        self.page_size = page_size
        self.strict_tokens = strict_tokens
        self._lock = threading.RLock()
        self._repos: dict[tuple[str, str], dict[str, Any]] = {}
        self._history: dict[tuple[str, str], list[str]] = {}
        # The files of each commit, so that info at an old revision lists that revision's.
        self._trees: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
        self._disabled_status: dict[tuple[str, str], int] = {}
        self._redirects: dict[tuple[str, str], str] = {}
        self._readmes: dict[tuple[str, str], str] = {}
        self._files: dict[tuple[str, str, str], tuple[bytes, str]] = {}
        self._users: dict[str, tuple[str, frozenset[str]]] = {}
        self._faults: list[_Fault] = []
        self._rate_limiter: _RateLimiter | None = None
        self._requests: list[RecordedRequest] = []
        self._counter = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----------------------------------------------------------------- server lifecycle

    def start(self) -> FakeHub:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash), for ``HfApi(endpoint=...)``."""
        if self._server is None:
            raise RuntimeError("FakeHub is not running: call start() or use it as a context")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ----------------------------------------------------------------- the world

    def add_repo(self, repo_type: str, repo_id: str, **fields: Any) -> dict[str, Any]:
        """Create a repo and return a copy of its JSON record.

        ``fields`` are Hub JSON keys (``gated``, ``cardData``, ``sha``, ``lastModified``,
        ``createdAt``, ``private``, ``disabled``, ``author``, ``tags``, ``downloads``, ...).
        Missing basics get deterministic defaults (``_id`` increasing with creation order,
        40-hex ``sha``, Hub-formatted timestamps). Conveniences: ``license``,
        ``license_name``, ``license_link`` go into ``cardData`` and the ``license`` id also
        becomes the ``license:<id>`` tag, as the Hub derives it from the card;
        ``base_model`` (an id or a list) and ``base_model_relation`` go into ``cardData``
        and become the ``base_model:<id>`` and ``base_model:<relation>:<id>`` tags (the
        Hub infers a relation the card does not give: adapter when the files hold an
        ``adapter_config.json``, quantized with a ``.gguf`` file, merge with a ``merge``
        card tag, else finetune). ``files`` is a shortcut for ``siblings``: file names.
        ``parameters`` (``{"BF16": 7_241_732_096}``, counts by dtype) becomes
        ``safetensors``: ``{"parameters": {...}, "total": <their sum>}``, the shape of
        huggingface_hub's ``SafeTensorsInfo`` and of the recorded info answers (the Hub
        counts the parameters of the repo's safetensors files; repos without them have no
        ``safetensors`` key). ``config`` (``{"architectures": [...], "model_type": ...}``),
        ``model-index`` and ``evalResults`` are served as given.
        """
        kind = normalize_repo_type(repo_type)
        key = (kind, repo_id)
        with self._lock:
            if key in self._repos:
                raise ValueError(f"{kind} {repo_id} already exists")
            if fields.get("id", repo_id) != repo_id:
                raise ValueError(f"fields say id={fields['id']!r}, not {repo_id!r}")
            self._redirects.pop(key, None)
            record = self._default_record(kind, repo_id)
            self._apply(record, fields)
            self._repos[key] = record
            self._history[key] = [record["sha"]]
            self._trees[key] = {record["sha"]: json.loads(json.dumps(record["siblings"]))}
            return json.loads(json.dumps(record))

    def seed_fixture(
        self,
        name: str,
        repo_type: str = "model",
        *,
        directory: Path = FIXTURES_DIR,
        **overrides: Any,
    ) -> str:
        """Add a repo from an info response body in ``tests/fixtures/hub`` (or `directory`,
        e.g. the corpus of real recordings); return its id.

        The record is the body as is (plus ``overrides``): no defaults are added, so info
        answers exactly that JSON.
        """
        kind = normalize_repo_type(repo_type)
        record = {**load_fixture(name, directory), **overrides}
        key = (kind, record["id"])
        with self._lock:
            if key in self._repos:
                raise ValueError(f"{kind} {record['id']} already exists")
            self._redirects.pop(key, None)
            self._repos[key] = record
            self._history[key] = [record["sha"]]
            self._trees[key] = {record["sha"]: list(record.get("siblings") or [])}
        return record["id"]

    def set_readme(self, repo_type: str, repo_id: str, text: str | None) -> None:
        """Serve `text` as the repo's README.md (``/{id}/resolve/{rev}/README.md``); None: none."""
        key = (normalize_repo_type(repo_type), repo_id)
        with self._lock:
            if text is None:
                self._readmes.pop(key, None)
            else:
                self._readmes[key] = text

    def set_file(
        self,
        repo_type: str,
        repo_id: str,
        path: str,
        body: str | bytes | None,
        content_type: str = "text/plain; charset=utf-8",
    ) -> None:
        """Serve `body` as the repo's file `path` at every revision (None: no such file).

        As the Hub does for a file kept in git: an ``ETag`` of its content, 304 to an
        ``If-None-Match`` naming it. A gated repo's files (not its README) are refused to
        whoever has not been granted access: 401 to anonymous callers, 403 to others,
        ``X-Error-Code: GatedRepo`` (the client's ``GatedRepoError``; messages quoted in
        user reports: "Access to model ... is restricted").
        """
        key = (normalize_repo_type(repo_type), repo_id, path)
        with self._lock:
            if body is None:
                self._files.pop(key, None)
            else:
                data = body.encode() if isinstance(body, str) else body
                self._files[key] = (data, content_type)

    def sync_world(self, world: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> None:
        """Make the repos match `world`: ``{"models": {id: fields}, "datasets": {...}, ...}``.

        Repos missing from `world` are removed, new ones added, existing ones updated with
        the given fields (so editing a world file changes gating, licenses, shas, ...).
        """
        with self._lock:
            wanted = {
                (normalize_repo_type(plural), repo_id): dict(fields or {})
                for plural, repos in world.items()
                for repo_id, fields in repos.items()
            }
            for key in [k for k in self._repos if k not in wanted]:
                self.remove_repo(*key)
            for (kind, repo_id), fields in wanted.items():
                if (kind, repo_id) in self._repos:
                    self.update_repo(kind, repo_id, **fields)
                else:
                    self.add_repo(kind, repo_id, **fields)

    def update_repo(self, repo_type: str, repo_id: str, **fields: Any) -> dict[str, Any]:
        """Change fields of an existing repo (same keys as ``add_repo``); return a copy."""
        with self._lock:
            record = self._get(repo_type, repo_id)
            self._apply(record, fields)
            return json.loads(json.dumps(record))

    def commit(
        self,
        repo_type: str,
        repo_id: str,
        *,
        sha: str | None = None,
        last_modified: str | None = None,
        **fields: Any,
    ) -> str:
        """Record a new commit: new ``sha`` and ``lastModified`` (old shas stay resolvable)."""
        with self._lock:
            record = self._get(repo_type, repo_id)
            key = (normalize_repo_type(repo_type), repo_id)
            n = next(self._counter)
            new_sha = sha or hashlib.sha1(f"{repo_id}@{n}".encode()).hexdigest()
            self._apply(record, fields)
            record["sha"] = new_sha
            record["lastModified"] = last_modified or hub_timestamp(
                _BASE_TIME + timedelta(minutes=n)
            )
            self._history[key].append(new_sha)
            self._trees.setdefault(key, {})[new_sha] = json.loads(
                json.dumps(record.get("siblings") or [])
            )
            return new_sha

    def remove_repo(self, repo_type: str, repo_id: str) -> None:
        """Delete a repo: gone from listings, info answers 401 ``RepoNotFound``."""
        with self._lock:
            key = (normalize_repo_type(repo_type), repo_id)
            self._get(repo_type, repo_id)
            for table in (self._repos, self._history, self._disabled_status, self._trees):
                table.pop(key, None)

    def set_private(self, repo_type: str, repo_id: str, private: bool = True) -> None:
        """Private repos are listed and readable only with a token of the owner (or its org);
        anyone else gets 401 ``RepoNotFound``, the Hub's answer for invisible repos."""
        self.update_repo(repo_type, repo_id, private=private)

    def set_gated(self, repo_type: str, repo_id: str, gated: Gated) -> None:
        """Gate a repo (``False``, ``"auto"``, ``"manual"``); its metadata stays readable."""
        self.update_repo(repo_type, repo_id, gated=gated)

    def disable(
        self, repo_type: str, repo_id: str, disabled: bool = True, *, info_status: int = 403
    ) -> None:
        """Disable (or re-enable) a repo.

        The Hub answers info on a disabled repo with ``X-Error-Message: Access to this
        resource is disabled.``, which the client turns into ``DisabledRepoError``; the
        client's docstring (errors.py, ``DisabledRepoError``) shows a 403 for
        ``dataset_info("laion/laion-art")``, so 403 is the default. ``info_status=200``
        serves the info with ``"disabled": true`` instead, as some disabled repos are seen
        to answer. Disabled repos stay in listings with ``disabled: true`` (an assumption).
        """
        with self._lock:
            record = self._get(repo_type, repo_id)
            key = (normalize_repo_type(repo_type), repo_id)
            record["disabled"] = disabled
            if disabled:
                self._disabled_status[key] = info_status
            else:
                self._disabled_status.pop(key, None)

    def rename(self, old_id: str, new_id: str, repo_type: str = "model") -> None:
        """Move a repo to ``new_id``; ``old_id`` then answers info calls with 307.

        As the Hub answers (fixtures/hub/redirect_307*.json have that shape; tests/corpus
        compares with real recordings): ``Location: /api/models/<new id>``
        keeping the rest of the path and the query string, plain-text body ``Temporary
        Redirect. Redirecting to <location>``. Listings show only the new id.
        """
        kind = normalize_repo_type(repo_type)
        with self._lock:
            record = self._get(kind, old_id)
            if (kind, new_id) in self._repos:
                raise ValueError(f"{kind} {new_id} already exists")
            old_key, new_key = (kind, old_id), (kind, new_id)
            record["id"] = new_id
            record["author"] = new_id.split("/")[0] if "/" in new_id else record.get("author")
            if kind == "model":
                record["modelId"] = new_id
            self._repos[new_key] = self._repos.pop(old_key)
            self._history[new_key] = self._history.pop(old_key)
            self._trees[new_key] = self._trees.pop(old_key, {})
            if old_key in self._disabled_status:
                self._disabled_status[new_key] = self._disabled_status.pop(old_key)
            for source, target in list(self._redirects.items()):
                if source[0] == kind and target == old_id:
                    self._redirects[source] = new_id
            self._redirects.pop(new_key, None)
            self._redirects[old_key] = new_id

    def add_user(self, name: str, token: str, orgs: Sequence[str] = ()) -> None:
        """Register a bearer token for user ``name`` (member of ``orgs``)."""
        with self._lock:
            self._users[token] = (name, frozenset(orgs))

    def history_of(self, repo_type: str, repo_id: str) -> list[str]:
        """The repo's commit shas, oldest first."""
        with self._lock:
            return list(self._history[(normalize_repo_type(repo_type), repo_id)])

    def repo(self, repo_type: str, repo_id: str) -> dict[str, Any]:
        """A copy of a repo's stored JSON record."""
        with self._lock:
            return json.loads(json.dumps(self._get(repo_type, repo_id)))

    # ----------------------------------------------------------------- faults and logs

    def fail_next(
        self,
        path_prefix: str,
        status: int = 500,
        times: int | None = 1,
        *,
        headers: Mapping[str, str] | None = None,
        body: Any = None,
        text: str | None = None,
        content_type: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests under ``path_prefix`` with ``status``.

        ``times=None`` fails forever. The body defaults to ``{"error": <reason phrase>}``;
        ``text`` sends a non-JSON body instead (an HTML error page of a proxy, with
        ``content_type``). Faults are checked in the order they were added, before auth
        and routing.
        """
        fault = _Fault(path_prefix, status, times, dict(headers or {}), body)
        fault.text, fault.content_type = text, content_type
        self._add_fault(fault)

    def fail_page(
        self,
        path_prefix: str,
        page: int,
        status: int = 500,
        times: int | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Fail listing requests for page ``page`` (1-based) only: a partial listing.

        ``times=None`` (default) fails every attempt, so the client's retries run out.
        """
        fault = _Fault(path_prefix, status, times, dict(headers or {}), None, page=page)
        self._add_fault(fault)

    def rate_limit_next(
        self,
        path_prefix: str = "/api/",
        times: int = 1,
        *,
        reset: int = 1,
        limit: int = 500,
        window: int = 300,
        retry_after: int | None = None,
        resource: str = "api",
    ) -> None:
        """Answer 429 with ``RateLimit: "<resource>";r=0;t=<reset>`` and ``RateLimit-Policy``.

        The listing calls sleep ``reset + 1`` seconds and retry (utils/_http.py
        ``_http_backoff_base``); ``model_info`` raises at once. ``retry_after`` also sends
        a ``Retry-After`` header. ``resource`` names the bucket: ``api``, ``resolvers``
        (``/resolve/`` file URLs) or ``pages`` (hub-docs rate-limits.md).
        """
        headers = ratelimit_headers(0, reset, limit, window, resource)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        self.fail_next(path_prefix, 429, times, headers=headers)

    def set_rate_limit(self, limit: int | None, window: int = 300) -> None:
        """Enforce a fixed-window budget of ``limit`` API calls (``None`` turns it off).

        Every ``/api/`` answer then carries ``RateLimit``/``RateLimit-Policy``; calls over
        budget get 429 with ``r=0`` and ``t`` = seconds left in the window.
        """
        with self._lock:
            self._rate_limiter = None if limit is None else _RateLimiter(limit, window)

    def clear_faults(self) -> None:
        """Drop all pending faults and the rate limiter."""
        with self._lock:
            self._faults.clear()
            self._rate_limiter = None

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far (a copy), oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path_prefix: str, method: str = "GET") -> list[RecordedRequest]:
        """Requests whose path starts with ``path_prefix``."""
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._lock:
            self._requests.clear()

    # ----------------------------------------------------------------- client wiring

    def patch_hf_client(self, monkeypatch: pytest.MonkeyPatch, hf_home: Path) -> None:
        """Point an already-imported huggingface_hub at this fake for one test.

        huggingface_hub reads ``HF_ENDPOINT``, ``HF_HOME`` and ``HF_HUB_DISABLE_TELEMETRY``
        once, at import (constants.py), so setting the environment is not enough: patch the
        constants too. Default ``HfApi()`` then targets the fake, no stored token is read,
        and the once-a-day ``/api/agent-harnesses`` fetch (only made when telemetry is on)
        is avoided. Also drops the client's pooled connections when the test ends.
        """
        monkeypatch.setenv("HF_HOME", str(hf_home))
        monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
        monkeypatch.setenv("HF_ENDPOINT", self.endpoint)
        monkeypatch.delenv("HF_TOKEN", raising=False)
        monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
        try:
            from huggingface_hub import constants
            from huggingface_hub.utils import close_session
        except ImportError:
            return
        hf_home.mkdir(parents=True, exist_ok=True)
        for name, value in {
            "ENDPOINT": self.endpoint,
            "HF_HOME": str(hf_home),
            "HF_HUB_DISABLE_TELEMETRY": True,
            "HF_HUB_OFFLINE": False,
            "HF_TOKEN_PATH": str(hf_home / "token"),
            "HF_STORED_TOKENS_PATH": str(hf_home / "stored_tokens"),
            "AGENT_HARNESSES_PATH": str(hf_home / ".agent_harnesses.json"),
        }.items():
            if hasattr(constants, name):
                monkeypatch.setattr(constants, name, value)
        close_session()

    # ----------------------------------------------------------------- request handling

    def _handle(self, method: str, raw_path: str, headers: Mapping[str, str]) -> _Answer:
        """Answer one request and log it (called by the HTTP handler thread)."""
        split = urlsplit(raw_path)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        lowered = {name.lower(): value for name, value in headers.items()}
        answer = self._answer(method, path, split.query, query, lowered)
        with self._lock:
            self._requests.append(RecordedRequest(method, path, query, lowered, answer.status))
        return answer

    def _answer(
        self,
        method: str,
        path: str,
        raw_query: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
    ) -> _Answer:
        fault = self._take_fault(path, query)
        if fault is not None:
            return fault
        limited, extra = self._check_rate_limit(path)
        if limited is not None:
            return limited
        answer = self._route(method, path, raw_query, query, headers)
        answer.headers = {**extra, **(answer.headers or {})}
        return answer

    def _route(
        self,
        method: str,
        path: str,
        raw_query: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
    ) -> _Answer:
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if method == "GET" and len(parts) >= 5 and "resolve" in parts[2:4]:
            return self._file(parts, headers)
        if method != "GET" or len(parts) < 2 or parts[0] != "api" or parts[1] not in _SINGULAR:
            return _Answer(404, {"error": MSG_NOT_FOUND})
        viewer = self._viewer(headers)
        if viewer is False:
            return _error(401, MSG_BAD_TOKEN)
        kind = _SINGULAR[parts[1]]
        if len(parts) == 2:
            return self._list(kind, query, headers, viewer)
        target = _split_repo_path(parts[2:])
        if target is None:
            return _Answer(404, {"error": MSG_NOT_FOUND})
        repo_id, revision, suffix = target
        return self._info(kind, repo_id, revision, suffix, raw_query, query, viewer)

    def _file(self, parts: Sequence[str], headers: Mapping[str, str]) -> _Answer:
        """``GET /[datasets/|spaces/]{owner}/{name}/resolve/{rev}/{file}``: README.md and
        the files set with ``set_file``.

        The Hub answers a missing file with 404 and ``X-Error-Code: EntryNotFound``.
        """
        kind = {"datasets": "dataset", "spaces": "space"}.get(parts[0], "model")
        owner_name = parts[1:3] if kind != "model" else parts[0:2]
        repo_id = "/".join(owner_name)
        at = 3 if kind != "model" else 2
        if parts[at : at + 1] != ["resolve"] or len(parts) < at + 3:
            return _Answer(404, {"error": MSG_NOT_FOUND})
        filename = "/".join(parts[at + 2 :])
        with self._lock:
            text = self._readmes.get((kind, repo_id))
            found = self._files.get((kind, repo_id, filename))
            record = self._repos.get((kind, repo_id))
        if filename == "README.md" and text is not None:
            return _Answer(200, text=text)
        if found is None:
            return _error(404, "Entry not found", code="EntryNotFound")
        if record is not None and record.get("gated"):
            viewer = headers.get("authorization")
            status = 403 if viewer else 401
            message = (
                f"Access to model {repo_id} is restricted. You must be authenticated to access it."
            )
            return _error(status, message, code="GatedRepo")
        body, content_type = found
        etag = '"' + hashlib.sha1(body).hexdigest() + '"'
        if headers.get("if-none-match") == etag:
            return _Answer(304, headers={"ETag": etag})
        return _Answer(200, headers={"ETag": etag}, data=body, content_type=content_type)

    # ----------------------------------------------------------------- listings

    def _list(
        self,
        kind: str,
        query: dict[str, list[str]],
        headers: Mapping[str, str],
        viewer: tuple[str, frozenset[str]] | None,
    ) -> _Answer:
        """``GET /api/{type}s``: filter, sort, project, and cut one keyset page."""
        projection = self._projection(kind, query, listing=True)
        if isinstance(projection, _Answer):
            return projection
        rows, sort_field = self._ordered_rows(kind, query, viewer)
        cursor = (query.get("cursor") or [""])[0]
        page, after = 1, None
        if cursor:
            decoded = _decode_cursor(cursor)
            if decoded is None:
                return _error(400, "Invalid cursor")
            page, after = decoded
        if after is not None:
            rows = [row for row in rows if _is_after(_row_key(row, sort_field), after, sort_field)]
        size = self._page_size(query)
        chunk, more = rows[:size], len(rows) > size
        body = [_project(row, projection) if projection else row for row in chunk]
        answer = _Answer(200, body)
        if more and chunk:
            next_cursor = _encode_cursor(page + 1, _row_key(chunk[-1], sort_field))
            answer.headers = {
                "Link": f'<{self._next_url(kind, query, headers, next_cursor)}>; rel="next"'
            }
        return answer

    def _ordered_rows(
        self, kind: str, query: Mapping[str, list[str]], viewer: tuple[str, frozenset[str]] | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        author = (query.get("author") or [""])[0].lower()
        search = (query.get("search") or [""])[0].lower()
        wanted_tags = query.get("filter", [])
        gated = (query.get("gated") or [""])[0]
        sort_field = (query.get("sort") or [""])[0] or None
        with self._lock:
            records = [json.loads(json.dumps(r)) for (k, _), r in self._repos.items() if k == kind]
        rows = [
            r
            for r in records
            if self._visible(r, viewer)
            and (not author or _namespace(r["id"]).lower() == author)
            and (not search or search in r["id"].lower())
            and all(tag in r.get("tags", []) for tag in wanted_tags)
            and (not gated or (r.get("gated", False) is not False) == (gated in _TRUE_VALUES))
        ]
        rows.sort(key=lambda r: _row_key(r, sort_field), reverse=sort_field is not None)
        return rows, sort_field

    def _page_size(self, query: Mapping[str, list[str]]) -> int:
        try:
            limit = int((query.get("limit") or ["0"])[0])
        except ValueError:
            limit = 0
        return max(1, min(self.page_size, limit) if limit > 0 else self.page_size)

    def _next_url(
        self, kind: str, query: Mapping[str, list[str]], headers: Mapping[str, str], cursor: str
    ) -> str:
        """Absolute next-page URL: the Hub keeps every query parameter and adds ``cursor``."""
        host = headers.get("host") or self.endpoint.removeprefix("http://")
        params = [(k, v) for k, values in query.items() if k != "cursor" for v in values]
        params.append(("cursor", cursor))
        return f"http://{host}/api/{_PLURAL[kind]}?{urlencode(params)}"

    # ----------------------------------------------------------------- repo info

    def _info(
        self,
        kind: str,
        repo_id: str,
        revision: str | None,
        suffix: str,
        raw_query: str,
        query: dict[str, list[str]],
        viewer: tuple[str, frozenset[str]] | None,
    ) -> _Answer:
        """``GET /api/{type}s/{id}[/revision/{rev}]``."""
        with self._lock:
            # Repo ids are case-insensitive on the Hub: `mbzuai/bactrian-x` answers 200 with
            # the body of `MBZUAI/Bactrian-X`, its id as the owner spells it
            # (huggingface/huggingface_hub#1453).
            repo_id = self._canonical(kind, repo_id)
            record = self._repos.get((kind, repo_id))
            redirect = self._redirects.get((kind, repo_id))
            disabled_status = self._disabled_status.get((kind, repo_id))
            history = list(self._history.get((kind, repo_id), []))
            record = json.loads(json.dumps(record)) if record is not None else None
        if record is None and redirect is not None:
            location = f"/api/{_PLURAL[kind]}/{redirect}{suffix}"
            location += f"?{raw_query}" if raw_query else ""
            text = f"Temporary Redirect. Redirecting to {location}"
            return _Answer(307, headers={"Location": location}, text=text)
        if record is None or not self._visible(record, viewer):
            message = MSG_ANONYMOUS_NOT_FOUND if viewer is None else MSG_REPO_NOT_FOUND
            return _error(401, message, code="RepoNotFound")
        if disabled_status is not None and disabled_status >= 400:
            return _error(disabled_status, MSG_DISABLED)
        if revision is not None:
            resolved = _resolve_revision(revision, record["sha"], history)
            if resolved is None:
                return _error(404, f"Invalid rev id: {revision}", code="RevisionNotFound")
            record["sha"] = resolved
            with self._lock:
                tree = self._trees.get((kind, repo_id), {}).get(resolved)
            if tree is not None:
                record["siblings"] = json.loads(json.dumps(tree))
        projection = self._projection(kind, query, listing=False)
        if isinstance(projection, _Answer):
            return projection
        if kind == "model" and "childrenModelCount" in projection:
            record["childrenModelCount"] = self.children_count(repo_id)
        return _Answer(200, _project(record, projection) if projection else record)

    def children_count(self, base_id: str) -> dict[str, int]:
        """``childrenModelCount`` of a model: the models whose tags name it, by relation.

        Its shape is counts by relation (``{"adapter": 716, "merge": 19, "quantized": 190,
        "finetune": 328}``), as public notes of direct calls to the Hub record it;
        huggingface_hub 2.4.0 passes it through untouched (``ModelInfo.children_model_count``,
        documented there as an int).
        """
        counts = dict.fromkeys(RELATIONS, 0)
        with self._lock:
            for (kind, _), record in self._repos.items():
                if kind != "model" or record.get("private"):
                    continue
                for tag in record.get("tags", []):
                    relation, _, named = tag.removeprefix("base_model:").partition(":")
                    if tag.startswith("base_model:") and named == base_id and relation in counts:
                        counts[relation] += 1
        return counts

    def _projection(
        self, kind: str, query: Mapping[str, list[str]], *, listing: bool
    ) -> tuple[str, ...] | _Answer:
        """Which fields to return; an empty tuple means all of them.

        With ``expand``, only the listed properties plus ``_id`` and ``id`` come back (as in
        the recorded ``?expand=inferenceProviderMapping`` answer); an unknown property is a
        400. Without it, a listing returns the default row (plus ``cardData``/``config`` when
        those flags are set), ``full`` returns everything, and repo info returns everything.
        """
        expand = [value for value in query.get("expand", []) if value]
        if expand:
            accepted = EXPAND_PROPERTIES[kind] - (DETAIL_ONLY[kind] if listing else frozenset())
            unknown = sorted(set(expand) - accepted)
            if unknown:
                allowed = ", ".join(sorted(accepted))
                return _error(
                    400, f'"expand" contains invalid value(s) {unknown}; allowed: {allowed}'
                )
            return ("_id", "id", *dict.fromkeys(expand))
        if not listing or _flag(query, "full"):
            return ()
        extra = [name for name in ("cardData", "config") if _flag(query, name)]
        return (*DEFAULT_LIST_FIELDS[kind], *extra)

    # ----------------------------------------------------------------- helpers

    def _default_record(self, kind: str, repo_id: str) -> dict[str, Any]:
        n = next(self._counter)
        created = hub_timestamp(_BASE_TIME + timedelta(minutes=n))
        digest = hashlib.sha1(f"{kind}:{repo_id}".encode()).hexdigest()
        record: dict[str, Any] = {
            "_id": f"{0x65920000 + n:08x}{digest[:16]}",
            "id": repo_id,
            "author": _namespace(repo_id),
            "sha": hashlib.sha1(f"{repo_id}@{n}".encode()).hexdigest(),
            "lastModified": created,
            "createdAt": created,
            "private": False,
            "disabled": False,
            "gated": False,
            "likes": 0,
            "trendingScore": 0,
            "tags": [],
            "siblings": [{"rfilename": ".gitattributes"}],
        }
        if kind == "model":
            record.update(modelId=repo_id, downloads=0)
        elif kind == "dataset":
            record["downloads"] = 0
        else:
            record["sdk"] = "gradio"
        return record

    @staticmethod
    def _apply(record: dict[str, Any], fields: Mapping[str, Any]) -> None:
        fields = dict(fields)
        if "files" in fields:
            fields["siblings"] = [{"rfilename": name} for name in fields.pop("files")]
        if "parameters" in fields:
            counts = dict(fields.pop("parameters"))
            fields["safetensors"] = {"parameters": counts, "total": sum(counts.values())}
        card_updates = {
            k: fields.pop(k)
            for k in (
                "license", "license_name", "license_link", "base_model", "base_model_relation"
            )
            if k in fields
        }  # fmt: skip
        if "gated" in fields and fields["gated"] not in (False, "auto", "manual"):
            raise ValueError(f"gated must be False, 'auto' or 'manual', not {fields['gated']!r}")
        record.update(json.loads(json.dumps(fields)))
        if card_updates:
            record["cardData"] = {**(record.get("cardData") or {}), **card_updates}
        if "license" in card_updates:
            tags = [t for t in record.get("tags", []) if not t.startswith("license:")]
            record["tags"] = [*tags, f"license:{card_updates['license']}"]
        if "base_model" in card_updates or "base_model_relation" in card_updates:
            _derive_base_tags(record)

    def _canonical(self, kind: str, repo_id: str) -> str:
        """The stored spelling of a repo id (or of a redirect), matched without case."""
        if (kind, repo_id) in self._repos or (kind, repo_id) in self._redirects:
            return repo_id
        lowered = repo_id.lower()
        for stored_kind, stored_id in [*self._repos, *self._redirects]:
            if stored_kind == kind and stored_id.lower() == lowered:
                return stored_id
        return repo_id

    def _get(self, repo_type: str, repo_id: str) -> dict[str, Any]:
        key = (normalize_repo_type(repo_type), repo_id)
        if key not in self._repos:
            raise KeyError(f"no {key[0]} {repo_id} in the fake hub")
        return self._repos[key]

    def _viewer(
        self, headers: Mapping[str, str]
    ) -> tuple[str, frozenset[str]] | Literal[False] | None:
        """Who is calling: a (user, orgs) pair, None for anonymous, False for a bad token."""
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            return None
        token = auth[7:].strip()
        with self._lock:
            user = self._users.get(token)
        if user is None:
            return False if self.strict_tokens else None
        return user

    @staticmethod
    def _visible(record: Mapping[str, Any], viewer: tuple[str, frozenset[str]] | None) -> bool:
        if not record.get("private"):
            return True
        if viewer is None:
            return False
        owner = _namespace(record["id"])
        return owner == viewer[0] or owner in viewer[1]

    def _add_fault(self, fault: _Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, path: str, query: Mapping[str, list[str]]) -> _Answer | None:
        with self._lock:
            for fault in self._faults:
                if not path.startswith(fault.path_prefix):
                    continue
                if fault.page is not None and _page_of(path, query) != fault.page:
                    continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                if fault.text is not None:
                    return _Answer(
                        fault.status,
                        headers=dict(fault.headers),
                        text=fault.text,
                        content_type=fault.content_type,
                    )
                body = (
                    fault.body
                    if fault.body is not None
                    else {"error": HTTPStatus(fault.status).phrase}
                )
                return _Answer(fault.status, body, dict(fault.headers))
        return None

    def _check_rate_limit(self, path: str) -> tuple[_Answer | None, dict[str, str]]:
        with self._lock:
            limiter = self._rate_limiter
            if limiter is None or not path.startswith("/api/"):
                return None, {}
            allowed, remaining, reset = limiter.take()
            headers = limiter.headers(remaining, reset)
        if allowed:
            return None, headers
        message = (
            f"You have exceeded our rate limit of {limiter.limit} requests per {limiter.window}s."
        )
        return _Answer(429, {"error": message}, headers), {}


def _derive_base_tags(record: dict[str, Any]) -> None:
    """The ``base_model:`` tags the Hub derives from a card's ``base_model``: one naming the
    base, one naming base and relation (real rows carry both, e.g.
    ``base_model:meta-llama/Llama-3.1-8B`` and ``base_model:finetune:meta-llama/Llama-3.1-8B``)."""
    card = record.get("cardData") or {}
    named = card.get("base_model")
    bases = [named] if isinstance(named, str) else list(named or [])
    relation = card.get("base_model_relation")
    if relation not in RELATIONS:
        files = [s.get("rfilename", "") for s in record.get("siblings") or []]
        if any(f.endswith("adapter_config.json") for f in files):
            relation = "adapter"
        elif any(f.endswith(".gguf") for f in files):
            relation = "quantized"
        elif "merge" in (card.get("tags") or []) or len(bases) > 1:
            relation = "merge"
        else:
            relation = "finetune"
    tags = [t for t in record.get("tags", []) if not t.startswith("base_model:")]
    for base in bases:
        tags += [f"base_model:{base}", f"base_model:{relation}:{base}"]
    record["tags"] = tags


def _namespace(repo_id: str) -> str:
    return repo_id.split("/")[0] if "/" in repo_id else repo_id


def _split_repo_path(parts: Sequence[str]) -> tuple[str, str | None, str] | None:
    """Split ``ns/name[/revision/rev]`` (or legacy ``name[/revision/rev]``) after ``/api/x/``.

    Returns (repo_id, revision, suffix), where ``suffix`` is the raw path after the id
    (kept in a rename redirect). The client quotes the revision with ``safe=''``.
    """
    if len(parts) >= 4 and parts[2] == "revision":
        return f"{parts[0]}/{parts[1]}", "/".join(parts[3:]), "/revision/" + "/".join(parts[3:])
    if len(parts) >= 3 and parts[1] == "revision":
        return parts[0], "/".join(parts[2:]), "/revision/" + "/".join(parts[2:])
    if len(parts) == 2:
        return f"{parts[0]}/{parts[1]}", None, ""
    if len(parts) == 1:
        return parts[0], None, ""
    return None


def _resolve_revision(revision: str, current_sha: str, history: Sequence[str]) -> str | None:
    if revision in ("main", "refs/heads/main"):
        return current_sha
    matches = [
        sha
        for sha in history
        if sha == revision or (len(revision) >= 7 and sha.startswith(revision))
    ]
    return matches[-1] if matches else None


_NUMERIC_SORTS = {"downloads", "likes", "trendingScore", "downloadsAllTime", "usedStorage"}


def _row_key(row: Mapping[str, Any], sort_field: str | None) -> list[Any]:
    """Keyset pagination key: ``[sort value, _id]`` (or ``[_id]`` in creation order)."""
    if sort_field is None:
        return [row["_id"]]
    value = row.get(sort_field)
    if value is None:
        value = 0 if sort_field in _NUMERIC_SORTS else ""
    return [value, row["_id"]]


def _is_after(key: list[Any], cursor_key: list[Any], sort_field: str | None) -> bool:
    """Rows come after the cursor in descending order when sorted, ascending ``_id`` if not."""
    return key < cursor_key if sort_field is not None else key > cursor_key


def _make_handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeHub/1.0"

        def do_GET(self) -> None:
            self._serve()

        def do_HEAD(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            answer = hub._handle(self.command, self.path, dict(self.headers.items()))
            if answer.status == 304:
                payload, content_type = b"", answer.content_type or "text/plain"
            elif answer.data is not None:
                payload = answer.data
                content_type = answer.content_type or "application/octet-stream"
            elif answer.text is not None:
                payload = answer.text.encode()
                content_type = answer.content_type or "text/plain; charset=utf-8"
            else:
                payload = json.dumps(answer.body, separators=(",", ":")).encode()
                content_type = "application/json; charset=utf-8"
            trace = self.headers.get("X-Amzn-Trace-Id", "")
            self.send_response(answer.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("X-Request-Id", f"Root=1-fakehub-{len(hub.requests)};{trace}")
            self.send_header("Connection", "close")
            for name, value in (answer.headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet; the request log is ``hub.requests``."""

    return _Handler


def fakehub_fixture(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **kwargs: Any
) -> Iterator[FakeHub]:
    """Body of a pytest fixture: a running FakeHub with huggingface_hub pointed at it.

    Example::

        @pytest.fixture
        def hub(monkeypatch, tmp_path):
            yield from fakehub_fixture(monkeypatch, tmp_path, page_size=2)
    """
    with FakeHub(**kwargs) as hub:
        hub.patch_hf_client(monkeypatch, tmp_path / "hf_home")
        yield hub


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a fake Hub whose world is a JSON file, reloaded whenever the file changes.

    ``python -m tests.fakehub --world world.json --port 8766``; then point the tracker at
    it with ``HF_ENDPOINT=http://127.0.0.1:8766`` and edit the file between polls.
    """
    import argparse
    import os

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--world", type=Path, required=True, help="JSON file: the Hub's repos")
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args(argv)

    hub = FakeHub(page_size=args.page_size, strict_tokens=False)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), _make_handler(hub))
    server.daemon_threads = True
    hub._server = server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"fake Hub at {hub.endpoint}, world from {args.world} (Ctrl-C stops)", flush=True)
    seen = None
    try:
        while True:
            stamp = os.stat(args.world).st_mtime_ns
            if stamp != seen:
                seen = stamp
                try:
                    hub.sync_world(json.loads(args.world.read_text()))
                    print(f"loaded {args.world}", flush=True)
                except (ValueError, KeyError) as exc:
                    print(f"cannot load {args.world}: {exc}", flush=True)
            time.sleep(0.3)
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
