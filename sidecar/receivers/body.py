"""Reading a request body within a size limit that holds *after* decompression.

The limit is enforced while inflating, chunk by chunk, so a gzip bomb is refused after at
most ``limit`` bytes of output: it never costs more memory than an honest request would.
"""

from __future__ import annotations

from sidecar.otlp import compression
from sidecar.otlp.compression import Decompressor

#: Inflate at most this much per step, so one small compressed chunk cannot expand unboundedly.
_STEP = 256 * 1024


class BodyTooLarge(Exception):
    """The (decompressed) body exceeds the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes (after decompression)")
        self.limit = limit


class BadEncoding(Exception):
    """The body claims a content encoding it does not have, or one we do not speak."""


def decompressor(encoding: str, head: bytes = b"") -> Decompressor | None:
    """A decompressor for ``encoding`` (ISA-L's when installed, else zlib's); ``head`` (the first body
    bytes) tells zlib-wrapped from raw deflate."""
    enc = encoding.strip().lower()
    if enc in ("", "identity"):
        return None
    if enc in ("gzip", "x-gzip"):
        return compression.decompressobj(compression.GZIP_WBITS)
    if enc == "deflate":
        # RFC 9110's "deflate" is zlib-wrapped, but raw deflate is common in the wild: accept both.
        zlib_wrapped = len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
        wbits = compression.MAX_WBITS
        return compression.decompressobj(wbits if zlib_wrapped or len(head) < 2 else -wbits)
    raise BadEncoding(f"unsupported Content-Encoding {encoding!r}; use gzip, deflate or identity")


class BoundedInflater:
    """Collects body bytes (compressed or not) and refuses to hold more than ``limit`` bytes of output."""

    def __init__(self, encoding: str, limit: int) -> None:
        self._encoding = encoding
        self._z = decompressor(encoding)
        self._started = False
        self._limit = limit
        self._raw = 0
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        self._raw += len(chunk)
        if self._raw > self._limit:
            raise BodyTooLarge(self._limit)
        if self._z is None:
            self._add(chunk)
            return
        if not self._started:
            self._started = True
            self._z = decompressor(self._encoding, chunk[:2])
        data = chunk
        while data and self._z is not None:
            try:
                out = self._z.decompress(data, min(_STEP, self._limit - self._size + 1))
            except compression.ERRORS as exc:
                raise BadEncoding(f"corrupt compressed body: {exc}") from None
            self._add(out)
            data = self._z.unconsumed_tail
            if self._z.eof:
                # Concatenated gzip members are one valid body: start on the next member.
                data = self._z.unused_data
                if data:
                    self._z = decompressor(self._encoding, data[:2])

    def finish(self) -> bytes:
        if self._z is not None:
            if not self._z.eof:
                raise BadEncoding("truncated compressed body")
            self._add(self._z.flush())
        return b"".join(self._parts)

    def _add(self, data: bytes) -> None:
        if not data:
            return
        self._size += len(data)
        if self._size > self._limit:
            self._parts.clear()
            raise BodyTooLarge(self._limit)
        self._parts.append(data)


def inflate_bounded(data: bytes, encoding: str, limit: int) -> bytes:
    inflater = BoundedInflater(encoding, limit)
    inflater.feed(data)
    return inflater.finish()
