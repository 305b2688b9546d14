"""Small PDF documents written by the tests: pages of text lines (a report's layout, with
hard line breaks, page numbers and a running header when asked), pages with no text layer,
and the same documents protected by passwords (through pypdf's writer)."""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence

from pypdf import PdfReader, PdfWriter

TOP = 760
LEADING = 14


def _escape(text: str) -> bytes:
    data = text.encode("cp1252")
    return data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def _content(lines: Sequence[str]) -> bytes:
    ops = [b"BT", b"/F1 10 Tf", f"72 {TOP} Td".encode(), f"{LEADING} TL".encode()]
    for n, line in enumerate(lines):
        if n:
            ops.append(b"T*")
        ops.append(b"(" + _escape(line) + b") Tj")
    ops.append(b"ET")
    return b"\n".join(ops)


def _image_only() -> bytes:
    # Filled rectangles: marks on the page, and no text anywhere.
    return b"0.2 g 72 600 200 100 re f 300 400 150 150 re f"


def pdf(
    pages: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    header: str | None = None,
    numbered: bool = False,
    compress: bool = True,
    text: bool = True,
) -> bytes:
    """A PDF with one page per item of `pages`, each a list of lines set top down in
    Helvetica; `header` on top of every page and page numbers at the foot when asked."""
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"",  # the page tree, once the pages are numbered
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    kids = []
    for number, lines in enumerate(pages, 1):
        shown = ([header, ""] if header else []) + list(lines)
        if numbered:
            shown += ["", str(number)]
        stream = _content(shown) if text else _image_only()
        extra = b""
        if compress:
            stream, extra = zlib.compress(stream), b" /Filter /FlateDecode"
        objects.append(
            b"<< /Length %d%s >>\nstream\n" % (len(stream), extra) + stream + b"\nendstream"
        )
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content_id
        )
        kids.append(b"%d 0 R" % len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(kids), len(kids))
    info = None
    if title is not None:
        objects.append(b"<< /Title (" + _escape(title) + b") >>")
        info = len(objects)
    return _assemble(objects, info)


def _assemble(objects: list[bytes], info: int | None) -> bytes:
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"/Size %d /Root 1 0 R" % (len(objects) + 1)
    if info is not None:
        trailer += b" /Info %d 0 R" % info
    out.write(b"trailer\n<< " + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def encrypted(document: bytes, *, user_password: str, owner_password: str = "owner") -> bytes:
    """The document protected with AES-128: `user_password` opens it ("" opens it for
    anyone, only restricting what a reader may do)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(document)))
    writer.encrypt(user_password, owner_password, algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
