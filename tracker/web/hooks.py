"""The Hugging Face Hub webhook receiver: a change to a watched repo asks for a poll of it.

The payload says that something changed, not what (gating and license are not in it), so
the receiver only names the sources to poll; the poll re-fetches and detects as usual. The
poll is asked of the poll-and-alert service, which coalesces: a burst of webhooks for one
source is one poll, run by the scheduler's threads or by Celery, never by this request.
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from sqlmodel import select

from tracker.models import Source
from tracker.sources.hub import parse_target
from tracker.web.deps import DatabaseDep, PollsDep

router = APIRouter(tags=["hooks"])
log = logging.getLogger(__name__)
TRIGGER_SCOPES = {"repo", "repo.content", "repo.config"}


async def _body(request: Request) -> bytes:
    """The request body, refused (413) past `TRACKER_WEBHOOK_MAX_BYTES` before it is read whole."""
    limit: int = request.app.state.db.settings.webhook_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "webhook body too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "webhook body too large")
    return bytes(body)


@router.post("/hooks/huggingface", status_code=202)
def huggingface(
    request: Request,
    db: DatabaseDep,
    polls: PollsDep,
    body: Annotated[bytes, Depends(_body)],
) -> dict[str, Any]:
    """Check `X-Webhook-Secret`, then ask for a poll of the watched sources covering the repo."""
    secret = db.settings.webhook_secret
    if not secret:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "TRACKER_WEBHOOK_SECRET is not set"
        )
    given = request.headers.get("x-webhook-secret", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong or missing X-Webhook-Secret")
    payload = _parse(body)
    event = payload.get("event") if isinstance(payload, dict) else None
    repo = payload.get("repo") if isinstance(payload, dict) else None
    if not isinstance(event, dict) or not isinstance(repo, dict):
        return {"ignored": "not a repo event"}
    if event.get("scope") not in TRIGGER_SCOPES:
        return {"ignored": f"scope {event.get('scope')!r} does not change what is watched"}
    name, repo_type = str(repo.get("name", "")), str(repo.get("type", "model"))
    with db.read() as session:
        source_ids = [
            s.id
            for s in session.exec(select(Source).where(Source.kind == "hub"))
            if s.id is not None and _covers(s, name, repo_type)
        ]
    if not source_ids:
        return {"ignored": f"{name} is not watched"}
    polls.request(source_ids)
    return {"polling": source_ids, "repo": name}


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        # RecursionError: JSON nested deeper than Python's parser goes (a hostile body).
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the body is not usable JSON") from None


def _covers(source: Source, repo_id: str, repo_type: str) -> bool:
    target = parse_target(source.target, source.types)
    if repo_type not in target.types:
        return False
    if target.repo_id:
        return target.repo_id.lower() == repo_id.lower()
    return repo_id.split("/", 1)[0].lower() == target.owner.lower()
