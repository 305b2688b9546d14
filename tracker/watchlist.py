"""Watch lists: sources read from and written to TOML files and OPML (feeds only)."""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tracker.catalog import SourceSpec
from tracker.durations import format_duration, parse_interval
from tracker.errors import UserError
from tracker.models import Source

TOML_KEYS = {"kind", "target", "name", "every", "types", "links"}


def read(path: Path) -> list[SourceSpec]:
    """Source specs from a TOML watch list or an OPML file (told apart by content)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    # Any XML (declaration, comment, doctype or <opml> first, BOM or not) is read as OPML.
    if raw.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"<"):
        return read_opml(raw, path.name)
    return read_toml(raw, path.name)


def read_toml(raw: bytes, where: str) -> list[SourceSpec]:
    """`[[sources]]` tables with kind, target and optional name, every, types, links."""
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{where}: not a valid TOML watch list or OPML file ({exc})") from None
    tables = document.get("sources", [] if not document else None)
    if not isinstance(tables, list):
        raise UserError(f"{where}: expected [[sources]] tables")
    return [_spec_of(table, f"{where}: source {n}") for n, table in enumerate(tables, 1)]


def _spec_of(table: Any, where: str) -> SourceSpec:
    if not isinstance(table, dict):
        raise UserError(f"{where}: expected a table")
    unknown = set(table) - TOML_KEYS
    if unknown:
        raise UserError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    for key in ("kind", "target"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise UserError(f"{where}: missing {key!r}")
    for key in ("name", "every", "links"):
        if key in table and not isinstance(table[key], str):
            raise UserError(f"{where}: {key!r} must be a string")
    types = table.get("types")
    if isinstance(types, list):
        types = ",".join(str(t) for t in types)
    try:
        every = parse_interval(table["every"]) if "every" in table else None
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    return SourceSpec(
        kind=table["kind"].strip(),
        target=table["target"],
        name=table.get("name"),
        every_seconds=every,
        types=types,
        links=table.get("links"),
    )


def read_opml(raw: bytes, where: str) -> list[SourceSpec]:
    """Every outline with an `xmlUrl`, at any depth (readers nest them in categories)."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise UserError(f"{where}: not a valid OPML file ({exc})") from None
    if root.tag != "opml":
        raise UserError(f"{where}: not an OPML file (root element <{root.tag}>)")
    specs = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl") or outline.get("xmlurl")
        if url:
            name = outline.get("title") or outline.get("text")
            specs.append(SourceSpec(kind="feed", target=url, name=name))
    return specs


def to_toml(sources: list[Source]) -> str:
    lines = ["# release-tracker watch list: `tracker sources import FILE` reads it back.", ""]
    for source in sources:
        lines.append("[[sources]]")
        lines.append(f"kind = {_toml_string(source.kind)}")
        lines.append(f"target = {_toml_string(source.target)}")
        if source.name:
            lines.append(f"name = {_toml_string(source.name)}")
        lines.append(f"every = {_toml_string(format_duration(source.every_seconds))}")
        if source.types:
            lines.append(f"types = {_toml_string(source.types)}")
        if source.links:
            lines.append(f"links = {_toml_string(source.links)}")
        lines.append("")
    return "\n".join(lines)


def _toml_string(value: str) -> str:
    # A JSON string is a valid TOML basic string: same quotes, same escapes.
    return json.dumps(value, ensure_ascii=False)


def to_opml(sources: list[Source]) -> str:
    """Feed sources as OPML 2.0; other kinds have no place in it."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = "release-tracker feeds"
    body = ET.SubElement(opml, "body")
    for source in sources:
        if source.kind == "feed":
            name = source.name or source.target
            ET.SubElement(body, "outline", type="rss", text=name, title=name, xmlUrl=source.target)
    ET.indent(opml)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, encoding="unicode") + "\n"
