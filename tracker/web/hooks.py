"""The Hugging Face Hub webhook receiver: a change to a watched repo triggers a poll of it.

The payload says that something changed, not what (gating and license are not in it), so
the receiver only names the sources to poll; the poll re-fetches and detects as usual.
"""

from __future__ import annotations

import hmac
import logging
import threading
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from sqlmodel import select

from tracker.alerts.deliver import deliver_due
from tracker.db import Database
from tracker.models import Source
from tracker.poller import poll_sources, select_sources
from tracker.sources.hub import parse_target

router = APIRouter(tags=["hooks"])
log = logging.getLogger(__name__)
TRIGGER_SCOPES = {"repo", "repo.content", "repo.config"}


@router.post("/hooks/huggingface", status_code=202)
async def huggingface(request: Request) -> dict[str, Any]:
    """Check `X-Webhook-Secret`, then poll the watched sources covering the repo."""
    db: Database = request.app.state.db
    secret = db.settings.webhook_secret
    if not secret:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "TRACKER_WEBHOOK_SECRET is not set"
        )
    given = request.headers.get("x-webhook-secret", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong or missing X-Webhook-Secret")
    try:
        payload = await request.json()
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the body is not JSON") from None
    event = payload.get("event") if isinstance(payload, dict) else None
    repo = payload.get("repo") if isinstance(payload, dict) else None
    if not isinstance(event, dict) or not isinstance(repo, dict):
        return {"ignored": "not a repo event"}
    if event.get("scope") not in TRIGGER_SCOPES:
        return {"ignored": f"scope {event.get('scope')!r} does not change what is watched"}
    name, repo_type = str(repo.get("name", "")), str(repo.get("type", "model"))
    with db.session() as session:
        source_ids = [
            s.id
            for s in session.exec(select(Source).where(Source.kind == "hub"))
            if _covers(s, name, repo_type)
        ]
    if not source_ids:
        return {"ignored": f"{name} is not watched"}
    threading.Thread(target=_poll, args=(db, source_ids), name="webhook-poll", daemon=True).start()
    return {"polling": source_ids, "repo": name}


def _covers(source: Source, repo_id: str, repo_type: str) -> bool:
    target = parse_target(source.target, source.types)
    if repo_type not in target.types:
        return False
    if target.repo_id:
        return target.repo_id.lower() == repo_id.lower()
    return repo_id.split("/", 1)[0].lower() == target.owner.lower()


def _poll(db: Database, source_ids: list[int]) -> None:
    try:
        poll_sources(db, select_sources(db, source_ids))
        deliver_due(db)
    except Exception:  # the request was answered; a failure here is logged, not raised
        log.exception("webhook-triggered poll of %s failed", source_ids)
