"""A disclosure scorecard per release, and `disclosure.regressed` between two of them.

A release is a new model on the Hub (its card metadata, config, safetensors parameter
count, file names and README) or a release post or technical report (its text). Each of
the contract's dimensions is `disclosed`, `withheld` or `unknown`, with the evidence: the
field that discloses it, or the sentence that discloses or withholds it. The score is the
number of dimensions disclosed. Pure: nothing here touches the network or the database.

What counts, per dimension (a field wins over sentences; a withholding sentence wins over
a disclosing one, since "we describe the data, but the mix is not disclosed" withholds):

- architecture: config `architectures` or `model_type`; a sentence or section on it.
- model_size: the safetensors parameter total; a sentence with a parameter count.
- hardware: `co2_eq_emissions.hardware_used`; a sentence naming accelerators.
- compute: `co2_eq_emissions.emissions` (an energy figure from the compute used); GPU
  hours or FLOPs in a sentence.
- data: card `datasets`; a training-data sentence or section.
- training_method: a training tag (sft, dpo, ...); a method sentence or training section.
- weights: weight files among the repo's files, not gated for manual approval and not
  under a non-commercial licence (withheld when one of those fails); a release sentence.
- evaluation: `model-index` or eval results; a benchmark sentence or evaluation section.

A withheld-details finding (tracker.disclosure) that names a dimension makes it withheld.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracker.disclosure import DIMENSIONS, Rule, find_withheld, rules_for, sentences
from tracker.events import EventDraft

DISCLOSED, WITHHELD, UNKNOWN = "disclosed", "withheld", "unknown"
MAX_TEXT = 200_000
MAX_EVIDENCE = 300

WEIGHT_FILE = re.compile(
    r"\.(?:safetensors|bin|pt|pth|ckpt|gguf|onnx|h5|msgpack|tflite|mlmodel|nemo)$|"
    r"(?:^|/)(?:pytorch_model|model|tf_model|flax_model)[\w.-]*\.(?:bin|h5|msgpack)$",
    re.IGNORECASE,
)
TRAINING_TAGS = frozenset(
    {"sft", "dpo", "rlhf", "ppo", "orpo", "kto", "grpo", "trl", "distillation"}
)
# The Hub's card template leaves this where the author wrote nothing.
PLACEHOLDER = re.compile(r"\[more information needed\]|<!--.*?-->", re.IGNORECASE | re.DOTALL)
FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*(?:\n|\Z)", re.DOTALL)
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)
_I = re.IGNORECASE

# Sentences that disclose a dimension (read only where no rule finds something withheld).
DISCLOSING: dict[str, tuple[re.Pattern[str], ...]] = {
    "architecture": (
        re.compile(
            r"\b(?:describe[sd]?|detail(?:s|ed)?|present(?:s|ed)?|document(?:s|ed)?)\s+"
            r"(?:the\s+|our\s+|its\s+)?(?:model(?:[\x27\u2019]s)?\s+)?architecture\b",
            _I,
        ),
        re.compile(
            r"\b(?:decoder-only|encoder-decoder|mixture[- ]of[- ]experts|sparse\s+MoE|"
            r"state[- ]space\s+model|diffusion\s+transformer|\d+\s+(?:transformer\s+)?layers|"
            r"hidden\s+size|attention\s+heads)\b",
            _I,
        ),
        re.compile(
            r"\b(?:based\s+on|uses|adopts|follows|built\s+on)\s+(?:the\s+|a\s+|an\s+)?"
            r"(?:[\w.-]+\s+){0,3}?architecture\b",
            _I,
        ),
    ),
    "model_size": (
        re.compile(
            r"\b\d+(?:[.,]\d+)?\s*(?:[BMT]|billion|million|trillion)[- ]?(?:total\s+|active\s+)?"
            r"(?:parameters?|params)\b",
            _I,
        ),
        re.compile(r"\b(?:parameter\s+count|number\s+of\s+parameters)\s+(?:is|of)\s+\d", _I),
    ),
    "hardware": (
        re.compile(
            r"\b(?:H100|H200|H800|A100|A800|V100|B200|GB200|MI300X?|TPU\s*v\d\w*|TPUv\d\w*|"
            r"Trainium\d?|Gaudi\d?)\b"
        ),
        re.compile(r"\b\d[\d,]*\s+(?:\w+\s+){0,2}?(?:GPUs|TPUs|accelerators|chips)\b", _I),
    ),
    "compute": (
        re.compile(r"\b\d[\d.,]*\s*[kKM]?\s*(?:GPU|TPU|accelerator)[- ]hours\b", _I),
        re.compile(r"\b\d(?:[\d.,]*)\s*(?:[x\u00d7]\s*10\^?\s*\d+|e\+?\d+)\s*FLOPs?\b", _I),
        re.compile(r"\btraining\s+(?:took|lasted|ran\s+for)\s+(?:about\s+|roughly\s+)?\d", _I),
    ),
    "data": (
        re.compile(
            r"\b(?:trained|pre-?trained)\s+on\s+(?:~|about\s+|approximately\s+|over\s+|roughly\s+)?"
            r"\d[\d.,]*\s*(?:[BMT]|billion|million|trillion)?\s+tokens\b",
            _I,
        ),
        re.compile(
            r"\b(?:training|pre-?training|fine-?tuning)\s+(?:data|dataset|corpus|mix(?:ture)?)\s+"
            r"(?:consists|comprises|includes|contains|is\s+composed|was\s+collected|is\s+made)\b",
            _I,
        ),
        re.compile(
            r"\b(?:release|releasing|publish|publishing|open[- ]sourc\w+)\s+"
            r"(?:the\s+|our\s+|all\s+)?(?:full\s+)?(?:training\s+|pre-?training\s+)?(?:data|datasets?|corpus)\b",
            _I,
        ),
    ),
    "training_method": (
        re.compile(
            r"\b(?:supervised\s+fine-?tuning|RLHF|DPO|PPO|GRPO|reinforcement\s+learning\s+from|"
            r"direct\s+preference\s+optimi[sz]ation|instruction[- ]tun(?:ed|ing)|"
            r"distill(?:ed|ation)\s+from|learning\s+rate|batch\s+size)\b",
            _I,
        ),
    ),
    "weights": (
        re.compile(
            r"\b(?:release|releasing|released|publish|publishing|share|sharing|"
            r"open[- ]?sourc\w*)\s+(?:the\s+|our\s+|its\s+|all\s+)?"
            r"(?:model\s+)?(?:weights|checkpoints?)\b",
            _I,
        ),
        re.compile(r"\bopen[- ]weights?\b", _I),
        re.compile(
            r"\b(?:weights|checkpoints?)\b[^.;]{0,40}?\b(?:available|downloadable|released)\s+"
            r"(?:on|at|from|via|under)\b",
            _I,
        ),
    ),
    "evaluation": (
        re.compile(
            r"\b(?:MMLU|GSM8K|HumanEval|HellaSwag|TruthfulQA|GPQA|BBH|MBPP|SWE-bench|MT-Bench|"
            r"ARC-(?:Challenge|Easy)|WinoGrande|LiveCodeBench|AIME|ImageNet|COCO|LibriSpeech)\b"
        ),
        re.compile(r"\b(?:evaluation|benchmark)\s+results\s+(?:are|show|on|for)\b", _I),
    ),
}
# Markdown section headings that disclose a dimension when the section says something.
SECTIONS: dict[str, re.Pattern[str]] = {
    "architecture": re.compile(r"\barchitecture\b", _I),
    "hardware": re.compile(r"\bhardware\b|\bcompute\s+infrastructure\b", _I),
    "compute": re.compile(r"\benvironmental\s+impact\b|\bcarbon\b|\btraining\s+compute\b", _I),
    "data": re.compile(r"\b(?:training|pre-?training|fine-?tuning)\s+data(?:sets?)?\b", _I),
    "training_method": re.compile(
        r"\btraining\s+(?:procedure|details|recipe|method(?:ology)?)\b|\bfine-?tuning\b", _I
    ),
    "evaluation": re.compile(r"\bevaluation\b|\bbenchmarks?\b|\bresults\b", _I),
}
MIN_SECTION = 40  # letters a section needs to count as saying something


@dataclass(frozen=True)
class ReleaseFacts:
    """What a release shows: Hub fields for a model, and its README or post text."""

    subject: str
    author: str | None = None
    kind: str = "model"  # "model" (a Hub repo) or "post" (a release post or report)
    url: str | None = None
    published_at: datetime | None = None
    card_data: Mapping[str, Any] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    safetensors_total: int | None = None
    files: tuple[str, ...] | None = None  # None: the file list is not known
    gated: bool | str = False
    license: str | None = None
    model_index: tuple[Mapping[str, Any], ...] = ()
    tags: tuple[str, ...] = ()
    text: str = ""

    @classmethod
    def from_model_info(
        cls, info: Mapping[str, Any], readme: str = "", *, url: str | None = None
    ) -> ReleaseFacts:
        """From the Hub's model info JSON (`/api/models/{id}` or a listing entry with
        `expand=` cardData, config, safetensors, siblings, gated, model-index, tags, ...)."""
        repo_id = str(info.get("id") or info.get("modelId") or "")
        card = _mapping(info.get("cardData"))
        safetensors = _mapping(info.get("safetensors"))
        total = safetensors.get("total")
        siblings = info.get("siblings")
        files = (
            tuple(
                str(s["rfilename"])
                for s in siblings
                if isinstance(s, Mapping) and isinstance(s.get("rfilename"), str)
            )
            if isinstance(siblings, list)
            else None
        )
        index = info.get("model-index") or card.get("model-index") or ()
        results = info.get("evalResults") or ()
        entries = tuple(e for e in (*_list(index), *_list(results)) if isinstance(e, Mapping))
        tags = tuple(str(t) for t in _list(info.get("tags")) + _list(card.get("tags")))
        license_id = card.get("license") or next(
            (t.removeprefix("license:") for t in tags if t.startswith("license:")), None
        )
        created = info.get("createdAt")
        gated = info.get("gated")
        return cls(
            subject=repo_id,
            author=str(info.get("author") or repo_id.partition("/")[0] or "") or None,
            kind="model",
            url=url,
            published_at=_timestamp(created),
            card_data=card,
            config=_mapping(info.get("config")),
            safetensors_total=total if isinstance(total, int) and total > 0 else None,
            files=files,
            gated=str(gated) if gated in ("auto", "manual") else False,
            license=str(license_id) if license_id else None,
            model_index=entries,
            tags=tags,
            text=readme,
        )

    @classmethod
    def from_text(
        cls,
        subject: str,
        text: str,
        *,
        author: str | None = None,
        url: str | None = None,
        published_at: datetime | None = None,
    ) -> ReleaseFacts:
        """A release post or technical report: only its text speaks."""
        return cls(subject, author, "post", url, published_at, text=text)


@dataclass(frozen=True)
class DimensionStatus:
    dimension: str
    status: str  # disclosed | withheld | unknown
    evidence: str = ""  # "config.architectures: LlamaForCausalLM", or the sentence


@dataclass(frozen=True)
class Scorecard:
    subject: str
    author: str | None
    kind: str
    dimensions: tuple[DimensionStatus, ...]  # one per contract dimension, in its order
    url: str | None = None
    published_at: datetime | None = None

    @property
    def score(self) -> int:
        """How many dimensions the release discloses."""
        return len(self.disclosed)

    @property
    def disclosed(self) -> tuple[str, ...]:
        return tuple(d.dimension for d in self.dimensions if d.status == DISCLOSED)

    @property
    def withheld(self) -> tuple[str, ...]:
        return tuple(d.dimension for d in self.dimensions if d.status == WITHHELD)

    def status(self, dimension: str) -> DimensionStatus:
        return next(d for d in self.dimensions if d.dimension == dimension)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a scorecard."""
        return {
            "subject": self.subject,
            "author": self.author,
            "kind": self.kind,
            "url": self.url,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "score": self.score,
            "dimensions": {
                d.dimension: {"status": d.status, "evidence": d.evidence} for d in self.dimensions
            },
        }


def scorecard(release: ReleaseFacts, rules: tuple[Rule, ...] | None = None) -> Scorecard:
    """Each dimension disclosed, withheld or unknown, with the evidence (built-in rules when
    none are given)."""
    rules = rules_for(None) if rules is None else rules
    text = FRONT_MATTER.sub("", release.text[:MAX_TEXT], count=1)
    found: dict[str, DimensionStatus] = {}

    def settle(dim: str, status: str, evidence: str) -> None:
        found.setdefault(dim, DimensionStatus(dim, status, _cut(evidence)))

    findings = find_withheld(text, rules)
    said_withheld = {dim: f.sentence for f in reversed(findings) for dim in f.dimensions}
    for dim, evidence in _field_disclosures(release):
        # weight files under a licence or policy the text says restricts them are withheld
        if dim != "weights" or dim not in said_withheld:
            settle(dim, DISCLOSED, evidence)
    for dim, evidence in _field_withholdings(release):
        settle(dim, WITHHELD, evidence)
    for finding in findings:
        for dim in finding.dimensions:
            settle(dim, WITHHELD, finding.sentence)
    withheld_sentences = {f.sentence for f in findings}
    for sentence in sentences(text):
        if sentence in withheld_sentences or sentence.startswith("#"):
            continue
        for dim, patterns in DISCLOSING.items():
            if dim not in found and any(p.search(sentence) for p in patterns):
                settle(dim, DISCLOSED, sentence)
    for dim, heading in _sections(text):
        settle(dim, DISCLOSED, f"section: {heading}")
    return Scorecard(
        subject=release.subject,
        author=release.author,
        kind=release.kind,
        dimensions=tuple(found.get(d, DimensionStatus(d, UNKNOWN)) for d in DIMENSIONS),
        url=release.url,
        published_at=release.published_at,
    )


def regression(
    previous: Scorecard, current: Scorecard, *, fingerprint: str | None = None
) -> EventDraft | None:
    """`disclosure.regressed` when `current` (an author's new release) discloses fewer
    dimensions than `previous` (that author's release before it)."""
    if current.score >= previous.score:
        return None
    lost = [d for d in previous.disclosed if d not in current.disclosed]
    return EventDraft(
        kind="disclosure.regressed",
        subject=current.subject,
        title=(
            f"Discloses less: {current.subject} ({current.score} of {len(DIMENSIONS)} "
            f"dimensions, {previous.subject} had {previous.score})"
        ),
        fingerprint=fingerprint or f"after:{previous.subject}",
        url=current.url,
        published_at=current.published_at,
        before={"subject": previous.subject, "disclosed": list(previous.disclosed)},
        after={"subject": current.subject, "disclosed": list(current.disclosed)},
        data={
            "previous": previous.subject,
            "lost": lost,
            "score_before": previous.score,
            "score_after": current.score,
            "author": current.author,
            "withheld": list(current.withheld),
            "evidence": {d: current.status(d).evidence for d in lost if current.status(d).evidence},
        },
    )


def previous_release(cards: Iterable[Scorecard], current: Scorecard) -> Scorecard | None:
    """The same author's latest release published before `current` (None when there is
    none, or when dates are missing)."""
    if current.author is None or current.published_at is None:
        return None
    earlier = [
        (c.published_at, c)
        for c in cards
        if c.author == current.author
        and c.subject != current.subject
        and c.published_at is not None
        and c.published_at < current.published_at
    ]
    return max(earlier, key=lambda pair: pair[0])[1] if earlier else None


def _field_disclosures(release: ReleaseFacts) -> Iterable[tuple[str, str]]:
    config, card = release.config, release.card_data
    architectures = [str(a) for a in _list(config.get("architectures"))]
    if architectures:
        yield "architecture", f"config.architectures: {', '.join(architectures)}"
    elif config.get("model_type"):
        yield "architecture", f"config.model_type: {config['model_type']}"
    if release.safetensors_total:
        yield "model_size", f"safetensors.total: {release.safetensors_total:,} parameters"
    emissions = card.get("co2_eq_emissions")
    if isinstance(emissions, Mapping):
        if emissions.get("hardware_used"):
            yield "hardware", f"co2_eq_emissions.hardware_used: {emissions['hardware_used']}"
        if emissions.get("emissions") not in (None, "", 0):
            yield "compute", f"co2_eq_emissions.emissions: {emissions['emissions']}"
    elif isinstance(emissions, int | float) and not isinstance(emissions, bool) and emissions:
        yield "compute", f"co2_eq_emissions: {emissions}"
    datasets = [str(d) for d in _list(card.get("datasets"))]
    if datasets:
        yield "data", f"cardData.datasets: {', '.join(datasets[:10])}"
    methods = sorted({t.lower() for t in release.tags} & TRAINING_TAGS)
    if methods:
        yield "training_method", f"tags: {', '.join(methods)}"
    if release.model_index:
        names = sorted({str(e.get("name", "")) for e in release.model_index} - {""})
        yield "evaluation", "model-index" + (f": {', '.join(names[:5])}" if names else "")
    weights = _weight_files(release)
    if weights and release.gated != "manual" and not _non_commercial(release.license):
        yield "weights", f"files: {', '.join(weights[:3])}" + (" …" if len(weights) > 3 else "")


def _field_withholdings(release: ReleaseFacts) -> Iterable[tuple[str, str]]:
    if release.kind != "model":
        return
    if release.gated == "manual":
        yield "weights", "gated: manual (each request is approved by the author)"
    elif _non_commercial(release.license):
        yield "weights", f"license: {release.license}"
    elif release.files is not None and not _weight_files(release):
        yield "weights", f"no weight files among the repo's {len(release.files)} files"


def _weight_files(release: ReleaseFacts) -> list[str]:
    return [f for f in release.files or () if WEIGHT_FILE.search(f)]


def _non_commercial(license_id: str | None) -> bool:
    return bool(license_id) and bool(re.search(r"-nc\b|non-?commercial", license_id or "", _I))


def _sections(text: str) -> Iterable[tuple[str, str]]:
    """(dimension, heading) for each markdown section that says something about one."""
    headings = list(HEADING.finditer(text))
    for n, heading in enumerate(headings):
        level, title = len(heading.group(1)), heading.group(2)
        end = next((h.start() for h in headings[n + 1 :] if len(h.group(1)) <= level), len(text))
        body = PLACEHOLDER.sub("", HEADING.sub("", text[heading.end() : end]))
        if sum(c.isalpha() for c in body) < MIN_SECTION:
            continue
        for dim, pattern in SECTIONS.items():
            if pattern.search(title):
                yield dim, title


def _cut(evidence: str) -> str:
    return evidence if len(evidence) <= MAX_EVIDENCE else evidence[: MAX_EVIDENCE - 1] + "…"


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [value] if isinstance(value, str) and value else []


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
