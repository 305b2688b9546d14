"""Withheld-details detection: sentences saying weights or technical details are withheld.

The rules are data (`tracker/rules/withheld.toml`, extended by
`$TRACKER_HOME/rules/withheld.toml`): each has regular expressions that fire on one
sentence, and `unless` expressions that veto it (an open release mentioning "details").
Precision matters more than recall: an alert that cries wolf gets muted.

Each finding also names the disclosure dimensions (the contract's vocabulary) its sentence
withholds: the dimensions the sentence's clause names ("no details about the architecture,
hardware ..."), else the rule's own (an API-only or research-only sentence withholds the
weights).
"""

from __future__ import annotations

import importlib
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Any

from tracker.errors import UserError

# The regular-expression parser and its opcodes, for the literal prefilter (no stubs).
sre_parse: Any = importlib.import_module("re._parser")
sre: Any = importlib.import_module("re._constants")

BUILTIN_RULES = Path(__file__).parent / "rules" / "withheld.toml"
MAX_TEXT = 200_000
MAX_SENTENCE = 400
# How far from its match (in characters) a rule with its own dimensions looks for others.
NEAR = 40
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\"'(\[]?[A-Z0-9])|\n+")
# A contrast splits what a sentence withholds from what it gives ("we release the weights,
# but the training data is not disclosed"): dimensions are read from the matched clause.
_CONTRAST = re.compile(r"\b(?:but|whereas|although|though|while)\b|;", re.IGNORECASE)

# The contract's disclosure dimensions, in the contract's order.
DIMENSIONS = (
    "architecture",
    "model_size",
    "hardware",
    "compute",
    "data",
    "training_method",
    "weights",
    "evaluation",
)


@dataclass(frozen=True)
class Vocabulary:
    """The phrasings that name each disclosure dimension inside a sentence."""

    terms: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...] = ()

    def named(
        self,
        text: str,
        start: int = 0,
        end: int | None = None,
        skip: tuple[tuple[int, int], ...] = (),
    ) -> tuple[str, ...]:
        """The dimensions named in `text` by a phrase starting between `start` and `end`
        (the whole text by default) and outside the `skip` spans, in contract order."""
        end = len(text) if end is None else end

        def counts(at: int) -> bool:
            return start <= at < end and not any(a < at < b for a, b in skip)

        return tuple(
            dim
            for dim, patterns in self.terms
            if any(counts(m.start()) for p in patterns for m in p.finditer(text))
        )


# Per pattern of a rule, the word sets a text must hold a word of each of to match it.
Needs = tuple[tuple[frozenset[str], ...], ...]


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...] = ()
    # What a matching sentence withholds when it names no dimension itself.
    dimensions: tuple[str, ...] = ()
    vocabulary: Vocabulary = field(default_factory=Vocabulary, repr=False, compare=False)
    # Per pattern, word sets a sentence must contain one word of each of for the pattern to
    # match (see required_words): substring tests skip most regex searches.
    needs: Needs = field(default=(), repr=False, compare=False)
    # Every word of `needs`.
    words: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def __post_init__(self) -> None:
        needs, words = prefilter(self.patterns, self.needs)
        object.__setattr__(self, "needs", needs)
        object.__setattr__(self, "words", words)

    def fires(self, sentence: str) -> bool:
        return self.search(sentence) is not None

    def search(self, sentence: str, present: frozenset[str] | None = None) -> re.Match[str] | None:
        """The first pattern's match in the sentence, unless an `unless` pattern vetoes it.

        `present`: which of the prefilter words the sentence contains, when the caller knows
        (at least every word of this rule's `words` that occurs)."""
        if present is None:
            present = words_in(sentence, self.words)
        for pattern, needs in zip(self.patterns, self.needs, strict=True):
            if not may_match(needs, present):
                continue  # a word the pattern needs is missing: it cannot match
            found = pattern.search(sentence)
            if found is None:
                continue
            if any(u.search(sentence) for u in self.unless):
                return None
            return found
        return None

    def withheld_dimensions(self, sentence: str, found: re.Match[str]) -> tuple[str, ...]:
        """What the sentence withholds, given where the rule matched it.

        A rule with its own dimensions (access, licence, release) reads only the words near
        its match: "access to the model, trained on 2,000 GPUs, is limited to partners"
        withholds the weights, not the hardware."""
        start, end = clause_at(sentence, found.start())
        if self.dimensions:
            near = (max(start, found.start() - NEAR), min(end, found.end() + NEAR))
            # an aside between commas ("the model, trained on 2,000 GPUs, is ...") describes,
            # it does not name what is restricted
            commas = [m.start() for m in re.finditer(r",\s", sentence)]
            asides = tuple(pairwise(commas))
            return self.vocabulary.named(sentence, *near, skip=asides) or self.dimensions
        return self.vocabulary.named(sentence, start, end) or self.vocabulary.named(sentence)


@dataclass(frozen=True)
class Finding:
    """A sentence, the rule it matched, and the dimensions it withholds."""

    sentence: str
    rule: str
    dimensions: tuple[str, ...] = ()


def load_rules(*paths: Path) -> tuple[Rule, ...]:
    """Rules of the given TOML files, in order; a later rule with the same id replaces one.

    `[[dimension]]` tables add phrasings to a dimension's vocabulary; every rule shares the
    vocabulary of all the files.
    """
    raws: dict[str, tuple[dict[str, Any], str]] = {}
    terms: dict[str, list[re.Pattern[str]]] = {dim: [] for dim in DIMENSIONS}
    for path in paths:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"cannot read disclosure rules {path}: {exc}") from None
        for n, raw in enumerate(document.get("dimension", []), 1):
            dim, patterns = _dimension(raw, f"{path}: dimension {n}")
            terms[dim].extend(patterns)
        for n, raw in enumerate(document.get("rule", []), 1):
            where = f"{path}: rule {n}"
            if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                raise UserError(f"{where}: a rule needs an id")
            raws[raw["id"]] = (raw, where)
    vocabulary = Vocabulary(tuple((dim, tuple(terms[dim])) for dim in DIMENSIONS if terms[dim]))
    return tuple(_rule(raw, where, vocabulary) for raw, where in raws.values())


@cache
def rules_for(home: Path | None) -> tuple[Rule, ...]:
    """The built-in rules, extended by the user's file under TRACKER_HOME."""
    extra = [home / "rules" / "withheld.toml"] if home is not None else []
    return load_rules(BUILTIN_RULES, *extra)


def _patterns(raw: dict[str, Any], key: str, where: str) -> tuple[re.Pattern[str], ...]:
    items = raw.get(key, [])
    if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
        raise UserError(f"{where}: {key} must be a list of strings")
    try:
        return tuple(re.compile(p, re.IGNORECASE) for p in items)
    except re.error as exc:
        raise UserError(f"{where}: invalid pattern: {exc}") from None


def _dimension_ids(raw: object, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(d, str) for d in raw):
        raise UserError(f"{where}: dimensions must be a list of strings")
    unknown = [d for d in raw if d not in DIMENSIONS]
    if unknown:
        raise UserError(
            f"{where}: unknown dimension {unknown[0]!r}: use one of {', '.join(DIMENSIONS)}"
        )
    return tuple(d for d in DIMENSIONS if d in raw)


def _dimension(raw: object, where: str) -> tuple[str, tuple[re.Pattern[str], ...]]:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise UserError(f"{where}: a dimension needs an id")
    (dim,) = _dimension_ids([raw["id"]], where)
    patterns = _patterns(raw, "terms", f"{where} ({dim})")
    if not patterns:
        raise UserError(f"{where} ({dim}): no terms")
    return dim, patterns


def _rule(raw: dict[str, Any], where: str, vocabulary: Vocabulary) -> Rule:
    where = f"{where} ({raw['id']})"
    patterns = _patterns(raw, "patterns", where)
    if not patterns:
        raise UserError(f"{where}: no patterns")
    return Rule(
        raw["id"],
        str(raw.get("description", "")),
        patterns,
        _patterns(raw, "unless", where),
        _dimension_ids(raw.get("dimensions", []), where),
        vocabulary,
    )


def sentences(text: str) -> list[str]:
    """Split prose into sentences (and lines), whitespace collapsed."""
    parts = _SENTENCE_END.split(text[:MAX_TEXT])
    return [" ".join(part.split()) for part in parts if part and part.strip()]


def clause_at(sentence: str, position: int) -> tuple[int, int]:
    """Where the part of the sentence between the contrasts around `position` starts and
    ends."""
    start, end = 0, len(sentence)
    for found in _CONTRAST.finditer(sentence):
        if found.start() <= position:
            start = found.start()
        else:
            end = found.start()
            break
    return start, end


def find_withheld(text: str, rules: tuple[Rule, ...]) -> list[Finding]:
    """Every sentence of `text` that a rule fires on (first rule wins per sentence)."""
    findings = []
    vocabulary = frozenset().union(*(rule.words for rule in rules))
    for sentence in sentences(text):
        present = words_in(sentence, vocabulary)
        for rule in rules:
            found = rule.search(sentence, present)
            if found:
                findings.append(
                    Finding(
                        excerpt(sentence, found.start(), found.end()),
                        rule.id,
                        rule.withheld_dimensions(sentence, found),
                    )
                )
                break
    return findings


def withheld_dimensions(findings: list[Finding]) -> list[str]:
    """The union of the findings' dimensions, in contract order."""
    named = {dim for finding in findings for dim in finding.dimensions}
    return [dim for dim in DIMENSIONS if dim in named]


# Characters that IGNORECASE matches to an ASCII letter but str.lower() does not turn into it.
_FOLD = str.maketrans({"\u0131": "i", "\u017f": "s", "\u212a": "k"})


def words_in(sentence: str, words: frozenset[str]) -> frozenset[str]:
    """Which of the (lower-case) words occur in the sentence, ignoring case."""
    lowered = sentence.lower().translate(_FOLD)
    return frozenset([word for word in words if word in lowered])


def prefilter(patterns: tuple[re.Pattern[str], ...], needs: Needs) -> tuple[Needs, frozenset[str]]:
    """Each pattern's required word sets (read from the pattern unless given, one entry per
    pattern) and every word of them: the prefilter a rule runs before its searches."""
    if len(needs) != len(patterns):
        needs = tuple(required_words(p) for p in patterns)
    return needs, frozenset().union(*(w for sets in needs for w in sets))


def may_match(needs: tuple[frozenset[str], ...], present: frozenset[str]) -> bool:
    """Whether a text holding just these of the prefilter words has a word of each set a
    pattern needs (False: the pattern cannot match it)."""
    return all(not words.isdisjoint(present) for words in needs)


def required_words(pattern: re.Pattern[str]) -> tuple[frozenset[str], ...]:
    """Sets of lower-case ASCII strings such that any text the pattern matches contains one
    string of each set (an empty tuple when none is known).

    Read from the pattern's parse tree: the required elements of its top-level sequence (a
    run of literal characters, an alternation whose every branch has one, a group, a
    repetition of at least once) give one set each; the two with the longest strings are
    kept, since each costs a test per sentence.
    """
    try:
        found = _element_sets(list(sre_parse.parse(pattern.pattern, pattern.flags)))
    except Exception:  # an unfamiliar parse tree: search without a prefilter
        return ()
    found.sort(key=lambda words: -min(map(len, words)))
    return tuple(frozenset(words) for words in found[:2])


def _element_sets(items: list[tuple[Any, Any]]) -> list[set[str]]:
    """One word set per required element of a sequence (short or non-ASCII ones dropped)."""
    sets: list[set[str]] = []

    def add(words: set[str] | None) -> None:
        if words and all(w.isascii() and len(w) >= 3 for w in words):
            sets.append({w.lower() for w in words})

    run = ""
    for op, av in items:
        if op is sre.LITERAL:
            run += chr(av)
            continue
        add({run} if run else None)
        run = ""
        if op is sre.BRANCH:
            branches = [_best(list(alternative)) for alternative in av[1]]
            if all(b is not None for b in branches):
                add(set().union(*(b for b in branches if b is not None)))
        elif op is sre.SUBPATTERN:
            sets.extend(_element_sets(list(av[-1])))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[0] >= 1:
            sets.extend(_element_sets(list(av[2])))
    add({run} if run else None)
    return sets


def _best(items: list[tuple[Any, Any]]) -> set[str] | None:
    """The required element's set with the longest strings, or None."""
    sets = _element_sets(items)
    return max(sets, key=lambda words: min(map(len, words))) if sets else None


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
