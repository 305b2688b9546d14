"""How open a Hub repo is: the class of its license, and who can get at it.

License classes, most open first: `open` (OSI-approved and open-data licenses), `restricted`
(open weights with use restrictions: Llama, Gemma, Grok, the RAIL family, no-derivatives),
`non-commercial` (research or non-commercial use only), `unknown` (no license, `other`
without a recognisable name or text, proprietary terms). The Hub's license id gives the class;
when the license text was read (tracker.detect.terms), its clauses class an `other` license
and move a known one to a stricter class when the text is stricter than its id.

Access, most open first: `public`, `gated-auto` (granted on sharing contact details),
`gated-manual` (the author approves each request), `withdrawn` (deleted, private or
disabled).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

LICENSE_CLASSES = ("open", "restricted", "non-commercial", "unknown")
ACCESS_LEVELS = ("public", "gated-auto", "gated-manual", "withdrawn")

# Hub license ids (https://huggingface.co/docs/hub/repositories-licenses).
OPEN = frozenset(
    {
        "apache-2.0",
        "mit",
        "afl-3.0",
        "artistic-2.0",
        "bsl-1.0",
        "bsd",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "cc0-1.0",
        "cc-by-2.0",
        "cc-by-2.5",
        "cc-by-3.0",
        "cc-by-4.0",
        "cc-by-sa-3.0",
        "cc-by-sa-4.0",
        "cdla-sharing-1.0",
        "cdla-permissive-1.0",
        "cdla-permissive-2.0",
        "wtfpl",
        "ecl-2.0",
        "epl-1.0",
        "epl-2.0",
        "etalab-2.0",
        "eupl-1.1",
        "eupl-1.2",
        "agpl-3.0",
        "gfdl",
        "gpl",
        "gpl-2.0",
        "gpl-3.0",
        "lgpl",
        "lgpl-2.1",
        "lgpl-3.0",
        "lgpl-lr",
        "isc",
        "lppl-1.3c",
        "ms-pl",
        "mpl-2.0",
        "odc-by",
        "odbl",
        "openmdw-1.0",
        "openmdw-1.1",
        "osl-3.0",
        "postgresql",
        "ofl-1.1",
        "ncsa",
        "unlicense",
        "zlib",
        "pddl",
    }
)
RESTRICTED = frozenset(
    {
        "openrail",
        "openrail++",
        "bigscience-openrail-m",
        "creativeml-openrail-m",
        "bigscience-bloom-rail-1.0",
        "bigcode-openrail-m",
        "llama2",
        "llama3",
        "llama3.1",
        "llama3.2",
        "llama3.3",
        "llama4",
        "gemma",
        "deepfloyd-if-license",
        "c-uda",
        "cc-by-nd-4.0",
        "apple-ascl",
        "grok2-community",
        # The Creative Commons family without its variant: it cannot count as open (ND and
        # NC members exist) and naming it non-commercial would claim more than it says. Its
        # text, when read, decides (see `license_class`).
        "cc",
    }
)
NON_COMMERCIAL = frozenset(
    {
        "cc-by-nc-2.0",
        "cc-by-nc-3.0",
        "cc-by-nc-4.0",
        "cc-by-nc-nd-3.0",
        "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0",
        "cc-by-nc-sa-3.0",
        "cc-by-nc-sa-4.0",
        "fair-noncommercial-research-license",
        "h-research",
        "intel-research",
        "apple-amlr",
    }
)
# For `license: other`, the card's `license_name` is all there is to go on (unless the
# license text was read: see `license_class`).
_NON_COMMERCIAL_NAME = (
    r"non[- ]?commercial|\bnc\b|research[- ]only|research[- ]license|\bresearch\b"
    r"|non[- ]production|\bmnpl\b|\bmrl\b|exaone"
)
_RESTRICTED_NAME = (
    r"llama|gemma|rail|qwen|tongyi|deepseek|falcon|yi-license|license-agreement|hunyuan"
    r"|grok|community|open[- ]model[- ]license|kimi|minimax|glm"
)
_NAMED = [
    (re.compile(_NON_COMMERCIAL_NAME, re.IGNORECASE), "non-commercial"),
    (re.compile(_RESTRICTED_NAME, re.IGNORECASE), "restricted"),
    (re.compile(r"^(apache|mit|bsd|cc-by|cc0)", re.IGNORECASE), "open"),
]


@dataclass(frozen=True)
class Openness:
    license: str
    access: str

    def as_dict(self) -> dict[str, str]:
        return {"license": self.license, "access": self.access}


# Clauses that make a license non-commercial; any other clause of the vocabulary makes it
# restricted (tracker.detect.clauses.CLAUSES).
NON_COMMERCIAL_CLAUSES = frozenset({"non_commercial", "research_only"})
# Where a repo's stored state keeps the reading of its license text: `Terms.summary()` of
# tracker.detect.terms, {"clauses": [...], "open_license": "mit" | None}; `merged_terms`
# builds it from the texts read (`parts`, kept beside it so a part can be put back).
TERMS_KEY = "license_terms"
# The texts a Hub repo's terms are read from: the page its card's `license_link` names,
# and its gate's prompt (with the statements a requester ticks).
LICENSE_PART, GATE_PART = "license_link", "gate_prompt"
# Clauses of a gate that speak of access, not of use: access has its own axis (a manual
# gate is `gated-manual`), so they do not move the license class.
ACCESS_CLAUSES = frozenset({"approval_required"})


def merged_terms(
    parts: Mapping[str, Mapping[str, Any]], *, gated: bool = True
) -> dict[str, Any] | None:
    """What the openness classes read of a repo's texts: the clauses of all of them (a repo
    is as restricted as the strictest text it binds users to; its gate's only while it is
    `gated`, since the Hub shows no prompt otherwise), and the open license whose own text
    the license page is; None when no text was read. Every part is kept, counted or not,
    so the openness report can put a gate back."""
    if not parts:
        return None
    clauses: list[str] = []
    for name, part in parts.items():
        if name == GATE_PART and not gated:
            continue
        for clause in part.get("clauses") or []:
            if clause not in clauses and not (name == GATE_PART and clause in ACCESS_CLAUSES):
                clauses.append(str(clause))
    page = parts.get(LICENSE_PART) or {}
    return {
        "clauses": clauses,
        "open_license": page.get("open_license") or None,
        "parts": {name: dict(part) for name, part in parts.items()},
    }


def license_class(
    license_id: str | None,
    license_name: str | None = None,
    *,
    clauses: Iterable[str] | None = None,
    open_license: str | None = None,
) -> str:
    """The class of a Hub license id (and of `license_name` when the id is `other`).

    With the clauses recognised in the license text, the text speaks too: it classes a
    license the id leaves `unknown` (`other`, a missing id), and it moves a known id to a
    stricter class when the text is stricter than the id says (a repo tagged `mit` whose
    license now forbids commercial use is non-commercial). A text never makes a license
    more open than its id."""
    ids = [part.strip().lower() for part in (license_id or "").split(",") if part.strip()]
    # A repo under several licenses is as open as the most restrictive of them.
    by_id = (
        max((_one_class(i, license_name) for i in ids), key=LICENSE_CLASSES.index)
        if ids
        else "unknown"
    )
    if clauses is None:
        return by_id
    by_text = class_from_clauses(clauses, open_license)
    if by_text is None:
        return by_id
    if by_id == "unknown":
        return by_text
    return max(by_id, by_text, key=LICENSE_CLASSES.index)


def class_from_clauses(clauses: Iterable[str], open_license: str | None = None) -> str | None:
    """The class a license text's clauses give: non-commercial for `non_commercial` or
    `research_only`, restricted for any other clause, open for a known open license's own
    text without clauses; None when the text says nothing either way (a license without
    recognised clauses that is not a known open text, such as OpenRAIL's use restrictions)."""
    found = set(clauses)
    if found & NON_COMMERCIAL_CLAUSES:
        return "non-commercial"
    if found:
        return "restricted"
    return "open" if open_license else None


def _one_class(license_id: str, license_name: str | None) -> str:
    if license_id in OPEN:
        return "open"
    if license_id in RESTRICTED or license_id.startswith("llama"):
        return "restricted"
    if license_id in NON_COMMERCIAL or license_id.startswith("cc-by-nc"):
        return "non-commercial"
    if license_id == "other" and license_name:
        for pattern, verdict in _NAMED:
            if pattern.search(license_name):
                return verdict
    return "unknown"


def access_of(state: Mapping[str, Any]) -> str:
    if state.get("status") == "withdrawn":
        return "withdrawn"
    gated = state.get("gated")
    if gated == "manual":
        return "gated-manual"
    if gated:
        return "gated-auto"
    return "public"


def classify(state: Mapping[str, Any]) -> Openness:
    """The openness of a stored (or observed) repo state; `state[TERMS_KEY]`, when present,
    is the reading of its license text."""
    terms = state.get(TERMS_KEY)
    clauses = open_license = None
    if isinstance(terms, Mapping) and isinstance(terms.get("clauses"), list):
        clauses = [str(c) for c in terms["clauses"]]
        open_license = terms.get("open_license") or None
    return Openness(
        license_class(
            state.get("license"),
            state.get("license_name"),
            clauses=clauses,
            open_license=open_license,
        ),
        access_of(state),
    )


def direction(before: Openness, after: Openness) -> str:
    """`closing`, `opening` or `same`: did the repo get harder or easier to use?"""
    delta = (
        LICENSE_CLASSES.index(after.license)
        - LICENSE_CLASSES.index(before.license)
        + ACCESS_LEVELS.index(after.access)
        - ACCESS_LEVELS.index(before.access)
    )
    return "closing" if delta > 0 else "opening" if delta < 0 else "same"
