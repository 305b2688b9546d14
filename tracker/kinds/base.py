"""What every source kind declares: how it is fetched and how its changes are detected."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tracker.detect import Detection
from tracker.detect.clauses import Rule as ClauseRule
from tracker.disclosure import Rule
from tracker.observations import Observation

if TYPE_CHECKING:
    from sqlmodel import Session

    from tracker.clients import Clients
    from tracker.detect.lineage import Exposure
    from tracker.models import Source

ItemStates = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class DetectContext:
    """What detection knows beyond the stored states and the observation: plain values."""

    target: str
    name: str | None
    types: str | None
    links: str | None
    baselined: bool
    hf_endpoint: str
    # TRACKER_HOME, where the user's rule files are: the rules are compiled by the first
    # detection that reads them (a feed's first poll reads none).
    home: Path | None = None

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The withheld-detail rules, built-in and the user's."""
        from tracker.disclosure import rules_for

        return rules_for(self.home)

    @property
    def clause_rules(self) -> tuple[ClauseRule, ...]:
        """The clause recogniser's rules, built-in and the user's."""
        from tracker.detect.clauses import rules_for

        return rules_for(self.home)


# Keeps the disclosure scorecards of the releases a poll found (tracker.scorecards).
ScoreStep = Callable[["Session", "Source", Observation, Detection, DetectContext], None]


@dataclass(frozen=True)
class SourceKind:
    """One kind of source. `reads_items`: its fetch needs the stored item states (the Hub
    confirms the repos a listing no longer shows). `relate`, run in the poll's transaction
    after detection: what the kind keeps beside its items (the Hub's lineage graph),
    recorded and looked up; it returns the events that name another event of the poll
    (`lineage.exposed`), stored once those have their ids. `scorecards`, run in the same
    transaction after `relate`: the disclosure scorecards of the releases the poll found
    (new models, release posts, a report's new version), stored, and `disclosure.regressed`
    added to the detection's events when one discloses less than the release before it."""

    name: str
    default_every: int
    item_noun: tuple[str, str]  # singular, plural
    fetch: Callable[[Source, Clients, ItemStates], Observation]
    detect: Callable[[ItemStates, Observation, DetectContext], Detection]
    reads_items: bool = False
    relate: Callable[[Session, Source, Observation, Detection], list[Exposure]] | None = None
    scorecards: ScoreStep | None = None


def posts(
    previous: ItemStates, observation: Observation, context: DetectContext, *, name: str
) -> Detection:
    """Every entry not seen before is a post: feeds, pages watched for links, arXiv."""
    from tracker.detect.feed import detect_posts

    return detect_posts(
        previous,
        observation.entries,
        baselined=context.baselined,
        rules=context.rules,
        subject=context.target,
        name=name,
    )


def score_posts(
    session: Session,
    source: Source,
    observation: Observation,
    detection: Detection,
    context: DetectContext,
) -> None:
    """The disclosure scorecards of the release posts among the new posts (feeds, arXiv).
    Imported when a poll found something: a poll of unchanged sources never needs it."""
    from tracker.scorecards import for_posts

    for_posts(session, source, observation, detection, context)
