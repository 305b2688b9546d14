"""What a fetch saw, as plain data: the input of detection."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

# A feed or a page's links yield at most this many entries (in document order), and a
# source keeps at most this many: a page of 400,000 links or a feed whose ids change on
# every fetch must not grow the database without end.
MAX_ENTRIES = 10_000


class PostState(TypedDict):
    """What is stored of a feed entry or a page's link between polls."""

    title: str
    link: str | None


class TextState(TypedDict, total=False):
    """What is stored of a page's main text (item key "text"): its lines, how they were
    read (`form`: "html", "text" or "pdf"; absent in states stored before there was a
    choice, meaning "html"), and the clauses and sentences of its terms (`terms`, see
    `tracker.detect.terms.Terms.as_state`)."""

    lines: list[str]
    sha256: str
    rev: int
    form: str
    terms: dict[str, object]


class RepoItem(TypedDict, total=False):
    """What is stored of a Hub repo. `rev` counts its changes (each event's fingerprint);
    `status` is "available", "withdrawn" (with a `reason`) or "unseen" (a watched repo
    the Hub never showed: not counted as withdrawn); `withheld` holds the
    withheld-details sentences of its model card already reported. `content_files`,
    `files` and `storage` are what the last look at its files found (weight or data
    files, all files, `usedStorage` in bytes); `defunct` the card's sentence saying it is
    gone, once reported."""

    type: str
    id: str
    gated: bool | str
    license: str | None
    license_name: str | None
    license_link: str | None
    sha: str | None
    status: str
    reason: str
    rev: int
    withheld: list[str]
    content_files: int
    files: int
    storage: int
    defunct: str
    gate_terms: dict[str, Any]
    license_page: dict[str, Any]
    license_terms: dict[str, Any]


@dataclass(frozen=True)
class Validators:
    """What the last successful response offered for a conditional request."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a feed. `key` is its identity: guid, else link, else a content hash."""

    key: str
    title: str
    link: str | None
    published_at: datetime | None
    author: str | None = None
    # The summary and content as the feed gave them (HTML). They are turned into text only
    # for entries that become posts: doing it for every entry of every changed feed would
    # cost a sixth more than parsing the feed.
    summary_html: str = field(default="", compare=False, repr=False)
    content_html: tuple[str, ...] = field(default=(), compare=False, repr=False)
    # What a post of this entry adds to its event's `data` (an arXiv paper's authors,
    # category and version); JSON-ready values.
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def state(self) -> PostState:
        """What is stored of the entry between polls."""
        return {"title": self.title, "link": self.link}

    def summary(self, limit: int = 500) -> str:
        from tracker.text import html_to_text

        return html_to_text(self.summary_html)[:limit]

    def text(self, limit: int = 50_000) -> str:
        """Title, summary and content as plain text, for the disclosure rules."""
        from tracker.text import html_to_text

        parts = [self.title, html_to_text(self.summary_html)]
        parts += [html_to_text(html) for html in self.content_html]
        return "\n".join(parts)[:limit]


@dataclass(frozen=True)
class PageText:
    """The normalised main text of a page, line by line; `form` says what it was read
    from: an HTML page ("html"), a plain-text or Markdown document ("text") or a PDF
    ("pdf"), whose lines are paragraphs."""

    lines: tuple[str, ...]
    form: str = "html"

    @property
    def digest(self) -> str:
        return hashlib.sha256("\n".join(self.lines).encode()).hexdigest()


REPO_TYPES = ("model", "dataset", "space")
# How a model relates to the base it names (the Hub's `base_model:<relation>:<id>` tags and
# the card's `base_model_relation`).
RELATIONS = ("finetune", "adapter", "quantized", "merge")


@dataclass(frozen=True)
class BaseRef:
    """A repo that a model says it is built on. `origin` is where that was read: "tags"
    (the Hub's `base_model:` tags, which name the base under its current id) or "card"
    (the card's `base_model`, used only when the tags say nothing)."""

    id: str
    relation: str | None = None  # one of RELATIONS, or None when unsaid
    origin: str = "tags"


@dataclass(frozen=True)
class RepoState:
    """What the Hub shows of one repository: the fields openness detection reads."""

    type: str
    id: str
    gated: bool | str = False  # False, "auto" or "manual"; spaces are never gated
    license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    sha: str | None = None
    private: bool = False
    disabled: bool = False
    created_at: datetime | None = None
    last_modified: datetime | None = None
    # What the repo is built on (models), from the tags and card the listing carries.
    bases: tuple[BaseRef, ...] = ()
    # Only in info answers (the Hub refuses these in listings): `usedStorage` in bytes,
    # and `childrenModelCount`, the models naming this one as base, by relation.
    storage: int | None = None
    children: Mapping[str, int] | None = field(default=None, compare=False)
    # The gate's terms as the card writes them: its `extra_gated_*` fields (the prompt,
    # heading, description, button, the fields asked, the EU exclusion), untouched.
    gate: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return repo_key(self.type, self.id)

    @property
    def visible(self) -> bool:
        """Whether the public can see the repo: private or disabled repos count as withdrawn."""
        return not (self.private or self.disabled)

    def state(self) -> RepoItem:
        """What is stored of the repo between polls."""
        return {
            "type": self.type,
            "id": self.id,
            "gated": self.gated,
            "license": self.license,
            "license_name": self.license_name,
            "license_link": self.license_link,
            "sha": self.sha,
        }


def repo_key(repo_type: str, repo_id: str) -> str:
    """Item key of a repo: ids are unique per type only (a model and a data set may share one)."""
    return f"{repo_type}:{repo_id}"


def built_on_own(repo: RepoState) -> bool:
    """Whether a model names a base of its own owner: a lab's quantized, fine-tuned or
    adapted variant of one of its own models, not a release of its own."""
    owner = repo.id.partition("/")[0].casefold()
    return any(base.id.partition("/")[0].casefold() == owner for base in repo.bases)


@dataclass(frozen=True)
class Gone:
    """An info call confirmed the repo is not publicly visible any more."""

    type: str
    id: str
    reason: str  # "not_found" (deleted, or private to us), "private" or "disabled"


@dataclass(frozen=True)
class Renamed:
    """An info call on the old id was redirected: the repo lives on under a new id."""

    old_type: str
    old_id: str
    new: RepoState


@dataclass(frozen=True)
class RepoContents:
    """The files of a repo whose head commit moved: their names at the new head, its
    `usedStorage`, and the names at the head last seen when no count of them was stored."""

    files: tuple[str, ...]
    storage: int | None = None
    files_before: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Derivative:
    """A model built on a base, as a listing filtered by the base's tag shows it."""

    id: str
    relation: str | None
    downloads: int = 0
    license: str | None = None


@dataclass(frozen=True)
class Derivatives:
    """What the Hub says is built on a base model that closed up.

    `counts` comes from the base's `childrenModelCount` (by relation; None when the base
    could not be asked, e.g. it is gone); `top` from a bounded listing filtered by the
    base's `base_model:` tag, most downloaded first; `listed` is how many rows that listing
    read and `complete` whether they were all of them.
    """

    counts: Mapping[str, int] | None = None
    top: tuple[Derivative, ...] = ()
    listed: int = 0
    complete: bool = False
    by_relation: Mapping[str, int] = field(default_factory=dict)  # among the listed rows


@dataclass(frozen=True)
class Discussion:
    """A discussion opened on a watched repo, as a Hub webhook announced it."""

    num: int
    title: str
    url: str | None = None
    status: str | None = None
    is_pull_request: bool = False
    author: str | None = None


@dataclass(frozen=True)
class LicensePage:
    """What a poll read of the page a repo's card names as its license (`license_link`).

    `url` is what was read (None when the link is nothing the tracker can follow); `text`
    its main text, None when the server said it had not changed (`not_modified`) or it
    could not be read (`error`; `permanent` when reading again is useless until the link
    or the repo's head changes: a gated repo's file, a missing one). `sha` is the repo's
    head commit when it was read."""

    link: str
    url: str | None
    checked_at: datetime
    text: PageText | None = None
    not_modified: bool = False
    validators: Validators = field(default_factory=Validators)
    sha: str | None = None
    error: str | None = None
    permanent: bool = False


@dataclass(frozen=True)
class ReleaseInfo:
    """What a model released under a watched author shows of itself, for its disclosure
    scorecard: the Hub's info answer as JSON (card, config, safetensors parameter count,
    files, evaluation results) and its README. `earlier`: the author's model before the
    new ones, read to compare them with, not a release of this poll."""

    info: Mapping[str, Any]
    readme: str = ""
    earlier: bool = False


@dataclass
class HubSnapshot:
    """What one poll saw of a Hub source.

    `listed` holds every repo of complete listings (an author source); `checked` the
    outcome of info calls, by the key that was asked about. A stored repo that is in
    neither is left as it was: nothing was learnt about it.
    """

    listed: dict[str, RepoState] = field(default_factory=dict)
    checked: dict[str, RepoState | Gone | Renamed] = field(default_factory=dict)
    # README.md of repos whose head commit changed, for the disclosure rules.
    readmes: dict[str, str] = field(default_factory=dict)
    # The files of repos whose head commit changed (a bounded few per poll).
    contents: dict[str, RepoContents] = field(default_factory=dict)
    # What is built on the base models that closed up in this poll, by base id.
    derivatives: dict[str, Derivatives] = field(default_factory=dict)
    # Discussions that webhooks announced, by repo key.
    discussions: dict[str, list[Discussion]] = field(default_factory=dict)
    # The license pages read this poll (a bounded few), by repo key.
    license_pages: dict[str, LicensePage] = field(default_factory=dict)
    # When the poll looked: the time a first reading of a repo's terms is recorded at.
    observed_at: datetime | None = None
    # What new models (and the author's model before them) disclose, by repo key.
    releases: dict[str, ReleaseInfo] = field(default_factory=dict)
    # The detection the fetch ran on this snapshot (`tracker.kinds.hub`), with the stored
    # states and the context it ran on: the poll's recording takes it instead of detecting
    # again when its states and context are the same.
    detected: tuple[Any, Any, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Observation:
    """The result of fetching one source.

    `unchanged` means the server answered 304 or sent the same bytes as last time: there is
    nothing to parse or detect, only the poll to record. Feeds and pages watched for links
    fill `entries`, pages watched for their text `page`, Hub sources `hub`.
    """

    unchanged: bool
    entries: list[FeedEntry] = field(default_factory=list)
    page: PageText | None = None
    title: str | None = None
    validators: Validators | None = None
    content_hash: str | None = None
    requests: int = 1
    hub: HubSnapshot | None = None
    # How long the server says this stays fresh (Cache-Control max-age, an RSS <ttl>):
    # polling sooner would only fetch the same thing again.
    fresh_for: float | None = None
    # A poll of a few named items (a Hub webhook's repo) rather than the whole source: it
    # leaves the source's schedule as it was. `answered` holds the poll requests it
    # answered (entries of the source's `poll_focus`), taken off the source when recorded.
    partial: bool = False
    answered: tuple[Mapping[str, Any], ...] = ()

    @property
    def text(self) -> PageText:
        """The page's main text (pages watched without a link selector)."""
        assert self.page is not None, "not a page text observation"
        return self.page
