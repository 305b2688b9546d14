"""Hollowed-out repos: the page stays up while what it held is gone.

A data set taken down for copyright usually keeps its Hub page: its files are deleted, or
its card is rewritten to say it is defunct. That shows only as a new commit unless the
files and the card are compared with what was there before. This module does the
comparing, on plain data: the file names and `usedStorage` a fetch found, the stored
counts, and the new README.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tracker.disclosure import Rule, find_withheld, load_rules

RULES = Path(__file__).parent.parent / "rules" / "defunct.toml"
# Suffixes of weight files (models): safetensors, PyTorch, GGUF, ONNX, Keras, TF Lite, ...
WEIGHT_SUFFIXES = (
    ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf", ".ggml", ".onnx", ".h5",
    ".msgpack", ".tflite", ".mlmodel", ".keras", ".pb", ".nemo", ".llamafile", ".npz",
)  # fmt: skip
# Files of a data set that describe it rather than hold it.
_META_NAMES = re.compile(
    r"(?:^|/)(?:\.gitattributes|\.gitignore|license(?:\.\w+)?|notice(?:\.\w+)?|"
    r"citation(?:\.\w+)?|[^/]*\.md)$",
    re.IGNORECASE,
)
_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*(?:\n|\Z)", re.DOTALL)
_MARKUP = re.compile(r"^[\s>#*_-]+|[*_`]+", re.MULTILINE)
# Storage that fell below this share of the last seen is storage that was taken away.
STORAGE_DROP = 0.5


@dataclass(frozen=True)
class Withdrawal:
    """One way a visible repo lost its content: `reason` with its before and after."""

    reason: str  # files_removed, storage_dropped or marked_defunct
    title: str
    before: dict[str, Any] | None
    after: dict[str, Any]
    summary: str


@cache
def defunct_rules() -> tuple[Rule, ...]:
    """The built-in rules recognising a card that says its repo is gone."""
    return load_rules(RULES)


def content_files(repo_type: str, names: Sequence[str]) -> int:
    """How many of the files hold the repo's substance: weights of a model, data of a data
    set (every file but the card, licence and git metadata)."""
    if repo_type == "model":
        return sum(1 for name in names if name.lower().endswith(WEIGHT_SUFFIXES))
    return sum(1 for name in names if not _META_NAMES.search(name))


def defunct_sentence(readme: str) -> str | None:
    """The first sentence of a README saying its repo is defunct, removed or gone."""
    body = _MARKUP.sub(" ", _FRONT_MATTER.sub("", readme, count=1))
    findings = find_withheld(body, defunct_rules())
    return findings[0].sentence if findings else None


def withdrawals(
    repo_type: str,
    before: Mapping[str, Any],
    *,
    files: Sequence[str] | None,
    storage: int | None,
    files_before: Sequence[str] | None,
    readme: str | None,
) -> tuple[list[Withdrawal], dict[str, Any]]:
    """What the repo lost since `before` (its stored state), and the state keys to store
    (a key set to None is to be dropped).

    `files` and `storage` are what a look at the new head found (None: not looked at);
    `files_before` the names at the head last seen, when `before` has no count of them.
    """
    found: list[Withdrawal] = []
    state: dict[str, Any] = {}
    if files is not None:
        now_content, now_files = content_files(repo_type, files), len(files)
        state |= {"content_files": now_content, "files": now_files}
        if "content_files" in before:
            was_content, was_files = int(before["content_files"]), int(before.get("files", 0))
        elif files_before is not None:
            was_content, was_files = content_files(repo_type, files_before), len(files_before)
        else:
            was_content = was_files = 0
        if was_content and not now_content:
            noun = "weight" if repo_type == "model" else "data"
            found.append(
                Withdrawal(
                    "files_removed",
                    "Files removed",
                    {"content_files": was_content, "files": was_files},
                    {"content_files": now_content, "files": now_files},
                    f"{was_content} {noun} files → none ({was_files} files → {now_files})",
                )
            )
    if storage is not None:
        state["storage"] = storage
        was = before.get("storage")
        if isinstance(was, int) and was > 0 and storage < was * STORAGE_DROP and not found:
            found.append(
                Withdrawal(
                    "storage_dropped",
                    "Storage fell",
                    {"storage": was},
                    {"storage": storage},
                    f"storage {_size(was)} → {_size(storage)}",
                )
            )
    if readme is not None:
        sentence = defunct_sentence(readme)
        state["defunct"] = sentence  # None: the card no longer says so
        if sentence and sentence != before.get("defunct"):
            found.append(
                Withdrawal(
                    "marked_defunct",
                    "Marked defunct",
                    {"sentence": before["defunct"]} if before.get("defunct") else None,
                    {"sentence": sentence},
                    f"“{sentence}”",
                )
            )
    return found, state


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
