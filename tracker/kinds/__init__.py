"""The source kinds: each module here declares one kind, its fetch and its detection side
by side (`feed`, `page`, `hub`, `arxiv`). A kind's module is imported only when that kind
is used."""

from __future__ import annotations

import importlib

from tracker.errors import UserError
from tracker.kinds.base import DetectContext, SourceKind

__all__ = ["NAMES", "DetectContext", "SourceKind", "kind_of"]

NAMES = ("hub", "feed", "page", "arxiv")


def kind_of(name: str) -> SourceKind:
    """The declared kind, or UserError for a name that is not one."""
    if name not in NAMES:
        raise UserError(f"unknown source kind {name!r}: use one of {', '.join(NAMES)}")
    kind: SourceKind = importlib.import_module(f"tracker.kinds.{name}").KIND
    return kind
