"""The Hugging Face Hub webhook receiver: a change to a watched repo asks for a poll of it.

The payload says that something changed, not what (gating and license are not in it), so
the receiver only names the sources to poll and the repo to look at; the poll re-fetches and
detects as usual. It leaves the repo's key on each covering source (`poll_focus`), so that
an author source answers with one info call for that repo rather than a re-listing of the
whole author. The poll is asked of the poll-and-alert service, which coalesces: a burst of
webhooks for one source is one poll, run by the scheduler's threads or by Celery, never by
this request.

Scopes: any scope starting with `repo` counts as `repo` (the Hub says narrower scopes will
appear, to be taken as an update of the broader one). A `discussion` being created is read
too: reporting a repo ("Report this repository", for a legal issue, copyright, ...) opens a
public discussion titled "🚩 Report: <reason>", which the poll turns into `repo.reported`.
A move (`movedTo`) is followed: the old id is looked up (its 307 names the new one) where
it is watched, the new id where only that is.
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
# A source keeps at most this many poll requests; past MAX_FOCUS the poll lists the source
# anyway, so older ones add nothing.
MAX_FOCUS_ENTRIES = 100


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
    scope = str(event.get("scope", ""))
    name, repo_type = str(repo.get("name", "")), str(repo.get("type", "model"))
    discussion = None
    if _broad(scope) == "discussion":
        discussion = _report(payload.get("discussion"), event)
        if discussion is None:
            return {"ignored": f"scope {scope!r}: not a report opened on the repo"}
    elif _broad(scope) != "repo":
        return {"ignored": f"scope {scope!r} does not change what is watched"}
    moved = payload.get("movedTo")
    new_name = str(moved.get("name", "")) if isinstance(moved, dict) else ""
    with db.session() as session:
        asked: list[int] = []
        for source in session.exec(select(Source).where(Source.kind == "hub")):
            if source.id is None:
                continue
            # The old id where it is watched (its 307 tells the rename), else the new one.
            for watched_name in (name, new_name):
                if watched_name and _covers(source, watched_name, repo_type):
                    _focus(source, f"{repo_type}:{watched_name}", discussion)
                    session.add(source)
                    asked.append(source.id)
                    break
    if not asked:
        return {"ignored": f"{name} is not watched"}
    polls.request(asked)
    return {"polling": asked, "repo": name}


def _broad(scope: str) -> str:
    """The broad scope of a narrower one ("repo.config.dois" → "repo")."""
    return scope.split(".", 1)[0]


def _report(raw: Any, event: dict[str, Any]) -> dict[str, Any] | None:
    """The discussion a report opened, in the shape the poll reads; None for anything
    else (other discussions, comments, pull requests, a discussion closed)."""
    from tracker.detect.hub import report_reason

    if event.get("scope") != "discussion" or event.get("action") != "create":
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("num"), int):
        return None
    title = str(raw.get("title") or "")
    if raw.get("isPullRequest") or report_reason(title) is None:
        return None
    url = raw.get("url")
    author = raw.get("author")
    return {
        "num": raw["num"],
        "title": title[:300],
        "url": str(url.get("web"))[:2048] if isinstance(url, dict) and url.get("web") else None,
        "status": str(raw.get("status") or "")[:20] or None,
        "is_pull_request": False,
        "author": str(author.get("id"))[:100] if isinstance(author, dict) else None,
    }


def _focus(source: Source, key: str, discussion: dict[str, Any] | None) -> None:
    """Ask the source's next poll to look at the repo (with the discussion, if any)."""
    entry: dict[str, Any] = {"key": key}
    if discussion is not None:
        entry["discussion"] = discussion
    entries = [e for e in source.poll_focus or [] if e != entry]
    # A new list, so the JSON column is seen as changed.
    source.poll_focus = [*entries, entry][-MAX_FOCUS_ENTRIES:]


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
