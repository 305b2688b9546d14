"""Withheld-details detection: sentences saying weights or technical details are withheld.

The rules are data (`tracker/rules/withheld.toml`, extended by
`$TRACKER_HOME/rules/withheld.toml`): each has regular expressions that fire on one
sentence, and `unless` expressions that veto it (an open release mentioning "details").
Precision matters more than recall: an alert that cries wolf gets muted.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tracker.errors import UserError

BUILTIN_RULES = Path(__file__).parent / "rules" / "withheld.toml"
MAX_TEXT = 200_000
MAX_SENTENCE = 400
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\"'(\[]?[A-Z0-9])|\n+")


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...] = ()

    def fires(self, sentence: str) -> bool:
        return self.search(sentence) is not None

    def search(self, sentence: str) -> re.Match[str] | None:
        """The first pattern's match in the sentence, unless an `unless` pattern vetoes it."""
        if any(u.search(sentence) for u in self.unless):
            return None
        for pattern in self.patterns:
            found = pattern.search(sentence)
            if found:
                return found
        return None


@dataclass(frozen=True)
class Finding:
    """A sentence and the rule it matched."""

    sentence: str
    rule: str


def load_rules(*paths: Path) -> tuple[Rule, ...]:
    """Rules of the given TOML files, in order; a later rule with the same id replaces one."""
    rules: dict[str, Rule] = {}
    for path in paths:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"cannot read disclosure rules {path}: {exc}") from None
        for n, raw in enumerate(document.get("rule", []), 1):
            rule = _rule(raw, f"{path}: rule {n}")
            rules[rule.id] = rule
    return tuple(rules.values())


@cache
def rules_for(home: Path | None) -> tuple[Rule, ...]:
    """The built-in rules, extended by the user's file under TRACKER_HOME."""
    extra = [home / "rules" / "withheld.toml"] if home is not None else []
    return load_rules(BUILTIN_RULES, *extra)


def _rule(raw: object, where: str) -> Rule:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise UserError(f"{where}: a rule needs an id")
    try:
        patterns = tuple(re.compile(p, re.IGNORECASE) for p in raw.get("patterns", []))
        unless = tuple(re.compile(p, re.IGNORECASE) for p in raw.get("unless", []))
    except re.error as exc:
        raise UserError(f"{where} ({raw['id']}): invalid pattern: {exc}") from None
    if not patterns:
        raise UserError(f"{where} ({raw['id']}): no patterns")
    return Rule(raw["id"], str(raw.get("description", "")), patterns, unless)


def sentences(text: str) -> list[str]:
    """Split prose into sentences (and lines), whitespace collapsed."""
    parts = _SENTENCE_END.split(text[:MAX_TEXT])
    return [" ".join(part.split()) for part in parts if part and part.strip()]


def find_withheld(text: str, rules: tuple[Rule, ...]) -> list[Finding]:
    """Every sentence of `text` that a rule fires on (first rule wins per sentence)."""
    findings = []
    for sentence in sentences(text):
        for rule in rules:
            found = rule.search(sentence)
            if found:
                findings.append(Finding(excerpt(sentence, found.start(), found.end()), rule.id))
                break
    return findings


def excerpt(sentence: str, start: int, end: int, *, limit: int = MAX_SENTENCE) -> str:
    """The sentence, or, for a very long one (a list without full stops), the part around
    the match."""
    if len(sentence) <= limit:
        return sentence
    room = max(0, limit - (end - start)) // 2
    begin = max(0, min(start - room, len(sentence) - limit))
    head = "…" if begin else ""
    tail = "…" if begin + limit < len(sentence) else ""
    return head + sentence[begin : begin + limit].strip() + tail
