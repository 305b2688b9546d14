"""A small made-up world for the web pages: two labs' Hub repos (stored states) and a few
months of events of every closing-up kind, dated relative to now, plus feeds in every
state of health. The labs, repos and sentences are the project's own inventions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tracker.db import Database
from tracker.models import Event, Item, Source

LAB = "aurora-labs"
CAP = "Products with more than 500 million monthly active users need a separate license."
TERMS_DIFF = "\n".join(
    [
        "--- before",
        "+++ after",
        "@@ -3,2 +3,4 @@",
        " You must display \u201cBuilt with Aurora\u201d.",
        " Use is bound by the Aurora acceptable-use policy.",
        "+" + CAP,
        "+You may not use outputs to train or improve other language models.",
    ]
)
PAGE_DIFF = "\n".join(
    [
        "--- before",
        "+++ after",
        "@@ -8,1 +8,2 @@",
        " Use is bound by the Aurora acceptable-use policy.",
        "+" + CAP,
    ]
)
OTHER = "northwind-ai"


def _repo(repo_id: str, license: str, gated: Any = False, **more: Any) -> dict[str, Any]:
    return {
        "type": "model",
        "id": repo_id,
        "gated": gated,
        "license": license,
        "status": "available",
    } | more


def seed_demo(db: Database, *, now: datetime | None = None) -> dict[str, int]:
    """Store the world; returns the ids of the notable events by a short name."""
    now = now or datetime.now(UTC)
    ids: dict[str, int] = {}
    with db.session() as session:
        hub = Source(kind="hub", target=LAB, types="model,dataset", every_seconds=900, name=None)
        other = Source(kind="hub", target=OTHER, types="model", every_seconds=3600)
        blog = Source(
            kind="feed",
            target="https://aurora-labs.example/blog/feed.xml",
            name="Aurora Labs blog",
            every_seconds=6 * 3600,
        )
        policy = Source(
            kind="page",
            target="https://aurora-labs.example/legal/model-license",
            name="Aurora model license",
            every_seconds=86400,
        )
        broken = Source(
            kind="feed",
            target="https://research.northwind.example/rss",
            name="Northwind research feed",
            every_seconds=3600,
        )
        fresh = Source(kind="feed", target="https://papers.example/feed", every_seconds=1800)
        for source in (hub, other, blog, policy, broken, fresh):
            session.add(source)
        session.flush()
        for source in (hub, other, blog, policy):
            source.last_polled_at = now - timedelta(minutes=12)
            source.last_outcome = {
                "ok": True,
                "events": 0,
                "started_at": source.last_polled_at.isoformat(),
            }
        broken.last_polled_at = now - timedelta(minutes=40)
        broken.last_error = "HTTP 503 Service Unavailable fetching research.northwind.example"
        broken.consecutive_failures = 4

        states = {
            f"{LAB}/Aurora-7B": _repo(f"{LAB}/Aurora-7B", "aurora-community", "manual"),
            f"{LAB}/Aurora-7B-Instruct": _repo(
                f"{LAB}/Aurora-7B-Instruct", "aurora-community", "manual"
            ),
            f"{LAB}/Aurora-2-13B": _repo(f"{LAB}/Aurora-2-13B", "cc-by-nc-4.0", "auto"),
            f"{LAB}/Aurora-Vision": _repo(f"{LAB}/Aurora-Vision", "aurora-community"),
            f"{LAB}/aurora-tokenizer": _repo(f"{LAB}/aurora-tokenizer", "apache-2.0"),
            f"{LAB}/Aurora-1B": _repo(f"{LAB}/Aurora-1B", "apache-2.0"),
            f"{LAB}/Aurora-3-70B": _repo(f"{LAB}/Aurora-3-70B", "other", "manual"),
            f"{LAB}/Aurora-Old": _repo(f"{LAB}/Aurora-Old", "mit", status="withdrawn"),
            f"{OTHER}/Gale-3B": _repo(f"{OTHER}/Gale-3B", "apache-2.0"),
            f"{OTHER}/Gale-8B": _repo(f"{OTHER}/Gale-8B", "gale-research", "manual"),
        }
        for repo_id, state in states.items():
            source = hub if repo_id.startswith(LAB) else other
            session.add(Item(source_id=source.id, key=f"model:{repo_id}", data=state))

        def event(
            name: str,
            kind: str,
            severity: str,
            subject: str,
            title: str,
            days_ago: float,
            *,
            source: Source = hub,
            before: dict | None = None,
            after: dict | None = None,
            openness: tuple[tuple[str, str], tuple[str, str]] | None = None,
            url: str | None = None,
            **data: Any,
        ) -> None:
            if openness:
                (bl, ba), (al, aa) = openness
                data["openness"] = {
                    "before": {"license": bl, "access": ba},
                    "after": {"license": al, "access": aa},
                }
            if source.kind == "hub":
                data.setdefault("repo_type", "model")
                url = url or f"https://huggingface.co/{subject}"
            row = Event(
                key=f"demo:{name}",
                kind=kind,
                severity=severity,
                source_id=source.id,
                subject=subject,
                title=title,
                url=url,
                detected_at=now - timedelta(days=days_ago),
                before=before,
                after=after,
                data=data,
            )
            session.add(row)
            session.flush()
            ids[name] = row.id or 0

        event("baseline", "source.baselined", "info", LAB, f"Baselined {LAB}: 8 repos", 200)
        event(
            "old-published",
            "model.published",
            "notice",
            f"{LAB}/Aurora-1B",
            f"New model: {LAB}/Aurora-1B",
            170,
        )
        event(
            "v2-published",
            "model.published",
            "notice",
            f"{LAB}/Aurora-2-13B",
            f"New model: {LAB}/Aurora-2-13B",
            120,
        )
        event(
            "v2-license",
            "license.changed",
            "warning",
            f"{LAB}/Aurora-2-13B",
            f"License of {LAB}/Aurora-2-13B changed: apache-2.0 → cc-by-nc-4.0",
            95,
            before={"license": "apache-2.0"},
            after={"license": "cc-by-nc-4.0"},
            openness=(("open", "public"), ("non-commercial", "public")),
        )
        event(
            "v2-gated",
            "access.gated",
            "warning",
            f"{LAB}/Aurora-2-13B",
            f"{LAB}/Aurora-2-13B is now gated (auto)",
            60,
            before={"gated": False},
            after={"gated": "auto"},
            openness=(("non-commercial", "public"), ("non-commercial", "gated-auto")),
        )
        event(
            "v3-published",
            "model.published",
            "notice",
            f"{LAB}/Aurora-3-70B",
            f"New model: {LAB}/Aurora-3-70B",
            24,
        )
        event(
            "regressed",
            "disclosure.regressed",
            "warning",
            f"{LAB}/Aurora-3-70B",
            f"Discloses less: {LAB}/Aurora-3-70B (3 of 8 dimensions, {LAB}/Aurora-2-13B had 6)",
            23,
            before={
                "subject": f"{LAB}/Aurora-2-13B",
                "disclosed": [
                    "architecture",
                    "model_size",
                    "data",
                    "training_method",
                    "weights",
                    "evaluation",
                ],
            },
            after={
                "subject": f"{LAB}/Aurora-3-70B",
                "disclosed": ["architecture", "model_size", "evaluation"],
            },
            previous=f"{LAB}/Aurora-2-13B",
            lost=["data", "training_method", "weights"],
            score_before=6,
            score_after=3,
            author=LAB,
            withheld=["data", "compute", "hardware"],
        )
        event(
            "withheld",
            "disclosure.withheld",
            "warning",
            f"{LAB}/Aurora-3-70B",
            f"Details withheld: {LAB}/Aurora-3-70B",
            23,
            sentence=(
                "We do not disclose the composition of the training mixture or the compute used."
            ),
            rule="training-data-not-disclosed",
            dimensions=["data", "compute"],
        )
        event(
            "v3-gate",
            "access.gate_changed",
            "notice",
            f"{LAB}/Aurora-7B",
            f"Gate of {LAB}/Aurora-7B changed: auto → manual",
            12,
            before={"gated": "auto"},
            after={"gated": "manual"},
            openness=(("restricted", "gated-auto"), ("restricted", "gated-manual")),
        )
        event(
            "terms",
            "license.terms_changed",
            "warning",
            f"{LAB}/Aurora-7B",
            f"License terms stricter: {LAB}/Aurora-7B",
            5,
            before={"clauses": ["attribution", "aup_incorporated"]},
            after={
                "clauses": ["attribution", "aup_incorporated", "user_cap", "output_restriction"]
            },
            clauses_added=["user_cap", "output_restriction"],
            clauses_removed=[],
            diff=TERMS_DIFF,
        )
        event(
            "gate-terms",
            "access.terms_changed",
            "warning",
            f"{LAB}/Aurora-7B-Instruct",
            f"Gate terms stricter: {LAB}/Aurora-7B-Instruct",
            3,
            before={"clauses": ["approval_required"], "eu_disallowed": False},
            after={"clauses": ["approval_required", "geo_exclusion"], "eu_disallowed": True},
            clauses_added=["geo_exclusion"],
            clauses_removed=[],
            fields_added=["affiliation"],
        )
        event(
            "content",
            "content.withdrawn",
            "warning",
            f"{LAB}/Aurora-Vision",
            f"Content withdrawn: {LAB}/Aurora-Vision lost its weight files",
            2,
            before={"weight_files": 4},
            after={"weight_files": 0},
            reason="files_removed",
        )
        event(
            "lineage",
            "lineage.exposed",
            "warning",
            f"{LAB}/Aurora-7B",
            f"{LAB}/Aurora-7B closed up with 212 repos built on it",
            2,
            cause="license.terms_changed",
            cause_event_id=0,
            derivatives={"finetune": 140, "adapter": 51, "quantized": 19, "merge": 2},
            watched_derivatives=[f"{OTHER}/Gale-8B"],
        )
        event(
            "withdrawn",
            "repo.withdrawn",
            "warning",
            f"{LAB}/Aurora-Old",
            f"{LAB}/Aurora-Old was withdrawn (not found)",
            1.5,
            before={"status": "available"},
            after={"status": "not_found"},
            openness=(("open", "public"), ("open", "withdrawn")),
        )
        event(
            "updated",
            "repo.updated",
            "info",
            f"{LAB}/aurora-tokenizer",
            f"{LAB}/aurora-tokenizer updated",
            1,
            before={"sha": "3f2a91c"},
            after={"sha": "77be020"},
        )
        event(
            "post",
            "post.published",
            "notice",
            "https://aurora-labs.example/blog/aurora-3",
            "Introducing Aurora 3: our most capable model yet",
            24,
            source=blog,
            url="https://aurora-labs.example/blog/aurora-3",
            summary=(
                "Aurora 3 is available through our API and, for approved researchers, as weights."
            ),
        )
        event(
            "page",
            "page.changed",
            "notice",
            "https://aurora-labs.example/legal/model-license",
            "Aurora model license changed",
            5,
            source=policy,
            url="https://aurora-labs.example/legal/model-license",
            added=[
                "Products with more than 500 million monthly active users need a separate license."
            ],
            removed=[],
            diff=PAGE_DIFF,
        )
        event(
            "gale-gated",
            "access.gated",
            "warning",
            f"{OTHER}/Gale-8B",
            f"{OTHER}/Gale-8B is now gated (manual)",
            9,
            source=other,
            before={"gated": False},
            after={"gated": "manual"},
            openness=(("restricted", "public"), ("restricted", "gated-manual")),
        )
        event(
            "gale-open",
            "license.changed",
            "warning",
            f"{OTHER}/Gale-3B",
            f"License of {OTHER}/Gale-3B changed: gale-research → apache-2.0",
            15,
            source=other,
            before={"license": "gale-research"},
            after={"license": "apache-2.0"},
            openness=(("non-commercial", "public"), ("open", "public")),
        )
        event(
            "failing",
            "source.failing",
            "warning",
            "https://research.northwind.example/rss",
            "Northwind research feed is failing: HTTP 503",
            0.1,
            source=broken,
        )
    return ids
