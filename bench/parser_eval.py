"""Fast feed parsers against feedparser, entry by entry, on a corpus of real feeds.

    python bench/parser_eval.py [--corpus DIR ...] [--candidates feedparser-rs,fastfeedparser]
                                [--examples 3] [--no-speed] [--no-memory] [--no-crafted]

Every document under the corpus folders (default ../shared/corpus/feeds; give `--corpus`
more than once for several), and the bozo documents written below (`CRAFTED`, left out
with `--no-crafted`), is read by feedparser the way the tracker reads it
(`tracker.feedparse.parse_with_feedparser`: the reference) and by each candidate through
the same normalisation into `FeedEntry` (`tracker.feedparse.build_feed`: identity, one-line
titles and authors, UTC times, relative links resolved against the feed's URL). Then, per
entry in document order, the fields detection reads are compared: key, title, link,
published_at, author, the summary as text (`FeedEntry.summary()`) and the whole text
(`FeedEntry.text()`, which the disclosure rules read); `summary_html` is compared too, for
information only (feedparser's sanitizer rewrites markup that detection never sees).

A candidate "refuses" a document when it raises or finds no feed in it; in the tracker those
documents go to feedparser, so agreement is given over the entries of the documents the
candidate accepted, and the refusals are counted apart. `tracker` (when the module has a
fast path) is `tracker.feedparse.parse` itself: fast path, its refusal rules and the
feedparser fallback, compared against feedparser alone.

Speed: each document is parsed by every contender in turn (one process, CPU time), so
the figures of one run share the machine's noise; "library" is the parser's own call,
"to entries" includes the normalisation into `FeedEntry`.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchutil import describe_setup  # noqa: E402

from tracker import feedparse  # noqa: E402
from tracker.feedparse import NotAFeedError, ParsedFeed  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "feeds"
FEED_SUFFIXES = {".xml", ".rss", ".atom", ".rdf", ".feed", ".json"}
FIELDS = ("key", "title", "link", "published_at", "author", "summary", "text")
INFO_FIELDS = ("summary_html",)
TARGET = 0.995


class Refused(Exception):
    """The candidate cannot read this document (the tracker would ask feedparser)."""


# Candidates: each turns bytes into a ParsedFeed through tracker.feedparse.build_feed.


def _resolve(url: str, value: Any) -> Any:
    from urllib.parse import urljoin

    if not value or not isinstance(value, str):
        return value
    try:
        return urljoin(url, value.strip())
    except ValueError:
        return ""


class _RsEntry:
    """A feedparser-rs entry seen through feedparser's keys: links and permalink guids
    resolved against the document's URL, HTML run through feedparser's own sanitizer, an
    author only when the entry names one (feedparser-rs hands entries the feed's)."""

    def __init__(self, entry: Any, url: str, *, resolve_ids: bool, feed_author: str | None):
        self._entry = entry
        self._url = url
        self._resolve_ids = resolve_ids
        self._feed_author = feed_author

    def get(self, key: str, default: Any = None) -> Any:
        entry = self._entry
        value = entry.get(key)
        if key == "link":
            value = value or (entry.get("id") if entry.get("guidislink") else None)
            value = _resolve(self._url, value)
        elif key == "id" and value and self._resolve_ids:
            value = _resolve(self._url, value)
        elif key == "summary" and value:
            value = _sanitize(value, entry.get("summary_detail"))
        elif key == "content" and value:
            value = [{"value": _sanitize(c.get("value") or "", c)} for c in value]
        elif key == "author" and value and value == self._feed_author:
            value = None
        return default if value is None else value


def _sanitize(value: str, detail: Any) -> str:
    from feedparser.sanitizer import _sanitize_html

    kind = (detail.get("type") if detail else None) or "text/html"
    if kind not in ("text/html", "application/xhtml+xml", "html", "xhtml"):
        return value
    return _sanitize_html(value, "utf-8", "text/html")


def read_feedparser_rs(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    import feedparser_rs

    try:
        result = feedparser_rs.parse(feedparse.repair_references(body), sanitize_html=False)
    except Exception as error:  # its errors have no common base
        raise Refused(f"raised {type(error).__name__}") from None
    version = result.get("version") or ""
    if not version:
        raise Refused("no feed found")
    feed = result.get("feed") or {}
    lowered = body.lower()
    resolve_ids = False
    if version.startswith("rss"):
        # feedparser resolves a guid like a link unless it says isPermaLink="false".
        guids = lowered.count(b"<guid")
        not_links = lowered.count(b'ispermalink="false"') + lowered.count(b"ispermalink='false'")
        if not_links and not_links != guids:
            raise Refused("guids both permalinks and not")
        resolve_ids = not not_links
    author = None
    if version.startswith("atom") and feed.get("author"):
        # feedparser-rs gives entries the feed's author; feedparser gives them their own.
        own = lowered.count(b"<author") - 1
        if 0 < own < len(result.entries):
            raise Refused("some entries without an author")
        author = feed.get("author") if own <= 0 else None
    entries = [
        _RsEntry(e, url, resolve_ids=resolve_ids, feed_author=author) for e in result.entries
    ]
    return feedparse.build_feed(feed.get("title") or "", feed.get("ttl") or "", entries)


def _struct(iso: str | None) -> time.struct_time | None:
    if not iso:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).timetuple()


class _FfpEntry:
    """A fastfeedparser entry seen through feedparser's keys."""

    def __init__(self, entry: Any, url: str) -> None:
        self._entry = entry
        self._url = url

    def get(self, key: str, default: Any = None) -> Any:
        entry = self._entry
        value: Any
        if key == "summary":
            value = entry.get("description")
        elif key in ("published_parsed", "updated_parsed"):
            value = _struct(entry.get(key.removesuffix("_parsed")))
        elif key == "link":
            value = _resolve(self._url, entry.get("link"))
        else:
            value = entry.get(key)
        return default if value is None else value


def read_fastfeedparser(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    import fastfeedparser

    try:
        result = fastfeedparser.parse(feedparse.repair_references(body))
    except Exception as error:  # ValueError for most; lxml's own for some
        raise Refused(f"raised {type(error).__name__}") from None
    feed = result.get("feed") or {}
    entries = [_FfpEntry(entry, url) for entry in result.get("entries") or []]
    return feedparse.build_feed(feed.get("title") or "", feed.get("ttl") or "", entries)


def read_tracker(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    """The tracker's fast path alone (tracker.feedfast); what it refuses goes to feedparser
    in `tracker.feedparse.parse`, so it counts as refused here."""
    from tracker import feedfast

    feedparse.check_complexity(body)
    try:
        title, ttl, raws = feedfast.read(
            feedparse.repair_references(body), url=url, content_type=content_type
        )
    except feedfast.Refused as error:
        raise Refused(str(error)) from None
    return feedparse.build_feed(title, ttl, raws)


def read_tracker_whole(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    return feedparse.parse(body, url=url, content_type=content_type)


def read_reference(body: bytes, url: str, content_type: str | None) -> ParsedFeed:
    return feedparse.parse_with_feedparser(body, url=url, content_type=content_type)


LIBRARY_CALLS: dict[str, Callable[[bytes], Any]] = {}


def _library_calls() -> None:
    import feedparser

    LIBRARY_CALLS["feedparser"] = lambda body: feedparser.parse(
        body, response_headers={"content-location": "https://corpus.example/"}, sanitize_html=True
    )
    try:
        import feedparser_rs

        LIBRARY_CALLS["feedparser-rs"] = feedparser_rs.parse
    except ImportError:
        pass
    try:
        import fastfeedparser

        def ffp(body: bytes) -> Any:
            try:
                return fastfeedparser.parse(body)
            except Exception:
                return None

        LIBRARY_CALLS["fastfeedparser"] = ffp
    except ImportError:
        pass


CANDIDATES: dict[str, tuple[str, Callable[[bytes, str, str | None], ParsedFeed]]] = {
    "feedparser-rs": ("feedparser_rs", read_feedparser_rs),
    "fastfeedparser": ("fastfeedparser", read_fastfeedparser),
}


# The corpus.

# Bozo documents written for this evaluation: what servers get wrong, each small.
_ITEM = "<item><title>Kestrel {n}</title><link>https://lab.example/k/{n}</link>{extra}</item>"
CRAFTED: dict[str, bytes] = {
    "unclosed_item.xml": (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>L</title>'
        b"<item><title>Open</title><link>https://lab.example/a</link></channel></rss>"
    ),
    "undefined_entity.xml": (
        b'<rss version="2.0"><channel><title>L</title><item><title>Tom&nbsp;and&nbsp;Jerry'
        b"</title><guid>t-1</guid></item></channel></rss>"
    ),
    "bare_ampersand.xml": (
        b'<rss version="2.0"><channel><title>L &amp; M</title><item><title>R&D notes</title>'
        b"<link>https://lab.example/r?a=1&b=2</link></item></channel></rss>"
    ),
    "truncated.xml": (
        '<rss version="2.0"><channel><title>L</title>'
        + "".join(_ITEM.format(n=n, extra="") for n in range(3))
        + "<item><title>Cut off mid"
    ).encode(),
    "garbage_after_root.xml": (
        '<rss version="2.0"><channel><title>L</title>'
        + _ITEM.format(n=1, extra="")
        + "</channel></rss><html>an error page</html>"
    ).encode(),
    "latin1_declared_utf8.xml": (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>L</title>'
        "<item><title>Modell f\xfcr Forschung</title><guid>m-1</guid></item></channel></rss>"
    ).encode("latin-1"),
    "utf8_declared_latin1.xml": (
        '<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>L'
        "</title><item><title>Mod\u00e8le \u2014 publi\u00e9</title><guid>m-2</guid></item>"
        "</channel></rss>"
    ).encode(),
    "control_characters.xml": (
        b'<rss version="2.0"><channel><title>L</title><item><title>Bell\x07 and\x0b tab'
        b"</title><guid>c-1</guid></item></channel></rss>"
    ),
    "surrogate_references.xml": (
        b'<rss version="2.0"><channel><title>L</title><item><title>Rocket &#55357;&#56960; '
        b"and lone &#xD800;</title><guid>s-1</guid></item></channel></rss>"
    ),
    "duplicate_guids.xml": (
        '<rss version="2.0"><channel><title>L</title>'
        + "".join(_ITEM.format(n=n, extra="<guid>https://lab.example/</guid>") for n in range(4))
        + "</channel></rss>"
    ).encode(),
    "no_guid_no_link.xml": (
        b'<rss version="2.0"><channel><title>L</title><item><title>Only a title</title>'
        b"<description>And a line.</description></item><item><description>No title"
        b"</description></item></channel></rss>"
    ),
    "bom_and_blank_lines.xml": (
        "\ufeff\n\n<?xml version='1.0' encoding='utf-8'?>\n<rss version=\"2.0\"><channel>"
        "<title>L</title>" + _ITEM.format(n=7, extra="<guid>b-7</guid>") + "</channel></rss>"
    ).encode(),
    "html_served_as_feed.xml": b"<!DOCTYPE html><html><head><title>Blog</title></head></html>",
    "empty_channel.xml": b'<rss version="2.0"><channel><title>Nothing yet</title></channel></rss>',
    "atom_no_namespace.xml": (
        b"<feed><title>L</title><entry><id>urn:x:1</id><title>Plain</title>"
        b'<link href="/p/1"/><updated>2026-11-20T10:00:00Z</updated></entry></feed>'
    ),
    "dates_of_every_kind.xml": (
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>L'
        "</title>"
        + _ITEM.format(n=1, extra="<pubDate>Tue, 24 Nov 2026 12:00:00 +0200</pubDate>")
        + _ITEM.format(n=2, extra="<pubDate>24 Nov 2026 12:00 EST</pubDate>")
        + _ITEM.format(n=3, extra="<pubDate>2026-11-24T12:00:00Z</pubDate>")
        + _ITEM.format(n=4, extra="<dc:date>2026-11-24</dc:date>")
        + _ITEM.format(n=5, extra="<pubDate>yesterday</pubDate>")
        + _ITEM.format(n=6, extra="<pubDate>Mon, 31 Feb 2026 10:00:00 GMT</pubDate>")
        + "</channel></rss>"
    ).encode(),
    "script_in_summary.xml": (
        b'<rss version="2.0"><channel><title>L</title><item><guid>x-1</guid><title>X</title>'
        b"<description>&lt;p&gt;Weights&lt;script&gt;alert(1)&lt;/script&gt; are out"
        b"&lt;style&gt;p{}&lt;/style&gt;&lt;/p&gt;</description></item></channel></rss>"
    ),
}


@dataclass
class Document:
    path: Path
    folder: Path
    body: bytes

    @property
    def name(self) -> str:
        return str(self.path.relative_to(self.folder))

    @property
    def url(self) -> str:
        return f"https://corpus.example/{self.folder.name}/{self.name}"


def load(folders: list[Path], crafted: bool = False) -> tuple[list[Document], list[Document]]:
    """XML documents and JSON Feed documents under the folders (and the crafted ones)."""
    xml: list[Document] = []
    json_feeds: list[Document] = []
    if crafted:
        home = Path("crafted")
        xml += [Document(home / name, home, body) for name, body in CRAFTED.items()]
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or path.suffix.lower() not in FEED_SUFFIXES:
                continue
            body = path.read_bytes()
            document = Document(path, folder, body)
            if path.suffix.lower() == ".json":
                if b"jsonfeed.org/version" in body[:4096]:
                    json_feeds.append(document)
                continue
            xml.append(document)
    return xml, json_feeds


# Comparison.


def fields(entry: Any) -> dict[str, Any]:
    return {
        "key": entry.key,
        "title": entry.title,
        "link": entry.link,
        "published_at": entry.published_at,
        "author": entry.author,
        "summary": entry.summary(),
        "text": entry.text(),
        "summary_html": entry.summary_html,
    }


def kind_of(name: str, ours: Any, theirs: Any) -> str:
    if theirs in (None, "") and ours not in (None, ""):
        return f"{name}: missing"
    if ours in (None, "") and theirs not in (None, ""):
        return f"{name}: extra"
    if isinstance(ours, str) and isinstance(theirs, str):
        if " ".join(ours.split()) == " ".join(theirs.split()):
            return f"{name}: whitespace"
        if ours.casefold() == theirs.casefold():
            return f"{name}: case"
        if name in ("link", "key") and ours.rstrip("/") == theirs.rstrip("/"):
            return f"{name}: trailing slash"
        if name in ("link", "key") and "://" in ours and "://" not in theirs:
            return f"{name}: not resolved"
        if theirs and theirs in ours:
            return f"{name}: shorter"
        if ours and ours in theirs:
            return f"{name}: longer"
    if isinstance(ours, datetime) and isinstance(theirs, datetime):
        return f"{name}: other time"
    return f"{name}: differs"


@dataclass
class Score:
    documents: int = 0
    refused: int = 0
    refused_entries: int = 0
    read_unreadable: int = 0  # documents feedparser refused and the candidate read
    entries: int = 0  # reference entries of accepted documents
    agreeing: int = 0
    missing: int = 0
    extra: int = 0
    field_agree: collections.Counter = field(default_factory=collections.Counter)
    kinds: collections.Counter = field(default_factory=collections.Counter)
    examples: dict = field(default_factory=lambda: collections.defaultdict(list))
    refusals: collections.Counter = field(default_factory=collections.Counter)
    by_folder: dict = field(default_factory=lambda: collections.defaultdict(lambda: [0, 0]))
    by_source: dict = field(default_factory=lambda: collections.defaultdict(lambda: [0, 0]))


def compare(
    score: Score,
    document: Document,
    reference: ParsedFeed | None,
    candidate: ParsedFeed | None,
    refusal: str | None,
    examples: int,
) -> None:
    score.documents += 1
    if refusal is not None:
        score.refused += 1
        score.refused_entries += len(reference.entries) if reference else 0
        score.refusals[refusal] += 1
        return
    assert candidate is not None
    if reference is None:
        score.read_unreadable += 1
        score.extra += len(candidate.entries)
        return
    ours, theirs = reference.entries, candidate.entries
    group = score.by_folder[_group(document)]
    source = score.by_source[_source(document)]
    for index, entry in enumerate(ours):
        score.entries += 1
        group[0] += 1
        source[0] += 1
        if index >= len(theirs):
            score.missing += 1
            score.kinds["entry: missing"] += 1
            _example(score, "entry: missing", document, index, entry.key, examples)
            continue
        mine, other = fields(entry), fields(theirs[index])
        same = True
        for name in (*FIELDS, *INFO_FIELDS):
            if mine[name] == other[name]:
                score.field_agree[name] += 1
                continue
            kind = kind_of(name, mine[name], other[name])
            score.kinds[kind] += 1
            _example(score, kind, document, index, entry.key, examples)
            if name in FIELDS:
                same = False
        if same:
            score.agreeing += 1
            group[1] += 1
            source[1] += 1
    if len(theirs) > len(ours):
        score.extra += len(theirs) - len(ours)
        score.kinds["entry: extra"] += len(theirs) - len(ours)
        _example(score, "entry: extra", document, len(ours), "-", examples)


def _group(document: Document) -> str:
    """The corpus folder, and its first sub-folder when it has them."""
    parts = Path(document.name).parts
    return document.folder.name + (f"/{parts[0]}" if len(parts) > 1 else "")


def _source(document: Document) -> str:
    """The repository a document came from when the folder's MANIFEST.tsv says, else its
    first sub-folder."""
    manifest = _manifest(document.folder)
    if document.name in manifest:
        return manifest[document.name]
    parts = Path(document.name).parts
    return parts[0] if len(parts) > 1 else "(top)"


_MANIFESTS: dict[Path, dict[str, str]] = {}


def _manifest(folder: Path) -> dict[str, str]:
    if folder not in _MANIFESTS:
        rows: dict[str, str] = {}
        path = folder / "MANIFEST.tsv"
        if path.is_file():
            for line in path.read_text().splitlines()[1:]:
                cells = line.split("\t")
                if len(cells) > 1:
                    rows[cells[0]] = cells[1]
        _MANIFESTS[folder] = rows
    return _MANIFESTS[folder]


def _example(score: Score, kind: str, document: Document, index: int, key: str, limit: int):
    shown = score.examples[kind]
    if len(shown) < limit:
        shown.append(f"{document.folder.name}/{document.name} #{index} {key[:90]}")


# Speed.


def speed(documents: list[Document], contenders: dict[str, Callable], entries: int) -> dict:
    """CPU seconds per contender over every document, each document parsed by all in turn."""
    spent: collections.Counter = collections.Counter()
    for document in documents:
        for name, call in contenders.items():
            started = time.process_time()
            with contextlib.suppress(Exception):  # refusals and NotAFeedError included
                call(document.body, document.url, None)
            spent[name] += time.process_time() - started
    return {name: spent[name] for name in contenders} | {"entries": entries}


def library_speed(documents: list[Document]) -> dict[str, float]:
    spent: collections.Counter = collections.Counter()
    for document in documents:
        for name, call in LIBRARY_CALLS.items():
            started = time.process_time()
            with contextlib.suppress(Exception):
                call(document.body)
            spent[name] += time.process_time() - started
    return dict(spent)


def memory(folders: list[Path], name: str) -> tuple[int, int] | None:
    """Peak RSS (KiB) of a fresh process that loads the corpus and parses every document
    once, and how much of it came after the corpus was loaded (what parsing added)."""
    code = (
        f"import sys, resource; sys.path.insert(0, {str(ROOT)!r}); "
        f"sys.path.insert(0, {str(ROOT / 'bench')!r})\n"
        "import parser_eval as e\n"
        "docs, _ = e.load([__import__('pathlib').Path(p) for p in sys.argv[2:]])\n"
        "call = {'feedparser': e.read_reference, 'tracker': e.read_tracker_whole,"
        " **{k: v[1] for k, v in e.CANDIDATES.items()}}[sys.argv[1]]\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "for d in docs:\n"
        "    try: call(d.body, d.url, None)\n"
        "    except Exception: pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base, base)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, name, *map(str, folders)], capture_output=True, text=True
    )
    if out.returncode != 0:
        return None
    grown, base = out.stdout.split()
    return int(base) + int(grown), int(grown)


# Report.


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", action="append", type=Path, metavar="DIR")
    parser.add_argument("--candidates", default=",".join(CANDIDATES))
    parser.add_argument("--examples", type=int, default=3)
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument(
        "--no-crafted", action="store_true", help="leave out the bozo documents written here"
    )
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    folders = args.corpus or [DEFAULT_CORPUS]
    for folder in folders:
        if not folder.is_dir():
            print(f"parser_eval: corpus folder {folder} does not exist", file=sys.stderr)
            sys.exit(2)
    wanted = [c.strip() for c in args.candidates.split(",") if c.strip()]
    unknown = [c for c in wanted if c not in CANDIDATES]
    if unknown:
        print(f"parser_eval: unknown candidate {unknown[0]!r}", file=sys.stderr)
        sys.exit(2)
    contenders: dict[str, Callable] = {}
    for name in wanted:
        module, call = CANDIDATES[name]
        try:
            version = __import__(module).__version__
        except ImportError as error:
            print(f"{name}: not installed ({error}); left out")
            continue
        print(f"{name} {version}")
        contenders[name] = call
    if getattr(feedparse, "FAST_PATH", None) is not None:
        contenders["tracker"] = read_tracker
        print(f"tracker: tracker.feedparse.parse with fast path {feedparse.FAST_PATH}")

    import feedparser

    print(f"feedparser {feedparser.__version__} (the reference)")
    print(describe_setup())
    documents, json_feeds = load(folders, crafted=not args.no_crafted)
    print("corpus folders read:")
    if not args.no_crafted:
        print(f"  (crafted) {len(CRAFTED)} bozo documents written in bench/parser_eval.py")
    for folder in folders:
        count = sum(1 for d in documents if d.folder == folder)
        print(f"  {folder} ({count} XML documents)")

    references: list[ParsedFeed | None] = []
    not_feeds = 0
    for document in documents:
        try:
            references.append(read_reference(document.body, document.url, None))
        except NotAFeedError:
            references.append(None)
            not_feeds += 1
    entries = sum(len(r.entries) for r in references if r)
    print(
        f"{len(documents):,} XML documents, {sum(len(d.body) for d in documents) / 1e6:.1f} MB; "
        f"feedparser reads {len(documents) - not_feeds:,} of them ({entries:,} entries) and "
        f"refuses {not_feeds:,}; {len(json_feeds)} JSON Feed documents (not compared: "
        "feedparser cannot read them)"
    )

    scores: dict[str, Score] = {}
    fast_accepted: list[Document] = []  # the documents the tracker's fast path reads
    for name, call in contenders.items():
        score = scores[name] = Score()
        for document, reference in zip(documents, references, strict=True):
            candidate, refusal = None, None
            try:
                candidate = call(document.body, document.url, None)
                if name == "tracker":
                    fast_accepted.append(document)
            except Refused as error:
                refusal = str(error)
            except NotAFeedError:
                refusal = "not a feed"
            if refusal is not None and reference is None:
                score.documents += 1  # both refuse: agreement, nothing to compare
                continue
            compare(score, document, reference, candidate, refusal, args.examples)
    report(scores, args.examples)

    figures: dict[str, Any] = {"entries": entries, "documents": len(documents)}
    if not args.no_speed:
        _library_calls()
        timed = {"feedparser": read_reference, **contenders}
        if "tracker" in contenders:
            # The whole of tracker.feedparse.parse: the fast path, and feedparser for what
            # it refuses.
            timed["tracker+fallback"] = read_tracker_whole
        spent = speed(documents, timed, entries)
        library = library_speed(documents)
        print()
        print(f"speed over {len(documents):,} documents, {entries:,} entries (CPU, one process)")
        print(
            f"{'contender':<16}{'library s':>10}{'µs/entry':>10}{'to entries s':>13}"
            f"{'µs/entry':>10}{'feedparser/this':>16}"
        )
        base = spent["feedparser"]
        for name in timed:
            lib = library.get(name)
            lib_text = f"{lib:>10.2f}{lib / entries * 1e6:>10.1f}" if lib else f"{'-':>10}{'-':>10}"
            print(
                f"{name:<16}{lib_text}{spent[name]:>13.2f}{spent[name] / entries * 1e6:>10.1f}"
                f"{base / spent[name]:>15.1f}x"
            )
        figures["speed"] = spent
        figures["library"] = library
        if fast_accepted:
            ids = {id(d) for d in fast_accepted}
            accepted_entries = sum(
                len(r.entries)
                for d, r in zip(documents, references, strict=True)
                if id(d) in ids and r
            )
            both = {"feedparser": read_reference, "tracker": read_tracker}
            timed_fast = speed(fast_accepted, both, accepted_entries)
            ratio = timed_fast["feedparser"] / timed_fast["tracker"]
            print(
                f"on the {len(fast_accepted):,} documents the fast path reads "
                f"({accepted_entries:,} entries): feedparser {timed_fast['feedparser']:.2f}s "
                f"({timed_fast['feedparser'] / accepted_entries * 1e6:.1f} µs/entry), fast path "
                f"{timed_fast['tracker']:.2f}s "
                f"({timed_fast['tracker'] / accepted_entries * 1e6:.1f} µs/entry): {ratio:.1f}x"
            )
            figures["speed_accepted"] = timed_fast
    if not args.no_memory:
        print()
        print("peak RSS of a fresh process that loads the corpus, then parses every document")
        for name in ("feedparser", *contenders):
            measured = memory(folders, name)
            if measured is None:
                print(f"  {name:<16} failed")
                continue
            peak, grown = measured
            print(f"  {name:<16}{peak / 1024:>6.0f} MiB, {grown / 1024:>5.0f} MiB added by parsing")
    if args.json:
        figures["scores"] = {
            name: {
                "documents": s.documents,
                "refused": s.refused,
                "entries": s.entries,
                "agreeing": s.agreeing,
                "fields": dict(s.field_agree),
                "kinds": dict(s.kinds),
            }
            for name, s in scores.items()
        }
        args.json.write_text(json.dumps(figures, indent=2, default=str))


def report(scores: dict[str, Score], examples: int) -> None:
    for name, s in scores.items():
        print()
        accepted = s.documents - s.refused
        rate = s.agreeing / s.entries if s.entries else 0.0
        verdict = "PASS" if rate >= TARGET and s.read_unreadable == 0 else "MISS"
        print(
            f"== {name}: accepted {accepted:,} of {s.documents:,} documents, refused {s.refused:,}"
            f" ({s.refused_entries:,} feedparser entries go to the fallback); read "
            f"{s.read_unreadable} that feedparser refuses"
        )
        print(
            f"   entries of accepted documents: {s.entries:,}; all fields agree {s.agreeing:,} "
            f"= {rate:.2%} [{verdict} at {TARGET:.1%}]; missing {s.missing:,}, extra {s.extra:,}"
        )
        print(
            "   per field: "
            + ", ".join(
                f"{f} {s.field_agree[f] / s.entries:.2%}" if s.entries else f"{f} -"
                for f in (*FIELDS, *INFO_FIELDS)
            )
            + "  (summary_html for information)"
        )
        if s.refusals:
            print("   refusals: " + ", ".join(f"{k} {v}" for k, v in s.refusals.most_common()))
        print(
            "   by corpus folder (entries, agreeing): "
            + ", ".join(
                f"{folder} {n:,}/{a:,} ({a / n:.2%})" for folder, (n, a) in s.by_folder.items() if n
            )
        )
        worst = sorted(((n - a, src, n) for src, (n, a) in s.by_source.items() if n), reverse=True)[
            :8
        ]
        print(
            "   sources with most disagreeing entries: "
            + ", ".join(f"{src} {bad:,}/{n:,}" for bad, src, n in worst if bad)
        )
        print("   disagreement kinds (entries; examples: file #index key):")
        for kind, count in s.kinds.most_common():
            print(f"     {kind:<28}{count:>7,}  " + " | ".join(s.examples[kind][:examples]))


if __name__ == "__main__":
    main()
