"""`/events.atom`: the event log as an Atom feed, with the same filters as the API."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Query, Request, Response

from tracker.alerts.messages import change_lines, safe_url
from tracker.eventlog import query
from tracker.web.deps import EventQuery, SessionDep

router = APIRouter(tags=["feeds"])
ATOM = "http://www.w3.org/2005/Atom"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@router.get("/events.atom", response_class=Response)
def events_atom(
    request: Request,
    db_session: SessionDep,
    wanted: EventQuery,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """The newest matching events as Atom 1.0 (the event log's filters)."""
    events = query(db_session, replace(wanted, limit=limit))
    # Absolute links come from the configured public URL, never from the Host header.
    base = request.app.state.db.settings.public_url.rstrip("/")
    self_link = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "title", "release-tracker events")
    _text(feed, "id", f"{base}/events.atom")
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=self_link)
    ET.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=f"{base}/")
    updated = events[0].detected_at if events else datetime.now(UTC)
    _text(feed, "updated", updated.isoformat())
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "release-tracker")
    for event in events:
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        _text(entry, "id", f"{base}/events/{event.id}")
        _text(entry, "title", event.title)
        _text(entry, "updated", event.detected_at.isoformat())
        if event.published_at:
            _text(entry, "published", event.published_at.isoformat())
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=f"{base}/events/{event.id}")
        if safe_url(event.url):
            ET.SubElement(entry, f"{{{ATOM}}}link", rel="related", href=_clean(event.url or ""))
        ET.SubElement(entry, f"{{{ATOM}}}category", term=event.kind, label=event.severity)
        summary = [*change_lines(event.before, event.after), f"{event.kind} · {event.subject}"]
        _text(entry, "summary", "\n".join(summary))
    body = ET.tostring(feed, encoding="unicode", xml_declaration=False)
    return Response(
        '<?xml version="1.0" encoding="utf-8"?>\n' + body, media_type="application/atom+xml"
    )


def _text(parent: ET.Element, tag: str, text: str) -> None:
    # Control characters from a feed would make the document invalid XML.
    ET.SubElement(parent, f"{{{ATOM}}}{tag}").text = _clean(text)


def _clean(text: str) -> str:
    return _CONTROL.sub("", text)
