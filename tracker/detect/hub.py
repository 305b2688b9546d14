"""Hub detection: releases, gating, license revisions, withdrawals, restorations, renames,
content withdrawn from repos still visible, and reports opened on them.

Input is the stored state of each repo (by key) and a `HubSnapshot`; output is the new
states and the events. Stored states carry `rev`, a counter bumped on every change, so
each transition has its own fingerprint: a repo gated, ungated and gated again yields two
`access.gated` events, while re-running one poll yields none twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tracker.detect import Detection, with_data, withheld_event
from tracker.detect.clauses import Rule as ClauseRule
from tracker.detect.content import withdrawals
from tracker.detect.hubterms import repo_terms
from tracker.disclosure import Rule, find_withheld
from tracker.events import EventDraft
from tracker.observations import (
    Discussion,
    Gone,
    HubSnapshot,
    LicensePage,
    Renamed,
    RepoContents,
    RepoState,
    repo_key,
)
from tracker.openness import classify

AVAILABLE = "available"
WITHDRAWN = "withdrawn"
# A watched repo the Hub never showed (a single-repo source named before it exists, or a
# typo): remembered so that its arrival is reported, never counted as withdrawn.
UNSEEN = "unseen"
# What a look at a repo's files found; kept between polls until the next look.
CONTENT_KEYS = ("content_files", "files", "storage", "defunct")
_CONTENT_KEYS = frozenset(CONTENT_KEYS)
# The title the Hub gives the discussion that "Report this repository" opens, e.g.
# "🚩 Report: Legal issue(s)" or "🚩 Report : Copyright infringement".
_REPORT_TITLE = re.compile(r"^\W*report\s*:\s*(?P<reason>\S.{0,200})$", re.IGNORECASE)
LICENSE_FIELDS = ("license", "license_name", "license_link")
GATE_WORDS = {"auto": "automatic approval", "manual": "manual approval"}


def repo_url(endpoint: str, repo_type: str, repo_id: str) -> str:
    """The repo's page on the Hub in use."""
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    return f"{endpoint.rstrip('/')}/{prefix}{repo_id}"


def detect_repos(
    previous: Mapping[str, Mapping[str, Any]],
    snapshot: HubSnapshot,
    *,
    baselined: bool,
    endpoint: str,
    author: str | None = None,
    disclosure_rules: tuple[Rule, ...] = (),
    clause_rules: tuple[ClauseRule, ...] | None = None,
) -> Detection:
    """Events and new states for one poll; `author` is set for sources watching an author."""
    detection = Detection()
    rules = _Rules(previous, detection, baselined=baselined, endpoint=endpoint, author=author)
    rules.readmes = snapshot.readmes
    rules.contents = snapshot.contents
    rules.disclosure_rules = disclosure_rules
    rules.clause_rules = clause_rules
    rules.license_pages = snapshot.license_pages
    rules.observed_at = snapshot.observed_at
    rename_targets = {
        outcome.new.key for outcome in snapshot.checked.values() if isinstance(outcome, Renamed)
    }
    for key, outcome in [*snapshot.listed.items(), *snapshot.checked.items()]:
        if isinstance(outcome, Renamed):
            rules.renamed(key, outcome)
        elif isinstance(outcome, Gone):
            rules.gone(key, outcome.type, outcome.id, outcome.reason)
        elif not outcome.visible:
            rules.gone(key, outcome.type, outcome.id, "disabled" if outcome.disabled else "private")
        elif key not in previous and key in rename_targets:
            continue  # its old id is in `checked` as a rename; handled there
        else:
            rules.seen(key, outcome)
    for key, discussions in snapshot.discussions.items():
        rules.discussed(key, discussions)
    _add_openness(detection, previous, snapshot)
    _add_discussions(detection, snapshot.discussions)
    return detection


def _add_discussions(detection: Detection, discussions: Mapping[str, list[Discussion]]) -> None:
    """Every event of a repo that a webhook announced a discussion on carries it in
    `data.discussion` (a report opens a public discussion before anything else changes)."""
    if not discussions:
        return
    events = []
    for event in detection.events:
        found = discussions.get(repo_key(event.data.get("repo_type", "model"), event.subject))
        if found and "discussion" not in event.data:
            event = with_data(event, discussion=_discussion(found[-1]))
        events.append(event)
    detection.events = events


def _discussion(discussion: Discussion) -> dict[str, Any]:
    return {
        "num": discussion.num,
        "title": discussion.title,
        "url": discussion.url,
        "status": discussion.status,
        "is_pull_request": discussion.is_pull_request,
    }


def report_reason(title: str) -> str | None:
    """The reason of a discussion opened by "Report this repository", else None."""
    found = _REPORT_TITLE.match(title.strip())
    return found.group("reason").strip() if found else None


def _add_openness(
    detection: Detection, previous: Mapping[str, Mapping[str, Any]], snapshot: HubSnapshot
) -> None:
    """Every Hub event carries the repo's openness before and after (`data.openness`)."""
    renamed_from = {
        outcome.new.key: key
        for key, outcome in snapshot.checked.items()
        if isinstance(outcome, Renamed)
    }
    with_openness = []
    for event in detection.events:
        key = repo_key(event.data["repo_type"], event.subject)
        before = previous.get(key) or previous.get(renamed_from.get(key, ""))
        after = detection.upserts.get(key) or before
        openness = {
            "before": classify(before).as_dict() if before else None,
            "after": classify(after).as_dict() if after else None,
        }
        with_openness.append(with_data(event, openness=openness))
    detection.events = with_openness


class _Rules:
    """The rules, sharing the poll's previous states, output and Hub endpoint."""

    def __init__(
        self,
        previous: Mapping[str, Mapping[str, Any]],
        detection: Detection,
        *,
        baselined: bool,
        endpoint: str,
        author: str | None,
    ) -> None:
        self.previous = previous
        self.detection = detection
        self.baselined = baselined
        self.endpoint = endpoint
        self.author = author
        self.readmes: Mapping[str, str] = {}
        self.contents: Mapping[str, RepoContents] = {}
        self.disclosure_rules: tuple[Rule, ...] = ()
        self.clause_rules: tuple[ClauseRule, ...] | None = None
        self.license_pages: Mapping[str, LicensePage] = {}
        self.observed_at: datetime | None = None

    def seen(self, key: str, repo: RepoState) -> None:
        """The repo is publicly visible."""
        before = self.previous.get(key)
        if before is None or before.get("status") == UNSEEN:
            rev = before.get("rev", 0) + 1 if before is not None else 0
            terms = self._check_terms(key, None, repo, rev)  # a first reading: no event
            state = repo.state() | _known(repo) | terms | {"status": AVAILABLE, "rev": rev}
            self._write(key, state)
            if self.baselined:
                self._emit(
                    repo,
                    f"{repo.type}.published",
                    f"New {repo.type}: {repo.id}",
                    rev,
                    after=_public(repo.state()),
                    published_at=repo.created_at,
                )
            return
        self._compare(key, before, repo)

    def gone(self, key: str, repo_type: str, repo_id: str, reason: str) -> None:
        """The repo is confirmed not publicly visible (deleted, private or disabled)."""
        before = self.previous.get(key)
        if before is None:
            # Never seen visible (a single-repo source whose repo is missing, or a typo):
            # remembered as unseen, so that its appearance is reported as a publication
            # and the openness report does not count it as withdrawn.
            state = {"type": repo_type, "id": repo_id, "status": UNSEEN, "reason": reason}
            self._write(key, state | {"rev": 0})
            return
        if before.get("status") in (WITHDRAWN, UNSEEN):
            return
        rev = before.get("rev", 0)
        self._write(key, dict(before) | {"status": WITHDRAWN, "reason": reason, "rev": rev + 1})
        self._event(
            kind="repo.withdrawn",
            repo_type=repo_type,
            repo_id=repo_id,
            title=f"Withdrawn: {repo_id} ({reason.replace('_', ' ')})",
            rev=rev,
            before={"status": AVAILABLE},
            after={"status": WITHDRAWN, "reason": reason},
        )

    def renamed(self, old_key: str, outcome: Renamed) -> None:
        """The old id redirects to a new one: move the state along, report only the rename."""
        new = outcome.new
        before = self.previous.get(old_key)
        self.detection.removals.add(old_key)
        if before is None:
            self.seen(new.key, new)
            return
        if new.key in self.previous:
            self._compare(new.key, self.previous[new.key], new)
            return
        moved_out = self.author is not None and _owner(new.id).lower() != self.author.lower()
        if outcome.old_id.lower() != new.id.lower():
            where = f" (now outside {self.author})" if moved_out else ""
            self._event(
                kind="repo.renamed",
                repo_type=new.type,
                repo_id=new.id,
                title=f"Renamed: {outcome.old_id} → {new.id}{where}",
                rev=before.get("rev", 0),
                before={"id": outcome.old_id},
                after={"id": new.id},
            )
        if not moved_out:
            # A repo transferred to another owner leaves this author's watch; otherwise its
            # history continues under the new id.
            self._compare(new.key, dict(before) | {"id": new.id}, new, moved=True)

    def _compare(
        self, key: str, before: Mapping[str, Any], repo: RepoState, *, moved: bool = False
    ) -> None:
        """Events for what changed since `before`; `moved`: the state has a new key."""
        rev = before.get("rev", 0)
        after: dict[str, Any] = {**repo.state(), "status": AVAILABLE}
        if before.get("status") == WITHDRAWN:
            self._emit(
                repo,
                "repo.restored",
                f"Restored: {repo.id}",
                rev,
                before={"status": WITHDRAWN, "reason": before.get("reason")},
                after={"status": AVAILABLE},
            )
        old_gate, new_gate = before.get("gated", False), repo.gated
        if old_gate != new_gate and "gated" in before:
            self._gate_event(repo, old_gate, new_gate, rev)
        if "license" in before and _license_of(before) != _license_of(after):
            old_license = {f: before.get(f) for f in LICENSE_FIELDS}
            new_license = {f: getattr(repo, f) for f in LICENSE_FIELDS}
            self._emit(
                repo,
                "license.changed",
                f"License changed: {repo.id}",
                rev,
                before=_license_view(old_license, new_license),
                after=_license_view(new_license, old_license),
            )
        old_sha = before.get("sha")
        restored = before.get("status") == WITHDRAWN
        # A restored repo's new head is part of the restoration, not a separate update.
        if old_sha and repo.sha and old_sha != repo.sha and not restored:
            self._emit(
                repo,
                "repo.updated",
                f"Updated: {repo.id}",
                rev,
                before={"sha": old_sha},
                after={"sha": repo.sha},
                data={"last_modified": _iso(repo.last_modified)},
            )
        withheld = self._check_readme(key, before, repo, rev)
        if withheld:
            after["withheld"] = withheld
        after |= self._check_content(key, before, repo, rev)
        after |= self._check_terms(key, before, repo, rev)
        if moved or not _same(before, after):
            self._write(key, after | {"rev": rev + 1})

    def _check_content(
        self, key: str, before: Mapping[str, Any], repo: RepoState, rev: int
    ) -> dict[str, Any]:
        """`content.withdrawn` for files, storage or a card lost since `before`; the
        content keys to store (the stored ones carried over)."""
        contents = self.contents.get(key)
        if contents is None and repo.storage is None and key not in self.readmes:
            # Nothing looked at this poll (most repos): the stored keys stand.
            if _CONTENT_KEYS.isdisjoint(before):
                return {}
            return {k: before[k] for k in CONTENT_KEYS if before.get(k) is not None}
        storage = contents.storage if contents and contents.storage is not None else repo.storage
        found, state = withdrawals(
            repo.type,
            before,
            files=contents.files if contents else None,
            storage=storage,
            files_before=contents.files_before if contents else None,
            readme=self.readmes.get(key),
        )
        for withdrawal in found:
            self._event(
                kind="content.withdrawn",
                repo_type=repo.type,
                repo_id=repo.id,
                title=f"Content withdrawn ({withdrawal.title.lower()}): {repo.id}",
                rev=rev,
                fingerprint=f"{repo.type}@{rev}:{withdrawal.reason}",
                before=withdrawal.before,
                after=withdrawal.after,
                data={"reason": withdrawal.reason, "summary": withdrawal.summary},
            )
        carried = {k: before[k] for k in CONTENT_KEYS if k in before} | state
        return {k: v for k, v in carried.items() if v is not None}

    def _check_terms(
        self, key: str, before: Mapping[str, Any] | None, repo: RepoState, rev: int
    ) -> dict[str, Any]:
        """The terms of its gate and license page to store (`tracker.detect.hubterms`),
        and the events of what changed in them since `before`."""
        if not repo.gated and not repo.gate and not repo.license_link:
            return {}  # no gate and no page named: no terms (most repos)
        found = repo_terms(
            before,
            repo,
            self.license_pages.get(key),
            url=repo_url(self.endpoint, repo.type, repo.id),
            rev=rev,
            rules=self.clause_rules,
            observed_at=self.observed_at,
        )
        self.detection.events.extend(found.events)
        return found.state

    def discussed(self, key: str, discussions: list[Discussion]) -> None:
        """`repo.reported` for each discussion opened by "Report this repository"."""
        repo_type, _, repo_id = key.partition(":")
        state = self.detection.upserts.get(key) or self.previous.get(key)
        if state is None or not repo_id:
            return  # not a repo of this source
        for discussion in discussions:
            reason = report_reason(discussion.title)
            if reason is None or discussion.is_pull_request:
                continue
            self._event(
                kind="repo.reported",
                repo_type=repo_type,
                repo_id=str(state.get("id", repo_id)),
                title=f"Reported ({reason}): {state.get('id', repo_id)}",
                rev=0,
                fingerprint=f"{repo_type}@discussion-{discussion.num}",
                after={"reason": reason},
                data={"reason": reason, "discussion": _discussion(discussion)},
            )

    def _check_readme(
        self, key: str, before: Mapping[str, Any], repo: RepoState, rev: int
    ) -> list[str]:
        """Withheld-details sentences of a new README; an event for the ones not seen before."""
        if key not in self.readmes:
            return list(before.get("withheld") or ())
        known = list(before.get("withheld", []))
        findings = find_withheld(self.readmes[key], self.disclosure_rules)
        fresh = [f for f in findings if f.sentence not in known]
        if fresh:
            cause = EventDraft(
                kind="repo.updated",
                subject=repo.id,
                title=f"Model card of {repo.id}",
                fingerprint=f"{repo.type}@{rev}",
                url=repo_url(self.endpoint, repo.type, repo.id),
            )
            event = withheld_event(
                cause,
                "\n".join(f.sentence for f in fresh),
                self.disclosure_rules,
                repo_type=repo.type,
                readme_sha=repo.sha,
            )
            if event is not None:
                self.detection.events.append(event)
        return [f.sentence for f in findings][:20]

    def _gate_event(self, repo: RepoState, old: Any, new: Any, rev: int) -> None:
        if not old:
            kind, title = "access.gated", f"Gated ({GATE_WORDS.get(new, new)}): {repo.id}"
        elif not new:
            kind, title = "access.ungated", f"Ungated: {repo.id}"
        else:
            kind, title = "access.gate_changed", f"Gate now {GATE_WORDS.get(new, new)}: {repo.id}"
        self._emit(repo, kind, title, rev, before={"gated": old}, after={"gated": new})

    def _emit(self, repo: RepoState, kind: str, title: str, rev: int, **fields: Any) -> None:
        self._event(kind=kind, repo_type=repo.type, repo_id=repo.id, title=title, rev=rev, **fields)

    def _event(
        self, *, kind: str, repo_type: str, repo_id: str, title: str, rev: int, **fields: Any
    ) -> None:
        data = {"repo_type": repo_type} | fields.pop("data", {})
        fingerprint = fields.pop("fingerprint", f"{repo_type}@{rev}")
        self.detection.events.append(
            EventDraft(
                kind=kind,
                subject=repo_id,
                title=title,
                fingerprint=fingerprint,
                url=repo_url(self.endpoint, repo_type, repo_id),
                data=data,
                **fields,
            )
        )

    def _write(self, key: str, state: Mapping[str, Any]) -> None:
        self.detection.upserts[key] = state


def _same(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    """Whether the stored state `before` says what `after` says, its change counter and a
    withdrawal's reason aside."""
    if "rev" in before and "reason" not in before and "rev" not in after:
        return before == {**after, "rev": before["rev"]}  # the usual case, compared in C
    return {k: v for k, v in before.items() if k not in ("rev", "reason")} == after


def _license_of(state: Mapping[str, Any]) -> tuple[Any, ...]:
    # LICENSE_FIELDS spelled out (a test keeps them the same): this runs for every repo.
    return (state.get("license"), state.get("license_name"), state.get("license_link"))


def _known(repo: RepoState) -> dict[str, Any]:
    """What a first sight of a repo records beyond its state: its storage, when known."""
    return {"storage": repo.storage} if repo.storage is not None else {}


def _owner(repo_id: str) -> str:
    return repo_id.split("/", 1)[0]


def _public(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in ("type", "id") and v is not None}


def _license_view(side: Mapping[str, Any], other: Mapping[str, Any]) -> dict[str, Any]:
    """`license` always; `license_name`/`license_link` when either side has them."""
    return {f: side[f] for f in LICENSE_FIELDS if f == "license" or side[f] or other[f]}


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None
