"""Terms intelligence: what a license, policy or gate asks, and the events when that changes.

Pure functions over plain data. `terms_of` reads a text once (its clauses and its sentences
normalised for comparison); `license_terms_change` compares two readings and yields
`license.terms_changed` only when clauses were gained or lost, so whitespace, dates,
reordered sentences or a new footer yield nothing. `gate_terms` reads a Hub repo's gate
from the `cardData` the listing already returns (`extra_gated_prompt`, `_heading`,
`_description`, `_button_content`, `_fields`, `_eu_disallowed`), and `gate_terms_change`
yields `access.terms_changed` when the prompt, the fields asked or the EU exclusion changed.

The stored form of both readings is `as_state()` (JSON-ready); `from_state` rebuilds it, so
the next poll compares without the old text.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracker.detect.clauses import (
    CLAUSES,
    ClauseFinding,
    Rule,
    describe,
    find_clauses,
    known_open_license,
    sentences,
)
from tracker.events import EventDraft

DIFF_LINES = 40
DIFF_WIDTH = 300
MAX_SENTENCES = 2_000
MAX_FIELDS = 100
MAX_PART = 100_000

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
# Dates are not terms: "Last modified: March 24, 2025" changing is a cosmetic edit.
_DATES = re.compile(
    rf"\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH},?\s+\d{{4}}\b"
    rf"|\b{_MONTH},?\s+\d{{4}}\b"
    r"|\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b",
    re.IGNORECASE,
)
_NOT_WORDS = re.compile(r"[^\w<>]+")


def comparison_key(sentence: str) -> str:
    """What a sentence says, for comparing versions: dates masked, case, spacing and
    punctuation ignored."""
    masked = _DATES.sub("<date>", sentence)
    return _NOT_WORDS.sub(" ", masked.casefold()).strip()


def _digest(keys: Iterable[str]) -> str:
    # Order-free: a reordered text says the same thing.
    body = "\n".join(sorted({k for k in keys if k}))
    return hashlib.sha256(body.encode()).hexdigest()


EMPTY_DIGEST = _digest(())


# ---------------------------------------------------------------------------------- terms


@dataclass(frozen=True)
class Terms:
    """One reading of a license, policy or gate text."""

    clauses: tuple[ClauseFinding, ...] = ()
    sentences: tuple[str, ...] = ()
    open_license: str | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(f.clause for f in self.clauses)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(comparison_key(s) for s in self.sentences)

    @property
    def digest(self) -> str:
        return _digest(self.keys)

    def evidence(self, clause: str) -> str | None:
        return next((f.evidence for f in self.clauses if f.clause == clause), None)

    def summary(self) -> dict[str, Any]:
        """What the openness classes read: the clause ids and a recognised open text."""
        return {"clauses": list(self.ids), "open_license": self.open_license}

    def as_state(self) -> dict[str, Any]:
        return {
            "clauses": list(self.ids),
            "evidence": {f.clause: f.evidence for f in self.clauses},
            "rules": {f.clause: f.rule for f in self.clauses},
            "open_license": self.open_license,
            "sentences": list(self.sentences),
            "digest": self.digest,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> Terms:
        state = state or {}
        evidence = state.get("evidence") or {}
        rules = state.get("rules") or {}
        clauses = tuple(
            ClauseFinding(c, str(evidence.get(c, "")), str(rules.get(c, "")), (0, 0))
            for c in state.get("clauses") or []
            if c in CLAUSES
        )
        return cls(
            clauses,
            tuple(str(s) for s in state.get("sentences") or []),
            state.get("open_license"),
        )


def terms_of(text: str, rules: tuple[Rule, ...] | None = None) -> Terms:
    """Read a license, policy or gate text: its clauses, its sentences, and whether it is a
    known open license's own text."""
    parts = sentences(text)
    return Terms(
        tuple(find_clauses(text, rules, parts)),
        tuple(s.text for s in parts[:MAX_SENTENCES]),
        known_open_license(text),
    )


def terms_diff(before: Terms, after: Terms, *, lines: int = DIFF_LINES) -> str:
    """A short unified diff of the sentences that changed (dates, spacing and moves are not
    changes), bounded to `lines` lines."""
    old, new = list(before.keys), list(after.keys)
    moved = set(old) & set(new)
    out = ["--- before", "+++ after"]
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        removed = [before.sentences[i] for i in range(i1, i2) if old[i] not in moved]
        added = [after.sentences[j] for j in range(j1, j2) if new[j] not in moved]
        if not removed and not added:
            continue
        out.append(f"@@ -{i1 + 1},{len(removed)} +{j1 + 1},{len(added)} @@")
        out.extend("-" + _trim(s) for s in removed)
        out.extend("+" + _trim(s) for s in added)
    if len(out) == 2:
        return ""
    if len(out) > lines:
        return "\n".join([*out[: lines - 1], "…"])
    return "\n".join(out)


def _trim(sentence: str) -> str:
    return sentence if len(sentence) <= DIFF_WIDTH else sentence[: DIFF_WIDTH - 1] + "…"


def _ordered(clauses: Iterable[str]) -> list[str]:
    wanted = set(clauses)
    return [c for c in CLAUSES if c in wanted]


def clause_changes(before: Terms, after: Terms) -> tuple[list[str], list[str]]:
    """(clauses added, clauses removed), in the vocabulary's order."""
    old, new = set(before.ids), set(after.ids)
    return _ordered(new - old), _ordered(old - new)


def clause_phrases(before: Terms, after: Terms) -> list[str]:
    """The clause changes in words: "now requires ...", "no longer forbids ..."."""
    added, removed = clause_changes(before, after)
    return [f"now {describe(c, after.evidence(c))}" for c in added] + [
        f"no longer {describe(c, before.evidence(c))}" for c in removed
    ]


def _title(verb: str, label: str, phrases: Sequence[str]) -> str:
    if not phrases:
        return f"{verb}: {label}"
    more = f" (+{len(phrases) - 1} more)" if len(phrases) > 1 else ""
    return f"{verb}: {label}: {phrases[0]}{more}"[:300]


def _summary(phrases: Sequence[str]) -> str:
    if not phrases:
        return ""
    text = "; ".join(phrases)
    return text[0].upper() + text[1:] + "."


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def license_terms_change(
    before: Terms | None,
    after: Terms,
    *,
    subject: str,
    url: str | None = None,
    name: str | None = None,
    fingerprint: str | None = None,
    published_at: datetime | None = None,
    data: Mapping[str, Any] | None = None,
) -> EventDraft | None:
    """`license.terms_changed` when `after` gained or lost clauses against `before`.

    Nothing for a first reading (`before` is None) or when the clause set is the same,
    whatever else moved in the text. A warning when a clause was added, a notice when
    clauses were only removed. `data` adds keys (say `repo_type`, `source_url`) to the
    event's data."""
    if before is None:
        return None
    added, removed = clause_changes(before, after)
    if not added and not removed:
        return None
    phrases = clause_phrases(before, after)
    verb = "License terms stricter" if added else "License terms looser"
    return EventDraft(
        kind="license.terms_changed",
        subject=subject,
        title=_title(verb, name or subject, phrases),
        fingerprint=fingerprint or _fingerprint(list(before.ids), list(after.ids), after.digest),
        url=url,
        published_at=published_at,
        before={"clauses": list(before.ids)},
        after={"clauses": list(after.ids)},
        data={
            "clauses_added": added,
            "clauses_removed": removed,
            "diff": terms_diff(before, after),
            "summary": _summary(phrases),
            "changes": phrases,
            "evidence": {
                "added": {c: after.evidence(c) for c in added},
                "removed": {c: before.evidence(c) for c in removed},
            },
            **(data or {}),
        },
        severity_override="warning" if added else "notice",
    )


# ----------------------------------------------------------------------------------- gate

GATE_PROMPT_KEYS = (
    "extra_gated_heading",
    "extra_gated_prompt",
    "extra_gated_description",
    "extra_gated_button_content",
)
# How a field type reads in an alert ("now asks for “Date of birth” (a date)").
FIELD_WORDS = {
    "text": "text",
    "checkbox": "a checkbox",
    "date_picker": "a date",
    "country": "a country",
    "select": "a choice",
    "ip_location": "the location of the requester's IP address",
}


@dataclass(frozen=True)
class GateField:
    """One field of the access-request form: its label, type and (for `select`) options."""

    name: str
    type: str
    options: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return " ".join(self.name.split()).casefold()

    def as_dict(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.options:
            shown["options"] = list(self.options)
        return shown


@dataclass(frozen=True)
class GateTerms:
    """A gate's terms: the prompt parts, the fields asked, the EU exclusion, and the
    clauses of the prompt and of the checkbox statements the requester agrees to."""

    prompt: dict[str, str] = field(default_factory=dict)
    fields: tuple[GateField, ...] = ()
    eu_disallowed: bool = False
    terms: Terms = field(default_factory=Terms)
    prompt_digest: str = EMPTY_DIGEST

    def field_views(self) -> list[dict[str, Any]]:
        return [f.as_dict() for f in self.fields]

    def as_state(self) -> dict[str, Any]:
        return {
            "prompt": dict(self.prompt),
            "prompt_digest": self.prompt_digest,
            "fields": self.field_views(),
            "eu_disallowed": self.eu_disallowed,
            "terms": self.terms.as_state(),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any] | None) -> GateTerms:
        state = state or {}
        return cls(
            {str(k): str(v) for k, v in (state.get("prompt") or {}).items()},
            tuple(
                GateField(
                    str(f.get("name", "")),
                    str(f.get("type", "text")),
                    tuple(str(o) for o in f.get("options") or ()),
                )
                for f in state.get("fields") or []
                if isinstance(f, Mapping)
            ),
            bool(state.get("eu_disallowed")),
            Terms.from_state(state.get("terms")),
            str(state.get("prompt_digest") or EMPTY_DIGEST),
        )


def gate_terms(
    card_data: Mapping[str, Any] | None, rules: tuple[Rule, ...] | None = None
) -> GateTerms:
    """The gate terms a repo's `cardData` carries (all of it is author-written: untrusted)."""
    card = card_data if isinstance(card_data, Mapping) else {}
    prompt = {
        key.removeprefix("extra_gated_"): _text(card[key])
        for key in GATE_PROMPT_KEYS
        if _text(card.get(key))
    }
    fields = _fields(card.get("extra_gated_fields"))
    # The statements a requester ticks ("I agree to use this model for non-commercial use
    # ONLY") are terms as much as the prompt is.
    agreed = [f.name for f in fields if f.type == "checkbox"]
    prompt_text = "\n\n".join(prompt.values())
    terms = terms_of("\n\n".join([prompt_text, *agreed]), rules)
    return GateTerms(
        prompt,
        fields,
        _flag(card.get("extra_gated_eu_disallowed")),
        terms,
        _digest(comparison_key(s.text) for s in sentences(prompt_text)),
    )


def _text(value: Any) -> str:
    return value[:MAX_PART] if isinstance(value, str) and value.strip() else ""


def _flag(value: Any) -> bool:
    # YAML front matter gives a bool; a string "true" is what a careless card writes.
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return value is True


def _fields(raw: Any) -> tuple[GateField, ...]:
    """`extra_gated_fields`: a mapping of label to a type name (`text`, `checkbox`,
    `date_picker`, `country`, `ip_location`) or to `{type: select, options: [...]}`, where
    an option is a string or `{label, value}`."""
    if not isinstance(raw, Mapping):
        return ()
    found = []
    for name, spec in list(raw.items())[:MAX_FIELDS]:
        label = " ".join(str(name).split())[:300]
        if not label:
            continue
        options: tuple[str, ...] = ()
        if isinstance(spec, str):
            kind = spec.strip() or "text"
        elif isinstance(spec, Mapping):
            kind = str(spec.get("type") or "text")
            options = _options(spec.get("options"))
        else:
            kind = "text"
        found.append(GateField(label, kind[:40], options))
    return tuple(found)


def _options(raw: Any) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    shown = []
    for option in raw[:MAX_FIELDS]:
        if isinstance(option, Mapping):
            option = option.get("label", option.get("value", ""))
        text = " ".join(str(option).split())[:200]
        if text:
            shown.append(text)
    return tuple(shown)


def _field_phrase(gate_field: GateField) -> str:
    if gate_field.type == "ip_location":
        return "now records the location of the requester's IP address"
    words = FIELD_WORDS.get(gate_field.type, gate_field.type)
    return f"now asks for “{gate_field.name}” ({words})"


def gate_terms_change(
    before: GateTerms | None,
    after: GateTerms,
    *,
    subject: str,
    url: str | None = None,
    name: str | None = None,
    fingerprint: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> EventDraft | None:
    """`access.terms_changed` when the gate's prompt, fields or EU exclusion changed.

    A warning when the terms got stricter (a clause or a field added, EU users newly
    refused), a notice otherwise; nothing for a first reading or a cosmetic prompt edit."""
    if before is None:
        return None
    old_fields = {f.key: f for f in before.fields}
    new_fields = {f.key: f for f in after.fields}
    fields_added = [f for k, f in new_fields.items() if k not in old_fields]
    fields_removed = [f for k, f in old_fields.items() if k not in new_fields]
    fields_changed = [
        {"name": f.name, "before": old_fields[k].as_dict(), "after": f.as_dict()}
        for k, f in new_fields.items()
        if k in old_fields and (old_fields[k].type, old_fields[k].options) != (f.type, f.options)
    ]
    prompt_changed = before.prompt_digest != after.prompt_digest
    eu_changed = before.eu_disallowed != after.eu_disallowed
    added, removed = clause_changes(before.terms, after.terms)
    # A clause can only come or go with the prompt or a checkbox: the text is what changed.
    if not (prompt_changed or fields_added or fields_removed or fields_changed or eu_changed):
        return None
    stricter = bool(added or fields_added or (eu_changed and after.eu_disallowed))

    phrases = clause_phrases(before.terms, after.terms)
    phrases += [_field_phrase(f) for f in fields_added]
    phrases += [f"no longer asks for “{f.name}”" for f in fields_removed]
    phrases += [f"changed the field “{c['name']}”" for c in fields_changed]
    if eu_changed:
        phrases.append(
            "now refuses requesters in the European Union"
            if after.eu_disallowed
            else "no longer refuses requesters in the European Union"
        )
    if prompt_changed and not (added or removed):
        phrases.append("the prompt text changed")

    def side(gate: GateTerms) -> dict[str, Any]:
        return {
            "clauses": list(gate.terms.ids),
            "fields": gate.field_views(),
            "eu_disallowed": gate.eu_disallowed,
        }

    return EventDraft(
        kind="access.terms_changed",
        subject=subject,
        title=_title(
            "Gate terms stricter" if stricter else "Gate terms changed", name or subject, phrases
        ),
        fingerprint=fingerprint
        or _fingerprint(side(before), before.prompt_digest, side(after), after.prompt_digest),
        url=url,
        before=side(before),
        after=side(after),
        data={
            "clauses_added": added,
            "clauses_removed": removed,
            "diff": terms_diff(before.terms, after.terms) if prompt_changed else "",
            "prompt_changed": prompt_changed,
            "fields_added": [f.as_dict() for f in fields_added],
            "fields_removed": [f.as_dict() for f in fields_removed],
            "fields_changed": fields_changed,
            "eu_disallowed": {"before": before.eu_disallowed, "after": after.eu_disallowed},
            "summary": _summary(phrases),
            "changes": phrases,
            **(data or {}),
        },
        severity_override="warning" if stricter else "notice",
    )
