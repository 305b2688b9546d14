"""The clause recogniser: license, usage-policy and gate texts -> the contract's clause ids.

A text is split into sentences (Markdown, numbered sections, hard-wrapped plain text and
inline HTML each become clean sentences), and every sentence is checked against rules kept
as data (`tracker/rules/clauses.toml`, extended by `$TRACKER_HOME/rules/clauses.toml`). A
clause is present when one of its rules fires on one sentence; that sentence is its
evidence. Precision matters more than recall: an alert that names a clause the text does
not carry gets muted, so the rules ask for the plain statement and veto the look-alikes of
open licenses (Apache's NOTICE file, MIT's notice condition, BSD's no-endorsement clause).

Everything here is pure: text in, findings out.
"""

from __future__ import annotations

import html
import itertools
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from tracker.disclosure import Needs, excerpt, may_match, prefilter, words_in
from tracker.errors import UserError

# The contract's vocabulary (../shared/CONTRACT.md, "Closing-up intelligence"), in its order.
CLAUSES = (
    "non_commercial",
    "research_only",
    "user_cap",
    "attribution",
    "naming_requirement",
    "aup_incorporated",
    "geo_exclusion",
    "output_restriction",
    "unilateral_changes",
    "approval_required",
    "no_redistribution",
    "termination",
)

# Each clause in words, for alerts ("now requires a separate license above 700 million
# monthly active users"); {placeholders} are filled from the evidence when it names them.
CLAUSE_WORDS: dict[str, str] = {
    "non_commercial": "forbids commercial use",
    "research_only": "allows research or evaluation use only",
    "user_cap": "requires a separate license above {threshold}",
    "attribution": "requires products to display {mark}",
    "naming_requirement": "requires derivative models to carry {name} in their names",
    "aup_incorporated": "binds users to an acceptable-use policy",
    "geo_exclusion": "excludes users in {region}",
    "output_restriction": "forbids using outputs to train or improve other models",
    "unilateral_changes": "lets the licensor change the terms or the policy at any time",
    "approval_required": "grants access only once the licensor approves",
    "no_redistribution": "forbids redistributing the weights or data",
    "termination": "lets the licensor end the license on breach or at will",
}
_WORD_DEFAULTS = {
    "threshold": "a user or revenue threshold",
    "mark": "a name or mark",
    "name": "the original's name",
    "region": "some regions",
}

BUILTIN_RULES = Path(__file__).resolve().parent.parent / "rules" / "clauses.toml"
MAX_TEXT = 200_000
MAX_EVIDENCE = 300
# Sentences are matched in windows of this size: a text without full stops (a hostile one,
# or a list flattened to one line) cannot make one pattern scan 200,000 characters.
MATCH_WINDOW = 2_000
MATCH_OVERLAP = 400


@dataclass(frozen=True)
class Rule:
    id: str
    clause: str
    patterns: tuple[re.Pattern[str], ...]
    unless: tuple[re.Pattern[str], ...] = ()
    unless_text: tuple[re.Pattern[str], ...] = ()
    # Per pattern, word sets a sentence must contain one word of each of for the pattern to
    # match (the withheld-details rules' prefilter): substring tests skip most searches.
    needs: Needs = field(default=(), repr=False, compare=False)
    # Every word of `needs`.
    words: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def __post_init__(self) -> None:
        needs, words = prefilter(self.patterns, self.needs)
        object.__setattr__(self, "needs", needs)
        object.__setattr__(self, "words", words)

    def possible(self, present: frozenset[str]) -> bool:
        """Whether a pattern can match a text containing just these of the prefilter words."""
        return any(may_match(needs, present) for needs in self.needs)

    def search(self, sentence: str, present: frozenset[str] | None = None) -> re.Match[str] | None:
        """The first pattern's match in the sentence, unless an `unless` pattern vetoes it.

        `present`: which of the prefilter words the sentence contains, when the caller knows
        (at least every word of this rule's `words` that occurs)."""
        if present is None:
            present = words_in(sentence, self.words)
        if not self.possible(present):
            return None
        if any(u.search(sentence) for u in self.unless):
            return None
        for pattern, needs in zip(self.patterns, self.needs, strict=True):
            if not may_match(needs, present):
                continue  # a word the pattern needs is missing: it cannot match
            found = pattern.search(sentence)
            if found:
                return found
        return None


@dataclass(frozen=True)
class Sentence:
    """One sentence: `text` for people, `match` (quotes and dashes in ASCII) for the rules,
    and where it sits in the input (`start`, `end`, character offsets)."""

    text: str
    match: str
    start: int
    end: int


@dataclass(frozen=True)
class ClauseFinding:
    """A clause the text carries, the sentence that shows it and the rule that fired."""

    clause: str
    evidence: str
    rule: str
    # Where the evidence sentence sits in the text read (not part of a finding's identity:
    # a finding rebuilt from its stored form has no text to point into).
    span: tuple[int, int] = field(default=(0, 0), compare=False)

    @property
    def words(self) -> str:
        return describe(self.clause, self.evidence)

    def as_dict(self) -> dict[str, object]:
        return {"clause": self.clause, "evidence": self.evidence, "rule": self.rule}


# ------------------------------------------------------------------------------- rules


def load_rules(*paths: Path) -> tuple[Rule, ...]:
    """Rules of the given TOML files, in order; a later rule with the same id replaces one."""
    rules: dict[str, Rule] = {}
    for path in paths:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserError(f"cannot read clause rules {path}: {exc}") from None
        for n, raw in enumerate(document.get("rule", []), 1):
            rule = _rule(raw, f"{path}: rule {n}")
            rules[rule.id] = rule
    return tuple(rules.values())


@cache
def rules_for(home: Path | None = None) -> tuple[Rule, ...]:
    """The built-in rules, extended by the user's file under TRACKER_HOME."""
    extra = [home / "rules" / "clauses.toml"] if home is not None else []
    return load_rules(BUILTIN_RULES, *extra)


def _rule(raw: object, where: str) -> Rule:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise UserError(f"{where}: a rule needs an id")
    clause = raw.get("clause")
    if clause not in CLAUSES:
        raise UserError(f"{where} ({raw['id']}): unknown clause {clause!r}")

    def compiled(key: str) -> tuple[re.Pattern[str], ...]:
        values = raw.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise UserError(f"{where} ({raw['id']}): {key} must be a list of strings")
        try:
            return tuple(re.compile(p, re.IGNORECASE) for p in values)
        except re.error as exc:
            raise UserError(f"{where} ({raw['id']}): invalid pattern in {key}: {exc}") from None

    patterns = compiled("patterns")
    if not patterns:
        raise UserError(f"{where} ({raw['id']}): no patterns")
    return Rule(raw["id"], clause, patterns, compiled("unless"), compiled("unless_text"))


# --------------------------------------------------------------------------- sentences

_BLOCK_TAGS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table",
        "blockquote", "section", "article", "hr", "pre", "dd", "dt", "dl", "td", "th", "header",
        "footer",
    }
)  # fmt: skip
# A tag name must be followed by a space, "/" or ">": `<https://...>` autolinks stay text.
_TAG = re.compile(
    r"<!--(?:[^-]|-(?!->)){0,5000}-->|</?([A-Za-z][A-Za-z0-9]{0,15})(?=[\s/>])[^<>]{0,2000}>"
)
_MARKER = re.compile(
    r"""[ \t]*(?:[*_]{1,3}(?=\S))?          # bold around a section number: **1.1.**
    (?:[-*+•▪◦‣][ \t]+                        # bullets
      |\(?(?:\d{1,3}(?:\.\d{1,3}){0,3}|[A-Za-z]|[ivxlcIVXLC]{1,6})\\?[.)](?:[*_]{1,3})?[ \t]+
      |\((?:\d{1,3}|[A-Za-z]|[ivxlcIVXLC]{1,6})\)[ \t]+
      |\#{1,6}[ \t]+|>[ \t]*)""",
    re.VERBOSE,
)
_HEADING = re.compile(r"[ \t]*#{1,6}[ \t]")
_RULE_LINE = re.compile(r"[ \t]*(?:-{3,}|\*{3,}|_{3,}|={3,})[ \t]*$")
_TABLE_ROW = re.compile(r"[ \t]*\|")
# A sentence ends at . ! or ? (after closing quotes, brackets or emphasis) before a capital.
_BOUNDARY = re.compile(r"[.!?][\"'\u201d\u2019)\]*_]*\s+(?=[\"'\u201c\u2018(\[*_]*[A-Z0-9\u00a7])")
_TOKEN_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]{0,12})$")
_ABBREVIATIONS = frozenset(
    {
        "e.g", "i.e", "etc", "inc", "ltd", "co", "corp", "no", "nos", "sec", "secs", "art", "para",
        "paras", "vs", "v", "mr", "mrs", "ms", "dr", "st", "u.s", "u.k", "e.u", "jr", "sr",
        "approx", "incl", "fig", "cf", "al", "l.l.c", "llc", "s.a", "n.v", "b.v", "pty", "p.l.c",
        "plc",
    }
)  # fmt: skip

_LINK = re.compile(r"!?\[([^\]]{0,500})\]\([^()\s]{0,2000}(?:\s+\"[^\"]{0,200}\")?\)")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])")
_EMPHASIS = re.compile(r"\*\*|__|~~|(?<![\w*])[*_](?=\S)|(?<=\S)[*_](?![\w*])")
_HYPHEN_WRAP = re.compile(r"(?<=[A-Za-z])-[ \t]*\r?\n[ \t]*(?=[a-z])")
_SPACES = re.compile(r"\s+")
# Typographic quotes and dashes (as code points: they look like ASCII in an editor).
_ASCII = str.maketrans(
    dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb", '"')
    | dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'")
    | dict.fromkeys("\u2013\u2014\u2011\u2010\u2212", "-")
)


def sentences(text: str) -> list[Sentence]:
    """The sentences of a license, policy or gate text, in order."""
    text = text[:MAX_TEXT]
    masked = _mask_tags(text)
    found: list[Sentence] = []
    for start, end in _blocks(masked):
        found.extend(_split_block(text, masked, start, end))
    return found


def _mask_tags(text: str) -> str:
    """The text with every HTML tag blanked out (same length, so offsets hold); block-level
    tags become paragraph breaks."""

    def blank(match: re.Match[str]) -> str:
        size = match.end() - match.start()
        name = (match.group(1) or "").lower()
        if name in _BLOCK_TAGS and size >= 2:
            return "\n\n" + " " * (size - 2)
        return " " * size

    return _TAG.sub(blank, text.replace("\r", " "))


def _blocks(masked: str) -> list[tuple[int, int]]:
    """Paragraphs, list items, headings and table rows as (start, end) offsets."""
    blocks: list[tuple[int, int, bool]] = []  # (start, end, may continue across a blank line)
    start: int | None = None
    end = 0
    position = 0
    for line in masked.splitlines(keepends=True):
        line_start, position = position, position + len(line)
        body = line.rstrip("\n")
        if not body.strip() or _RULE_LINE.match(body):
            if start is not None:
                blocks.append((start, end, True))
            start = None
            continue
        standalone = bool(_HEADING.match(body) or _TABLE_ROW.match(body))
        if start is not None and (standalone or _MARKER.match(body)):
            blocks.append((start, end, True))
            start = None
        if start is None:
            start = line_start + len(body) - len(body.lstrip())
        end = line_start + len(body.rstrip())
        if standalone:
            blocks.append((start, end, False))
            start = None
    if start is not None:
        blocks.append((start, end, True))
    return _rejoin(masked, blocks)


def _rejoin(masked: str, blocks: list[tuple[int, int, bool]]) -> list[tuple[int, int]]:
    """Join a paragraph cut in the middle of a sentence by a blank line (text extracted from
    PDFs, or pasted): it ends without punctuation and the next one starts in lower case."""
    joined: list[tuple[int, int]] = []
    open_end = False
    for start, end, prose in blocks:
        first = masked[start]
        if joined and open_end and prose and first.islower() and not _MARKER.match(masked, start):
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
        open_end = prose and (masked[end - 1].isalnum() or masked[end - 1] in ",-")
    return joined


def _split_block(text: str, masked: str, start: int, end: int) -> list[Sentence]:
    block = masked[start:end]
    marker_end = 0
    for _ in range(3):  # "## 3. Limits": markers can nest
        marker = _MARKER.match(block, marker_end)
        if not marker or marker.end() == marker_end:
            break
        marker_end = marker.end()
    cuts = [0]
    for boundary in _BOUNDARY.finditer(block):
        point = boundary.start()
        if point < marker_end + 1:
            continue  # the "1." or "a." that opens the block
        # Only the word before the stop: searching from the block's start would make a long
        # block quadratic.
        token = _TOKEN_BEFORE.search(block, max(0, point - 14), point)
        word = token.group(1).lower() if token else ""
        if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            continue
        cuts.append(boundary.end())
    cuts.append(len(block))
    found = []
    for a, b in itertools.pairwise(cuts):
        shown = _clean(text[start + a : start + b])
        if shown and any(ch.isalnum() for ch in shown):
            found.append(Sentence(shown, shown.translate(_ASCII), start + a, start + b))
    return found


def _tag_text(match: re.Match[str]) -> str:
    # An inline tag sits next to its words ("<b>reviewed</b>."): dropping it keeps the
    # punctuation in place; a block tag inside one sentence still separates words.
    return " " if (match.group(1) or "").lower() in _BLOCK_TAGS else ""


def _clean(raw: str) -> str:
    """One sentence as people read it: no tags, links, emphasis or list markers."""
    # Each substitution runs only where its character occurs (most sentences are plain).
    value = _TAG.sub(_tag_text, raw) if "<" in raw else raw
    value = html.unescape(value)
    if "[" in value:
        value = _LINK.sub(r"\1", value)
    if "\\" in value:
        value = _ESCAPE.sub(r"\1", value)
    if "-" in value and "\n" in value:
        value = _HYPHEN_WRAP.sub("-", value)
    if "*" in value or "_" in value or "~" in value:
        value = _EMPHASIS.sub("", value)
    value = " ".join(value.split())  # \xa0 and every other space, as `\s+` reads them
    for _ in range(3):  # "* 1. " or "## 2." : markers can nest
        marker = _MARKER.match(value)
        if not marker or marker.end() >= len(value):
            break
        value = value[marker.end() :].lstrip()
    return value


# ----------------------------------------------------------------------------- matching


def find_clauses(
    text: str, rules: tuple[Rule, ...] | None = None, parts: list[Sentence] | None = None
) -> list[ClauseFinding]:
    """The clauses `text` carries, in the vocabulary's order, each with its first evidence
    (`parts`: its sentences, when the caller has split it already)."""
    rules = rules_for(None) if rules is None else rules
    parts = sentences(text) if parts is None else parts
    whole = "\n".join(s.match for s in parts)
    # A word absent from the whole text is absent from each of its sentences: rules that
    # cannot match anywhere are dropped before any sentence is read.
    vocabulary = frozenset().union(*(r.words for r in rules))
    in_text = words_in(whole, vocabulary)
    active = [
        r for r in rules if r.possible(in_text) and not any(p.search(whole) for p in r.unless_text)
    ]
    vocabulary = frozenset().union(*(r.words for r in active)) & in_text
    found: dict[str, ClauseFinding] = {}
    for sentence in parts:
        present = words_in(sentence.match, vocabulary)
        for rule in active:
            if rule.clause in found:
                continue
            match = _search_windows(rule, sentence.match, present)
            if match is not None:
                a, b = match
                found[rule.clause] = ClauseFinding(
                    rule.clause,
                    excerpt(sentence.text, a, b, limit=MAX_EVIDENCE),
                    rule.id,
                    (sentence.start, sentence.end),
                )
    return [found[c] for c in CLAUSES if c in found]


def clause_ids(text: str, rules: tuple[Rule, ...] | None = None) -> list[str]:
    return [f.clause for f in find_clauses(text, rules)]


def _search_windows(rule: Rule, sentence: str, present: frozenset[str]) -> tuple[int, int] | None:
    """The rule's match in the sentence; `present` holds the prefilter words it contains
    (a window of it contains no other)."""
    if len(sentence) <= MATCH_WINDOW:
        found = rule.search(sentence, present)
        return (found.start(), found.end()) if found else None
    if not rule.possible(present):
        return None
    step = MATCH_WINDOW - MATCH_OVERLAP
    for offset in range(0, len(sentence), step):
        found = rule.search(sentence[offset : offset + MATCH_WINDOW])
        if found:
            return offset + found.start(), offset + found.end()
    return None


# -------------------------------------------------------------------------------- words

_QUOTED = re.compile(r"[\"“”]([^\"“”]{1,60})[\"“”]")
_USERS = re.compile(
    r"\b(\d(?:[\d.,]*\d)?\s*(?:million|billion|thousand)?\s*(?:monthly\s+active\s+users|daily\s+active"
    r"\s+users|active\s+users|MAUs?|users|customers))",
    re.IGNORECASE,
)
_MONEY = re.compile(
    r"((?:US\s?)?(?:USD\s?|US\$|\$|€|£|EUR\s?)\s?\d(?:[\d.,]*\d)?(?:\s*(?:million|billion)|[MBK]\b)?)",
    re.IGNORECASE,
)
_REGIONS = (
    (re.compile(r"\b(?i:european\s+union)\b|\bEU\b"), "the European Union"),
    (re.compile(r"\bEEA\b|\beuropean\s+economic\s+area\b", re.IGNORECASE), "the EEA"),
    (re.compile(r"\bunited\s+kingdom\b|\bUK\b", re.IGNORECASE), "the United Kingdom"),
    (re.compile(r"\bsouth\s+korea\b", re.IGNORECASE), "South Korea"),
    (re.compile(r"\b(?:mainland\s+)?china\b", re.IGNORECASE), "China"),
    (re.compile(r"\brussia\b", re.IGNORECASE), "Russia"),
    (re.compile(r"\bswitzerland\b", re.IGNORECASE), "Switzerland"),
)


def describe(clause: str, evidence: str | None = None) -> str:
    """The clause in words, with the figure, mark or region its evidence names."""
    template = CLAUSE_WORDS.get(clause, clause.replace("_", " "))
    values = dict(_WORD_DEFAULTS)
    if evidence:
        values.update(_details(clause, evidence))
    return template.format(**values)


def _details(clause: str, evidence: str) -> dict[str, str]:
    if clause == "user_cap":
        users = _USERS.search(evidence)
        if users:
            return {"threshold": " ".join(users.group(1).split())}
        money = _MONEY.search(evidence)
        if money:
            per = "annual " if re.search(r"\bannual|\byearly|\bper\s+year", evidence, re.I) else ""
            return {"threshold": f"{' '.join(money.group(1).split())} in {per}revenue"}
    elif clause in ("attribution", "naming_requirement"):
        quoted = _quoted_mark(evidence, clause)
        if quoted:
            return {"mark" if clause == "attribution" else "name": f"“{quoted}”"}
    elif clause == "geo_exclusion":
        regions = [name for pattern, name in _REGIONS if pattern.search(evidence)]
        if regions:
            return {"region": _join(list(dict.fromkeys(regions)))}
    return {}


_MARK_WORDS = re.compile(
    r"\b(?:built|powered|made|created|developed|enhanced)\s+(?:with|by|using|on)\b", re.I
)
_AFTER_VERB = {
    "attribution": re.compile(
        r"\b(?:display|show|include|state|mark|label|feature)\w*\W+(?:\w+\W+){0,3}?"
        r"[\"“]([^\"“”]{1,60})[\"”]",
        re.IGNORECASE,
    ),
    "naming_requirement": re.compile(
        r"\b(?:include|begin|start|prefix|contain|carry|bear)\w*\W+(?:\w+\W+){0,4}?"
        r"[\"“]([^\"“”]{1,40})[\"”]",
        re.IGNORECASE,
    ),
}


def _quoted_mark(evidence: str, clause: str) -> str | None:
    """The quoted mark or name the evidence asks for: a "Built with ..." phrase, else the
    quotation that follows the verb ("display "Kimi K2""), not a "Notice" file's name."""
    quoted = [m.group(1).strip() for m in _QUOTED.finditer(evidence)]
    if clause == "attribution":
        for text in quoted:
            if _MARK_WORDS.search(text):
                return text
    after_verb = _AFTER_VERB[clause].search(evidence)
    return after_verb.group(1).strip() if after_verb else None


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ------------------------------------------------------------------- known open licenses

# Signatures of the permissive licenses' own texts, matched near the start of a document
# (a license "based on Apache 2.0" quotes the name further down, not as its title).
_OPEN_SIGNATURES = (
    # (license, how far into the text its title may start, the title or opening words)
    ("apache-2.0", 20, "apache license version 2.0"),
    ("mit", 400, "permission is hereby granted, free of charge, to any person"),
    (
        "isc",
        400,
        "permission to use, copy, modify, and/or distribute this software for any purpose",
    ),
    ("cc-by-sa-4.0", 400, "creative commons attribution-sharealike 4.0 international"),
    ("cc-by-4.0", 400, "creative commons attribution 4.0 international"),
    ("cc0-1.0", 400, "cc0 1.0 universal"),
    ("gpl-3.0", 200, "gnu general public license version 3"),
    ("gpl-2.0", 200, "gnu general public license version 2"),
    ("lgpl-3.0", 200, "gnu lesser general public license version 3"),
    ("agpl-3.0", 200, "gnu affero general public license version 3"),
    ("mpl-2.0", 200, "mozilla public license version 2.0"),
    ("unlicense", 200, "this is free and unencumbered software released into the public domain"),
    ("openmdw-1.1", 200, "openmdw license agreement, version 1.1"),
    ("openmdw-1.0", 200, "openmdw license agreement"),
)
_BSD = re.compile(
    r"^.{0,400}?\bredistribution\s+and\s+use\s+in\s+source\s+and\s+binary\s+forms\b", re.I
)
_BSD_NAME = re.compile(r"\bneither\s+the\s+name\b", re.IGNORECASE)


def _opening(reach: int, words: str) -> re.Pattern[str]:
    body = r"\W*".join(re.escape(w) for w in re.split(r"\W+", words) if w)
    return re.compile(rf"^.{{0,{reach}}}?\b{body}\b", re.IGNORECASE)


_OPEN_TEXTS = tuple((name, _opening(reach, words)) for name, reach, words in _OPEN_SIGNATURES)
_NOT_OPEN = re.compile(r"\bnon-?commercial\b|\bno-?derivatives\b|\bnoderivs\b", re.IGNORECASE)


def known_open_license(text: str) -> str | None:
    """The permissive license whose own text this is (`mit`, `apache-2.0`, ...), if any.

    Only the title region is read: a restrictive license that quotes Apache-2.0 as its base
    further down is not Apache-2.0."""
    head = " ".join(s.match for s in sentences(text[:4000]))
    title = head[:400]
    if _NOT_OPEN.search(title):
        return None
    for name, pattern in _OPEN_TEXTS:
        if pattern.search(head):
            return name
    if _BSD.search(head):
        return "bsd-3-clause" if _BSD_NAME.search(head) else "bsd-2-clause"
    return None
