"""Alert messages rendered from the templates in `templates/`: Markdown, plain text, HTML.

Everything in an event came from the outside world (feed titles, model card fields). In
every format, mentions are neutralised first (`@everyone`, `@here`, `@room`, `@channel`,
Slack's `<!channel>` and Discord's `<@&role>` get a zero-width space after `@`, `<` or `!`
so no service pings anyone) and link syntax is broken up; then the Markdown filter
escapes the text, HTML templates autoescape it, and only http(s) URLs become links.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from tracker.models import Event

TEMPLATES = Path(__file__).parent / "templates"
FORMATS = {"markdown": "md", "text": "txt", "html": "html"}
SHOWN_IN_BATCH = 50
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")
ZWSP = "\u200b"
# `@name` at the start of a word (not the middle of an e-mail address), `<@`, `<!`, `<#`.
_MENTION = re.compile(r"(?<![\w.+-])@(?=[\w&!])|<(?=[@!#])")
# `[text](url)`: a Markdown link in any dialect that renders one.
_LINK = re.compile(r"\](?=\()")


@dataclass(frozen=True)
class Message:
    title: str
    body: str


@cache
def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html.j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["md"] = markdown_escape
    env.filters["mdurl"] = markdown_url
    return env


def markdown_escape(text: object) -> str:
    """Text that Markdown shows as is: no emphasis, links, HTML or headings from outside."""
    return _MD_SPECIAL.sub(r"\\\1", neutralise(text))


def neutralise(text: object) -> str:
    """Untrusted text that pings no one and makes no link, in any chat service's syntax."""
    value = _MENTION.sub(lambda m: m.group(0) + ZWSP, str(text))
    return _LINK.sub("]" + ZWSP, value)


def markdown_url(url: str) -> str:
    """A URL safe inside `(...)` of a Markdown link: brackets, spaces and quotes encoded."""
    return quote(url, safe=":/?#@!$&*+,;=%-._~")


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s), else None: no javascript: or data: links in messages."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def change_lines(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """`license: other → llama2` for each value that changed in place."""
    if not before or not after:
        return []
    lines = []
    shown = (k for k in [*before, *after] if k not in ("status", "reason", "sha256", "sentence"))
    for key in dict.fromkeys(shown):
        old, new = before.get(key), after.get(key)
        if old != new:
            lines.append(f"{key}: {_value(old)} → {_value(new)}")
    return lines


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        # Clause ids, or a gate's fields by name: "user_cap, attribution"; "none" for [].
        shown = [str(v.get("name", v)) if isinstance(v, Mapping) else _value(v) for v in value]
        return ", ".join(shown) if shown else "none"
    return str(value)


TERMS_KINDS = ("access.terms_changed", "license.terms_changed")


def terms_lines(data: Mapping[str, Any]) -> list[tuple[str, str | None]]:
    """A terms event's changes in words, each clause with the sentence that shows it:
    ("now requires a separate license above 700 million monthly active users", "If ...");
    then what else the gate changed (fields asked, the EU exclusion, the prompt)."""
    from tracker.detect.clauses import describe

    raw = data.get("evidence")
    evidence: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    lines: list[tuple[str, str | None]] = []
    for verb, clauses, side in (
        ("now", data.get("clauses_added"), "added"),
        ("no longer", data.get("clauses_removed"), "removed"),
    ):
        raw_quotes = evidence.get(side)
        quotes: Mapping[str, Any] = raw_quotes if isinstance(raw_quotes, Mapping) else {}
        for clause in clauses if isinstance(clauses, list | tuple) else []:
            quote = quotes.get(clause)
            quote = quote if isinstance(quote, str) and quote else None
            lines.append((f"{verb} {describe(str(clause), quote)}", quote))
    said = {line for line, _ in lines}
    changes = data.get("changes")
    for phrase in changes if isinstance(changes, list | tuple) else []:
        if isinstance(phrase, str) and phrase not in said:
            lines.append((phrase, None))
    return lines


def _lines(event: Event) -> list[tuple[str, str | None]]:
    """What changed, line by line, each with the sentence that shows it (if any)."""
    if event.kind in TERMS_KINDS:
        return terms_lines(event.data)
    return [(line, None) for line in _details(event)]


def _details(event: Event) -> list[str]:
    """What changed, in a few lines: before → after, or the page's lines, or the sentence."""
    if event.kind == "page.changed":
        added = [f"+ {line}" for line in event.data.get("added", [])[:10]]
        removed = [f"- {line}" for line in event.data.get("removed", [])[:10]]
        return added + removed
    if event.kind == "disclosure.withheld":
        return [f"“{event.data.get('sentence', '')}” (rule {event.data.get('rule', '?')})"]
    return change_lines(event.before, event.after)


def _view(event: Event, sources: Mapping[int, str], public_url: str) -> dict[str, Any]:
    lines = _lines(event)
    # A terms event's summary says what its lines say, clause by clause.
    summary = "" if event.kind in TERMS_KINDS else str(event.data.get("summary") or "")
    return {
        "id": event.id,
        "kind": event.kind,
        "severity": event.severity,
        "title": neutralise(event.title),
        "subject": neutralise(event.subject),
        "url": safe_url(event.url),
        "changes": [neutralise(line) for line, _ in lines],
        # The event's own message shows each change with the sentence that shows it.
        "details": [
            {"line": neutralise(line), "quote": neutralise(quote) if quote else None}
            for line, quote in lines
        ],
        "summary": neutralise(summary),
        "source": neutralise(sources.get(event.source_id or 0, f"source {event.source_id}")),
        "event_link": f"{public_url.rstrip('/')}/events/{event.id}",
        "detected_at": event.detected_at.strftime("%Y-%m-%d %H:%M UTC"),
    }


def render_event(event: Event, fmt: str, *, sources: Mapping[int, str], public_url: str) -> Message:
    body = (
        _environment()
        .get_template(f"event.{FORMATS[fmt]}.j2")
        .render(event=_view(event, sources, public_url))
    )
    return Message(_title(event.title, fmt), body.strip())


def _title(title: str, fmt: str) -> str:
    # Several services put the title into a Markdown body (`# title`): escape it there too.
    return markdown_escape(title) if fmt == "markdown" else neutralise(title)


def render_batch(
    events: Sequence[Event], fmt: str, *, heading: str, sources: Mapping[int, str], public_url: str
) -> Message:
    """One message for many events: a storm of changes, or a digest."""
    views = [_view(e, sources, public_url) for e in events[:SHOWN_IN_BATCH]]
    body = (
        _environment()
        .get_template(f"batch.{FORMATS[fmt]}.j2")
        .render(
            heading=heading,
            events=views,
            more=max(0, len(events) - SHOWN_IN_BATCH),
            log_link=f"{public_url.rstrip('/')}/events",
        )
    )
    return Message(_title(heading, fmt), body.strip())


def render_test(fmt: str, *, public_url: str) -> Message:
    body = _environment().get_template(f"test.{FORMATS[fmt]}.j2").render(public_url=public_url)
    return Message("release-tracker test alert", body.strip())
