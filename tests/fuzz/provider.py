"""Structured values carved out of a flat byte string, so one fuzz input drives a whole scenario.

The same reader serves atheris (which mutates the bytes, guided by coverage) and the fallback
loop of random bytes used when atheris is not installed; it never raises on short input (it
pads with zeros), so every byte string is a valid scenario.
"""

from __future__ import annotations


class ByteReader:
    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def take(self, n: int) -> bytes:
        n = max(0, n)
        out = self._data[self._pos : self._pos + n]
        self._pos += len(out)
        return out

    def int(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]`` from as few bytes as the range needs."""
        span = hi - lo + 1
        width = max(1, (span - 1).bit_length() + 7 >> 3)
        return lo + int.from_bytes(self.take(width).ljust(width, b"\0"), "big") % span

    def choice(self, options: tuple) -> object:  # type: ignore[type-arg]
        return options[self.int(0, len(options) - 1)]

    def bytes(self, max_len: int) -> bytes:
        return self.take(self.int(0, max_len))

    def text(self, max_len: int) -> str:
        """Arbitrary text, lone surrogates included (what ``surrogateescape`` and bad callers produce)."""
        return self.bytes(max_len).decode("utf-8", "surrogateescape")

    def rest(self) -> bytes:
        return self.take(self.remaining())
