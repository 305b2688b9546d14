"""Small text helpers shared by sources and messages."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

_SPACES = re.compile(r"\s+")


def one_line(text: str) -> str:
    """Collapse all whitespace, newlines included, to single spaces."""
    return _SPACES.sub(" ", text).strip()


def html_to_text(html: str) -> str:
    """The visible text of an HTML fragment, on one line."""
    if "<" not in html and "&" not in html:
        return one_line(html)
    tree = LexborHTMLParser(html)
    for node in tree.css("script, style"):
        node.decompose()
    return one_line(tree.text(separator=" ") if tree.body is not None else "")
