"""Hard-wrapped text (plain-text documents, the text of a PDF) joined into paragraphs.

A license served as text/plain or a report's PDF text breaks lines where the page ran out,
not where the author ended a thought: "no further details about the archi-" / "tecture".
Watching such text line by line would report a reflowed paragraph as changed and would hide
a sentence split over two lines from the analyses. So lines are joined into paragraphs
(one per output line): a blank line, a list item, a heading or a table row starts a new
one, a word hyphenated at a line's end is made whole again, and, for PDF text, which has no
blank lines, a short line that ends a sentence ends its paragraph.

Pure and light to import (it runs in worker processes too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# A paragraph longer than this is cut at a line boundary: a document with no paragraph
# breaks at all (a hostile one, or a table flattened to text) must not become one line of
# megabytes in an event's list of added lines.
MAX_PARAGRAPH = 4_000
# Where lines of a reflowed (PDF) text end a paragraph: a line shorter than this share of
# the text's typical line that ends a sentence; a heading is shorter still.
SHORT_LINE = 0.75
HEADING_LINE = 0.5

_SPACES = re.compile(r"\s+")
# What opens a block of its own: bullets, numbered or lettered items ("1.", "(a)", "iv)"),
# Markdown headings, quotes and table rows, numbered section headings ("2.1 Data"), "§ 3".
_BLOCK_START = re.compile(
    r"(?:[-*+\u2022\u00b7\u25aa\u25cf\u25e6\u2013\u2014]\s"
    r"|\(?(?:\d{1,3}|[a-z]|[ivxlc]{1,6})[.)]\s"
    r"|\d{1,2}(?:\.\d{1,2})+\.?\s"
    r"|#{1,6}\s|>\s?|\||\u00a7\s?\d)",
    re.IGNORECASE,
)
_HEADING = re.compile(r"#{1,6}\s")
_RULE = re.compile(r"(?:-{3,}|\*{3,}|_{3,}|={3,})$")
_SENTENCE_END = re.compile(r"[.!?:;][\"'\u201d\u2019)\]]*$")
_HYPHENATED = re.compile(r"[A-Za-z\u00c0-\u024f]-$")
_LOWER_START = re.compile(r"[a-z\u00df-\u00ff]")
_UPPER_START = re.compile(r"[A-Z0-9\u00c0-\u00de\"'\u201c(\[]")


def clean(line: str) -> str:
    """One line with its whitespace collapsed (soft hyphens, NULs and other invisible
    controls dropped)."""
    return _SPACES.sub(" ", line.replace("\u00ad", "").replace("\x00", "")).strip()


def paragraphs(lines: Iterable[str], *, reflow: bool = False) -> list[str]:
    """The paragraphs of hard-wrapped `lines`, one string each.

    `reflow` is for text without blank lines between paragraphs (PDF text): a short line
    that ends a sentence ends its paragraph, and a short line between the end of a
    sentence and a capitalised line ("1 Introduction", "Abstract") is a heading, a
    paragraph of its own."""
    cleaned = [clean(line) for line in lines]
    typical = _typical_width(cleaned) if reflow else 0
    out: list[str] = []
    current = ""
    previous = ""  # the line before, while it is part of the paragraph being built
    for i, line in enumerate(cleaned):
        if not line or _RULE.match(line):
            current = _flush(out, current)
            previous = ""
            continue
        following = cleaned[i + 1] if i + 1 < len(cleaned) else ""
        heading = _HEADING.match(line) is not None or (
            typical > 0 and _is_heading(line, current, previous, following, typical)
        )
        if current and (
            heading or _BLOCK_START.match(line) or len(current) + len(line) > MAX_PARAGRAPH
        ):
            current = _flush(out, current)
        current = _join(current, line)
        if heading or (typical > 0 and _ends_sentence_early(line, typical)):
            current = _flush(out, current)
        previous = line
    _flush(out, current)
    return out


def _join(paragraph: str, line: str) -> str:
    if not paragraph:
        return line
    if _HYPHENATED.search(paragraph) and _LOWER_START.match(line):
        return paragraph[:-1] + line  # "archi-" + "tecture"
    return f"{paragraph} {line}"


def _flush(out: list[str], paragraph: str) -> str:
    if paragraph:
        out.append(paragraph)
    return ""


def _ends_sentence_early(line: str, typical: int) -> bool:
    """A line that stops short of the margin after a sentence: the last of its paragraph."""
    return len(line) < SHORT_LINE * typical and _SENTENCE_END.search(line) is not None


def _is_heading(line: str, current: str, previous: str, following: str, typical: int) -> bool:
    return (
        len(line) < HEADING_LINE * typical
        and (not current or _SENTENCE_END.search(previous) is not None)
        and _SENTENCE_END.search(line) is None
        and not line.endswith((",", "-"))
        and _UPPER_START.match(line) is not None
        and _UPPER_START.match(following) is not None
    )


def _typical_width(lines: Sequence[str]) -> int:
    """The length of a full line of the text: most lines of a paragraph run to the margin,
    so a high percentile of the lengths is the width of the column."""
    lengths = sorted(len(line) for line in lines if len(line) >= 10)
    return lengths[int(len(lengths) * 0.8)] if lengths else 0
