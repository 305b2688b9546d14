"""The front page's and lab page's decisions, on plain events: which closing-up category
an event falls in, how it is said in words, the windows, a lab's rows, sources' health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tracker.models import Event, Source
from tracker.overview import (
    CATEGORIES,
    category_of,
    closing_windows,
    health_of,
    in_words,
    lab_view,
    why_no_report,
)
from tracker.report import AuthorReport, Mix
from tracker.web.charts import openness_chart, score_chart
from tracker.web.deps import ago, interval

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
_ids = iter(range(1, 10_000))


def event(
    kind: str, severity: str = "warning", days: float = 1, subject: str = "lab/m", **fields
) -> Event:
    return Event(
        id=next(_ids),
        key=f"{kind}{days}{subject}",
        kind=kind,
        severity=severity,
        subject=subject,
        title=f"{kind} of {subject}",
        detected_at=NOW - timedelta(days=days),
        **fields,
    )


def openness(before: str, after: str) -> dict:
    return {
        "openness": {
            "before": {"license": before, "access": "public"},
            "after": {"license": after, "access": "public"},
        }
    }


def test_closing_categories() -> None:
    assert category_of(event("access.gated")) == "gated"
    assert (
        category_of(event("access.gate_changed", "notice", after={"gated": "manual"}))
        == "gate_stricter"
    )
    assert category_of(event("access.gate_changed", "notice", after={"gated": "auto"})) is None
    assert (
        category_of(event("license.changed", data=openness("open", "non-commercial")))
        == "license_stricter"
    )
    assert category_of(event("license.changed", data=openness("non-commercial", "open"))) is None
    assert (
        category_of(event("license.terms_changed", data={"clauses_added": ["user_cap"]}))
        == "license_stricter"
    )
    assert (
        category_of(
            event("license.terms_changed", "notice", data={"clauses_removed": ["user_cap"]})
        )
        is None
    )
    assert category_of(event("content.withdrawn")) == "content_withdrawn"
    assert category_of(event("lineage.exposed")) == "lineage_exposed"
    assert category_of(event("post.published", "notice")) is None


def test_changes_in_words() -> None:
    gated = event("access.gated", before={"gated": False}, after={"gated": "manual"})
    terms = event(
        "license.terms_changed",
        data={"clauses_added": ["output_restriction"], "clauses_removed": ["attribution"]},
    )
    lineage = event(
        "lineage.exposed",
        data={
            "derivatives": {"finetune": 3, "adapter": 2},
            "watched_derivatives": ["x/y"],
            "cause": "access.gated",
        },
    )
    regressed = event(
        "disclosure.regressed",
        data={"score_before": 6, "score_after": 3, "lost": ["model_size"], "previous": "lab/old"},
    )

    assert in_words(gated) == ["access: public → gated (manual)"]
    assert in_words(terms) == [
        "now forbids using outputs to train or improve other models",
        "no longer requires products to display a name or mark",
    ]
    assert in_words(lineage) == [
        "5 repos built on it (3 fine-tunes, 2 adapters)",
        "1 of them watched here: x/y",
        "because of access.gated",
    ]
    assert in_words(regressed)[:2] == ["disclosure score: 6 → 3", "no longer discloses: model size"]


def test_windows_count_by_category_most_severe_first() -> None:
    events = [
        event("access.gated", days=2),
        event("access.gated", days=3, subject="lab/n"),
        event("repo.withdrawn", "critical", days=20),
        event("disclosure.withheld", days=25),
        event("post.published", "notice", days=1),
    ]

    week, month = closing_windows(events, now=NOW)

    assert week.total == 2 and month.total == 4
    assert [s.key for s in month.sections][:3] == ["withdrawn", "gated", "withheld"]
    gated = next(s for s in week.sections if s.key == "gated")
    assert gated.count == 2 and gated.subjects == 2
    assert len(month.sections) == len(CATEGORIES)  # empty categories are shown as 0
    assert "kind=access.gated" in gated.log_query("7d") and "since=7d" in gated.log_query("7d")


def test_a_lab_view_from_its_events() -> None:
    events = [
        event("model.published", "notice", days=30, subject="lab/a"),
        event("model.published", "notice", days=10, subject="lab/b"),
        event(
            "disclosure.regressed",
            days=9,
            subject="lab/b",
            data={"previous": "lab/a", "score_before": 6, "score_after": 4, "lost": ["data"]},
        ),
        event(
            "license.terms_changed",
            days=5,
            subject="lab/b",
            after={"clauses": ["non_commercial"]},
            data={"clauses_added": ["non_commercial"]},
        ),
        event(
            "license.terms_changed",
            days=2,
            subject="lab/b",
            after={"clauses": ["non_commercial", "user_cap"]},
            data={"clauses_added": ["user_cap"]},
        ),
        event("lineage.exposed", days=1, subject="lab/b", data={"derivatives": {"total": 40}}),
    ]

    view = lab_view("lab", events, None)

    assert [(r.subject, r.score, r.lost) for r in view.releases] == [
        ("lab/b", 4, ["data"]),
        ("lab/a", None, []),
    ]
    assert [(s[1], s[2]) for s in view.scores] == [("lab/a", 6), ("lab/b", 4)]
    (terms,) = view.terms
    assert terms.clauses == ["non_commercial", "user_cap"]  # the latest reading
    assert view.lineage[0].derivatives == 40
    assert view.recent[0].kind == "lineage.exposed"


def test_health_and_why_the_report_is_empty() -> None:
    polled = Source(kind="feed", target="a", last_polled_at=NOW)
    failing = Source(kind="hub", target="lab", last_error="503", last_polled_at=NOW)
    never = Source(kind="hub", target="other")

    health = health_of([polled, failing, never])

    assert (health.total, health.ok, health.failing, health.never) == (3, 1, 1, 1)
    assert why_no_report([polled], None).startswith("No Hub repos watched")
    assert "2 Hub sources watched, none polled successfully yet (1 failing)" in why_no_report(
        [failing, never], None
    )


def test_charts_have_axes_values_on_hover_and_patterns() -> None:
    mix = Mix(
        repos=4,
        license={"open": 1, "restricted": 2, "non-commercial": 1, "unknown": 0},
        access={"public": 2, "gated-auto": 1, "gated-manual": 1, "withdrawn": 0},
    )
    report = AuthorReport("lab", mix, [(NOW - timedelta(days=30), mix), (NOW, mix)], {})

    chart = str(openness_chart(report))
    scores = str(score_chart([(NOW, "lab/a", 6), (NOW, "lab/b", 3)]))

    assert 'class="axis"' in chart and ">repos</text>" in chart and ">% public</text>" in chart
    assert "<title>2026-12-01: 2 restricted</title>" in chart
    assert "url(#fill-restricted)" in chart  # a pattern as well as a colour
    assert "<title>lab/b (2026-12-01): 3 of 8</title>" in scores


def test_intervals_and_times_for_people() -> None:
    assert [interval(s) for s in (86400, 21600, 900, 5400, 45)] == [
        "1 d",
        "6 h",
        "15 min",
        "1 h 30 min",
        "45 s",
    ]
    assert ago(NOW - timedelta(minutes=5), NOW) == "5 min ago"
    assert ago(None) == "never"
