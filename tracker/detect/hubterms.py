"""A Hub repo's terms: its gate (the `extra_gated_*` fields of the card the listing already
returns) and the page its card's `license_link` names, read for clauses.

Pure: the stored state of a repo, what the poll saw of it (its `RepoState`, the license
page read, if one was) -> the terms to store and the events:

- `access.terms_changed` when a gated repo's gate changed: its prompt (heading, prompt,
  description, button), the fields asked, the EU exclusion;
- `license.terms_changed` when the gate's prompt gained or lost clauses
  (`data.terms_of` "gate_prompt"), or the license page did (`data.terms_of`
  "license_link", `data.url` the page).

A first reading (a repo first seen, a gate or page never read before, a state stored
before terms were read) is recorded without an event; so is a gate whose repo is not gated
on both sides (`access.gated` and `access.ungated` speak for those). The openness classes
read what both texts say (`tracker.openness.TERMS_KEY`).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from tracker.detect.clauses import MAX_TEXT
from tracker.detect.clauses import Rule as ClauseRule
from tracker.detect.terms import (
    GateTerms,
    Terms,
    gate_terms,
    gate_terms_change,
    license_terms_change,
    terms_of,
)
from tracker.events import EventDraft
from tracker.observations import LicensePage, RepoState
from tracker.openness import GATE_PART, LICENSE_PART, TERMS_KEY, merged_terms

GATE_KEY = "gate_terms"
PAGE_KEY = "license_page"
TERMS_KEYS = (GATE_KEY, PAGE_KEY, TERMS_KEY)
# The prompt's parts are kept for people (the report shows the heading); what is compared
# is the digest of its sentences and the sentences themselves, kept in the terms.
STORED_PROMPT_CHARS = 300
# Readings kept for reuse, by what was read: a lab gives many repos one gate prompt or one
# license page (a Llama gate takes tens of milliseconds to read).
READINGS_KEPT = 128
# Digests of gate fields kept for reuse (`_card_digest`).
DIGESTS_KEPT = 256
T = TypeVar("T")


@dataclass
class RepoTerms:
    """The terms to store for one repo (keys of TERMS_KEYS; absent ones are dropped) and
    the events their change yields."""

    state: dict[str, Any] = field(default_factory=dict)
    events: list[EventDraft] = field(default_factory=list)


def repo_terms(
    before: Mapping[str, Any] | None,
    repo: RepoState,
    page: LicensePage | None,
    *,
    url: str,
    rev: int,
    rules: tuple[ClauseRule, ...] | None = None,
    observed_at: datetime | None = None,
) -> RepoTerms:
    """The terms of `repo` now (what `before` stored, updated by what the poll saw), and
    their events. `url` is the repo's page; `rev` the stored state's change counter."""
    if not repo.gated and not gate_fields(repo.gate) and not _names_page(repo):
        return RepoTerms()  # no gate and no page named: no terms (most repos)
    before = before or {}
    found = RepoTerms()
    gate, gate_events = _gate(before, repo, url=url, rev=rev, rules=rules, at=observed_at)
    license_page, page_events = _page(before, repo, page, url=url, rev=rev, rules=rules)
    found.events = gate_events + page_events
    if gate is not None:
        found.state[GATE_KEY] = gate
    if license_page is not None:
        found.state[PAGE_KEY] = license_page
    parts: dict[str, dict[str, Any]] = {}
    if license_page is not None and isinstance(license_page.get("terms"), Mapping):
        parts[LICENSE_PART] = _summary(license_page["terms"])
    if gate is not None and _has_prompt(gate):
        parts[GATE_PART] = _summary(gate["terms"])
    merged = merged_terms(parts, gated=bool(repo.gated))
    if merged is not None:
        found.state[TERMS_KEY] = merged
    return found


# ------------------------------------------------------------------------------- the gate


def gate_fields(card: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `extra_gated_*` fields of a card (what the gate is made of)."""
    if not isinstance(card, Mapping):
        return {}
    return {str(k): v for k, v in card.items() if str(k).startswith("extra_gated_")}


def _gate(
    before: Mapping[str, Any],
    repo: RepoState,
    *,
    url: str,
    rev: int,
    rules: tuple[ClauseRule, ...] | None,
    at: datetime | None,
) -> tuple[dict[str, Any] | None, list[EventDraft]]:
    raw = gate_fields(repo.gate)
    if not raw and not repo.gated:
        return None, []
    digest = _card_digest(raw)
    stored = before.get(GATE_KEY)
    stored = stored if isinstance(stored, Mapping) else None
    if stored is not None and stored.get("card_digest") == digest:
        return dict(stored), []  # the card says what it said: nothing to read again
    new = _reading(("gate", digest, rules), lambda: gate_terms(raw, rules))
    state = _stored_gate(new) | {
        "card_digest": digest,
        "recorded_at": (stored or {}).get("recorded_at") or _iso(at),
    }
    # Gating and ungating are events of their own; terms compare only while gated.
    if stored is None or not before.get("gated") or not repo.gated:
        return state, []
    old = GateTerms.from_state(stored)
    common = {"repo_type": repo.type}
    events: list[EventDraft] = []
    access = gate_terms_change(
        old,
        new,
        subject=repo.id,
        url=url,
        name=repo.id,
        fingerprint=f"{repo.type}@{rev}:gate",
        data=common | {"terms_of": GATE_PART, "evidence": _evidence(old.terms, new.terms)},
    )
    if access is not None:
        events.append(access)
    prompt = license_terms_change(
        old.terms,
        new.terms,
        subject=repo.id,
        url=url,
        name=f"{repo.id} (gate prompt)",
        fingerprint=f"{repo.type}@{rev}:gate",
        data=common | {"terms_of": GATE_PART},
    )
    if prompt is not None:
        events.append(prompt)
    return state, events


def _stored_gate(gate: GateTerms) -> dict[str, Any]:
    state = gate.as_state()
    state["prompt"] = {k: _short(v) for k, v in gate.prompt.items()}
    return state


def _has_prompt(gate: Mapping[str, Any]) -> bool:
    terms = gate.get("terms")
    return isinstance(terms, Mapping) and bool(terms.get("sentences"))


def _card_digest(raw: Mapping[str, Any]) -> str:
    """The digest of a card's gate fields. A lab gives many repos one gate: the digest of
    the same fields is kept (serialising a 12 KB prompt costs more than the rest of a
    repo's detection)."""
    key = _fields_key(raw)
    with _readings_lock:
        found = _digests.get(key)
        if found is not None:
            _digests.move_to_end(key)
            return found
    found = _digest_of(raw)
    with _readings_lock:
        _digests[key] = found
        while len(_digests) > DIGESTS_KEPT:
            _digests.popitem(last=False)
    return found


def _digest_of(raw: Mapping[str, Any]) -> str:
    body = json.dumps(raw, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def _fields_key(raw: Mapping[str, Any]) -> tuple[tuple[str, str, str], ...]:
    """A key equal for two cards' gate fields only when they serialise alike: each field's
    name, type and value, a string as it is and anything else as `repr` writes it (which
    tells `1`, `1.0`, `True` and `"1"` apart at any depth). The same fields in another
    order only miss the kept digest. Cheaper than walking the fields: `repr` of the
    fields asked is one C call."""
    return tuple(
        (str(k), type(v).__name__, v if type(v) is str else repr(v)) for k, v in raw.items()
    )


# ------------------------------------------------------------------------ the license page


def _page(
    before: Mapping[str, Any],
    repo: RepoState,
    page: LicensePage | None,
    *,
    url: str,
    rev: int,
    rules: tuple[ClauseRule, ...] | None,
) -> tuple[dict[str, Any] | None, list[EventDraft]]:
    stored = before.get(PAGE_KEY)
    stored = dict(stored) if isinstance(stored, Mapping) else None
    link = repo.license_link if isinstance(repo.license_link, str) else None
    if not link or not link.strip():
        return None, []  # no page named: `license.changed` says the link went
    if page is None or page.link != link:
        return stored, []  # not read this poll: what was read stands until it is
    common: dict[str, Any] = {
        "link": link,
        "url": page.url,
        "sha": page.sha,
        "checked_at": page.checked_at.isoformat(),
    }
    same_url = stored is not None and stored.get("url") == page.url
    if page.error is not None or (page.not_modified and not _has_terms(stored)):
        kept = {k: v for k, v in (stored or {}).items() if k in ("terms", "sha256", "form")}
        kept |= {"recorded_at": stored["recorded_at"]} if stored and "recorded_at" in stored else {}
        if same_url and stored is not None:
            kept |= {k: stored[k] for k in ("etag", "last_modified") if k in stored}
        error = page.error or "the server said the page had not changed, but it was never read"
        return kept | common | {"error": error, "permanent": page.permanent}, []
    assert stored is not None or page.text is not None
    if page.not_modified:
        assert stored is not None
        kept = {k: v for k, v in stored.items() if k not in ("error", "permanent")}
        return kept | common | _validators(page), []
    assert page.text is not None
    digest = page.text.digest
    if stored is not None and stored.get("sha256") == digest and _has_terms(stored):
        terms_state = stored["terms"]
        after = Terms.from_state(terms_state)
    else:
        text = "\n\n".join(page.text.lines)[:MAX_TEXT]
        after = _reading(("page", digest, rules), lambda: terms_of(text, rules))
        terms_state = after.as_state()
    state = common | _validators(page)
    state |= {"form": page.text.form, "sha256": digest, "terms": terms_state}
    state["recorded_at"] = (stored or {}).get("recorded_at") or common["checked_at"]
    old = Terms.from_state(stored["terms"]) if stored is not None and _has_terms(stored) else None
    event = license_terms_change(
        old,
        after,
        subject=repo.id,
        url=url,
        name=f"{repo.id} (license: {_short(link, 120)})",
        fingerprint=f"{repo.type}@{rev}:license",
        data={
            "repo_type": repo.type,
            "terms_of": LICENSE_PART,
            "url": page.url,
            "link": link,
        },
    )
    if event is not None and (after.open_license or (old and old.open_license)):
        # Which open license's own text the page was, so the openness report can put the
        # class back as well as the clauses.
        event = replace(
            event,
            before={**(event.before or {}), "open_license": old.open_license if old else None},
            after={**(event.after or {}), "open_license": after.open_license},
        )
    return state, [event] if event is not None else []


def _names_page(repo: RepoState) -> bool:
    link = repo.license_link
    return isinstance(link, str) and bool(link.strip())


def _has_terms(stored: Mapping[str, Any] | None) -> bool:
    return stored is not None and isinstance(stored.get("terms"), Mapping)


def _validators(page: LicensePage) -> dict[str, Any]:
    return {
        k: v
        for k, v in (
            ("etag", page.validators.etag),
            ("last_modified", page.validators.last_modified),
        )
        if v
    }


# --------------------------------------------------------------------------------- shared

_readings: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_readings_lock = threading.Lock()
_digests: OrderedDict[Any, str] = OrderedDict()


def _reading(key: tuple[Any, ...], read: Callable[[], T]) -> T:
    """`read()`, or what it gave for the same key lately (the same text and rules read the
    same: this only saves the time)."""
    with _readings_lock:
        if key in _readings:
            _readings.move_to_end(key)
            return _readings[key]
    found = read()
    with _readings_lock:
        _readings[key] = found
        while len(_readings) > READINGS_KEPT:
            _readings.popitem(last=False)
    return found


def _summary(terms: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "clauses": [str(c) for c in terms.get("clauses") or []],
        "open_license": terms.get("open_license") or None,
    }


def _evidence(before: Terms, after: Terms) -> dict[str, dict[str, str | None]]:
    added = [c for c in after.ids if c not in before.ids]
    removed = [c for c in before.ids if c not in after.ids]
    return {
        "added": {c: after.evidence(c) for c in added},
        "removed": {c: before.evidence(c) for c in removed},
    }


def _short(text: str, limit: int = STORED_PROMPT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
