"""The text of a PDF document (a technical report), as paragraphs, with pypdf.

Pure: bytes in, text out. pypdf is pure Python, so a hostile or just enormous document
can keep it busy: callers run `read_pdf` in a worker process with a time limit
(`tracker.clients.Clients.read_pdf`), and it reads at most `MAX_PAGES` pages and
`MAX_CHARS` characters. This module imports only the paragraph joiner, and pypdf when the
first PDF is read, because that worker process should not carry the whole application and
a process that only asks `is_pdf` should not carry pypdf.

What is kept is the running text: page numbers and the running headers and footers that
repeat at the top or bottom of most pages are dropped, lines are joined into paragraphs
and words hyphenated at a line's end are made whole (`tracker.paragraphs`).
"""

from __future__ import annotations

import logging
import re
import unicodedata
import warnings
from collections import Counter
from dataclasses import dataclass
from functools import cache
from io import BytesIO
from typing import TYPE_CHECKING

from tracker.errors import FetchError
from tracker.paragraphs import clean, paragraphs

if TYPE_CHECKING:
    from pypdf import Configuration, PdfReader

MAX_PAGES = 300
MAX_CHARS = 2_000_000
MAX_TITLE = 300
# pypdf's own guards are sized for desktop use (75 MB per decompressed stream); a report's
# content streams are far smaller.
STREAM_LIMIT = 20_000_000
# How many lines at each end of a page may be a page number or a running header/footer.
EDGE_LINES = 2

_PAGE_NUMBER = re.compile(
    r"(?:page\s+)?(?:\d{1,4}|[ivxlcdm]{1,7})(?:\s*(?:/|of)\s*\d{1,4})?|[-\u2013]\s*\d{1,4}\s*[-\u2013]",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class PdfText:
    """A PDF's running text: one paragraph per line; `pages` in the document, `pages_read`
    of them read (at most `MAX_PAGES`)."""

    title: str | None
    lines: tuple[str, ...]
    pages: int
    pages_read: int


class PdfError(FetchError):
    """The document cannot be read as a PDF, or carries no text to read."""


def is_pdf(body: bytes, content_type: str | None = None) -> bool:
    """Whether a response is a PDF: by its type, or by the `%PDF-` header some servers
    send as application/octet-stream (the header may follow a little junk)."""
    if content_type and "pdf" in content_type.split(";", 1)[0].lower():
        return True
    return b"%PDF-" in body[:1024] and not body[:64].lstrip().startswith(b"<")


def read_pdf(body: bytes, *, max_pages: int = MAX_PAGES, max_chars: int = MAX_CHARS) -> PdfText:
    """The text of the PDF `body`; PdfError (one line) for a document that is broken,
    protected by a password, or has no text layer (a scan)."""
    from pypdf import apply_configuration
    from pypdf.errors import DependencyError, FileNotDecryptedError

    # pypdf reports what it repairs through logging and warnings: a poll has no use for them.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    with warnings.catch_warnings(), apply_configuration(limits()):
        warnings.simplefilter("ignore")
        try:
            return _read(body, max_pages=max_pages, max_chars=max_chars)
        except PdfError:
            raise
        except (FileNotDecryptedError, DependencyError):
            raise PdfError(_PROTECTED) from None
        except RecursionError:
            raise PdfError("not a readable PDF: its objects nest too deeply") from None
        except Exception as exc:  # pypdf raises many kinds of error on a broken file
            raise PdfError(f"not a readable PDF: {_describe(exc)}") from None


_PROTECTED = "the PDF is protected by a password: its text cannot be read"


@cache
def limits() -> Configuration:
    """pypdf's decompression and stream limits for reports (`STREAM_LIMIT` each)."""
    from pypdf import Configuration

    return Configuration(
        zlib_maximum_output_length=STREAM_LIMIT,
        lzw_maximum_output_length=STREAM_LIMIT,
        run_length_maximum_output_length=STREAM_LIMIT,
        brotli_maximum_output_length=STREAM_LIMIT,
        maximum_declared_stream_length=STREAM_LIMIT,
    )


def _read(body: bytes, *, max_pages: int, max_chars: int) -> PdfText:
    from pypdf import PasswordType, PdfReader

    if not body.strip():
        raise PdfError("not a readable PDF: the response is empty")
    reader = PdfReader(BytesIO(body), strict=False)
    # pypdf has already tried the empty password, which opens documents that only restrict
    # printing or copying; anything else needs a password the tracker does not have.
    if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise PdfError(_PROTECTED)
    count = len(reader.pages)
    if count == 0:
        raise PdfError("not a readable PDF: it has no pages")
    pages: list[list[str]] = []
    chars = 0
    for number in range(min(count, max_pages)):
        text = reader.pages[number].extract_text() or ""
        lines = [clean(unicodedata.normalize("NFKC", line)) for line in text.splitlines()]
        pages.append(lines)
        chars += sum(len(line) for line in lines)
        if chars >= max_chars:
            break
    if not any(line for page in pages for line in page):
        raise PdfError(
            f"the PDF has no text to read ({count} page{'s' if count != 1 else ''} without "
            "a text layer: a scan or images only)"
        )
    running = _running_lines(pages)
    kept: list[str] = []
    for page in pages:
        kept.extend(_body_of(page, running))
    return PdfText(_title(reader), tuple(paragraphs(kept, reflow=True)), count, len(pages))


def _edges(page: list[str]) -> list[tuple[int, str]]:
    """The first and last few non-empty lines of a page, with their positions."""
    filled = [(i, line) for i, line in enumerate(page) if line]
    if len(filled) <= EDGE_LINES * 2:
        return filled
    return filled[:EDGE_LINES] + filled[-EDGE_LINES:]


def _shape(line: str) -> str:
    # "Technical Report, page 4" and "... page 5" are the same running line; a sentence
    # ("... ends paragraph 4.") is one only when it repeats word for word.
    if line.endswith((".", "!", "?")):
        return line.casefold()
    return _DIGITS.sub("#", line.casefold())


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Lines (by shape) at the edge of at least half the pages, and of two or more."""
    if len(pages) < 2:
        return set()
    seen: Counter[str] = Counter()
    for page in pages:
        seen.update({_shape(line) for _, line in _edges(page)})
    needed = max(2, (len(pages) + 1) // 2)
    return {shape for shape, n in seen.items() if n >= needed}


def _body_of(page: list[str], running: set[str]) -> list[str]:
    drop = {
        i for i, line in _edges(page) if _PAGE_NUMBER.fullmatch(line) or _shape(line) in running
    }
    kept = [line for i, line in enumerate(page) if i not in drop]
    # A page break is not a paragraph break (the joiner decides from the lines themselves);
    # a blank line inside a page is.
    while kept and not kept[0]:
        kept.pop(0)
    while kept and not kept[-1]:
        kept.pop()
    return kept


def _title(reader: PdfReader) -> str | None:
    try:
        metadata = reader.metadata
        title = metadata.title if metadata is not None else None
    except Exception:  # a broken information dictionary leaves the document readable
        return None
    text = clean(str(title)) if title else ""
    return text[:MAX_TITLE] or None


def _describe(exc: Exception) -> str:
    text = clean(str(exc))
    return text[:200] if text else type(exc).__name__
