"""Content decoding with the size cap applied to what every layer produces.

httpx hands each decoder the whole output of the one before it, so `Content-Encoding:
gzip, gzip` lets a 2 KB response expand to gigabytes inside one call, before any cap can
look at it. Here each layer inflates at most `PIECE` bytes at a time and counts its output,
so no layer ever holds more than the cap.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from tracker.errors import FetchError

PIECE = 64 * 1024
ACCEPT_ENCODING = "gzip, deflate"


class TooLargeError(FetchError):
    """A response (or one of its decoding layers) grew past the cap."""


class _Inflater:
    """One gzip or deflate layer."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._zlib: zlib._Decompress | None = None
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)

    def _start(self, data: bytes) -> zlib._Decompress:
        # "deflate" is zlib-wrapped by the standard and raw deflate by many servers.
        wrapped = zlib.decompressobj()
        try:
            wrapped.decompress(data[:2])
        except zlib.error:
            return zlib.decompressobj(-zlib.MAX_WBITS)
        return zlib.decompressobj()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            self._zlib = self._start(data)
        pending = data
        try:
            while pending:
                piece = self._zlib.decompress(pending, PIECE)
                pending = self._zlib.unconsumed_tail
                if piece:
                    yield piece
                if self._zlib.eof:
                    return
        except zlib.error as exc:
            raise FetchError(f"cannot decode the {self.encoding} response: {exc}") from None

    def flush(self) -> Iterator[bytes]:
        if self._zlib is None:
            return
        try:
            tail = self._zlib.flush()
        except zlib.error as exc:
            raise FetchError(f"cannot decode the {self.encoding} response: {exc}") from None
        for start in range(0, len(tail), PIECE):
            yield tail[start : start + PIECE]


def layers(content_encoding: str | None) -> list[_Inflater]:
    """The decoders for a Content-Encoding header, outermost last (as applied by the server)."""
    names = [name.strip().lower() for name in (content_encoding or "").split(",") if name.strip()]
    names = [name for name in names if name != "identity"]
    unknown = [name for name in names if name not in ("gzip", "x-gzip", "deflate")]
    if unknown:
        raise FetchError(f"unsupported Content-Encoding: {unknown[0][:40]}")
    return [_Inflater(name) for name in names]


def decode(raw: Iterable[bytes], content_encoding: str | None, *, cap: int) -> Iterator[bytes]:
    """The decoded body, piece by piece; TooLargeError once any layer exceeds `cap` bytes."""
    stream: Iterator[bytes] = _counted(iter(raw), cap)
    for layer in reversed(layers(content_encoding)):
        stream = _counted(_through(layer, stream), cap)
    return stream


def _through(layer: _Inflater, stream: Iterator[bytes]) -> Iterator[bytes]:
    for data in stream:
        yield from layer.feed(data)
    yield from layer.flush()


def _counted(stream: Iterator[bytes], cap: int) -> Iterator[bytes]:
    size = 0
    for piece in stream:
        size += len(piece)
        if size > cap:
            raise TooLargeError(f"response larger than {cap // 1024 // 1024 or 1} MiB")
        yield piece
