"""gzip and deflate for OTLP bodies: ISA-L (the ``isal`` package) where it is installed, zlib otherwise.

Compressing export bodies was the largest single cost in the sidecar's hot path: zlib at level 1
takes ~5x the CPU of ISA-L's level 1 on OTLP spans, for bodies of the same size. ISA-L's
inflater is faster too. Both speak the same formats (gzip, zlib-wrapped and raw deflate), so
which one runs is invisible on the wire. ``isal`` ships wheels for x86_64 and aarch64 (Graviton);
elsewhere the extra leaves it out and zlib does the work.

:data:`USE_ISAL` is read on every call, so tests can force the zlib path without uninstalling
anything.
"""

from __future__ import annotations

import zlib
from types import ModuleType
from typing import Protocol

_isal_zlib: ModuleType | None
try:
    from isal import isal_zlib as _isal_zlib
except ImportError:  # no wheel for this platform: zlib does everything
    _isal_zlib = None

#: Whether the ISA-L backend is used; ``False`` when ``isal`` is not installed. A switch, not a constant.
USE_ISAL: bool = _isal_zlib is not None

#: The exceptions a corrupt stream raises, whichever backend reads it.
ERRORS: tuple[type[Exception], ...] = (zlib.error,) + ((_isal_zlib.error,) if _isal_zlib is not None else ())

#: ``wbits`` for gzip framing (as zlib spells it); ``-MAX_WBITS`` is raw deflate, ``MAX_WBITS`` zlib-wrapped.
GZIP_WBITS = 16 + zlib.MAX_WBITS
MAX_WBITS = zlib.MAX_WBITS


class Decompressor(Protocol):
    """What :func:`decompressobj` returns: the part of zlib's ``Decompress`` that ISA-L's has too."""

    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    @property
    def unconsumed_tail(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int = 0, /) -> bytes: ...
    def flush(self, length: int = ..., /) -> bytes: ...


def backend() -> str:
    """``"isal"`` or ``"zlib"``: which library compresses and inflates now (shown in logs and tests)."""
    return "isal" if USE_ISAL and _isal_zlib is not None else "zlib"


def isal_level(level: int) -> int:
    """zlib's 1-9 scale onto ISA-L's 0-3: 1-3 → 1, 4-6 → 2, 7-9 → 3.

    ISA-L's level 0 is faster still but ~20 % larger on OTLP spans; its level 1 matches zlib's
    level 1 in size at a fifth of the CPU, so the default (1) keeps the bytes on the wire as they were.
    """
    return min(3, max(1, (level + 2) // 3))


def gzip_bytes(body: bytes, level: int) -> bytes:
    """gzip framing around one deflate pass (no filename, mtime 0: identical input, identical output)."""
    if USE_ISAL and _isal_zlib is not None:
        return bytes(_isal_zlib.compress(body, isal_level(level), GZIP_WBITS))
    c = zlib.compressobj(level, zlib.DEFLATED, GZIP_WBITS)
    return c.compress(body) + c.flush()


def decompressobj(wbits: int) -> Decompressor:
    """A streaming inflater for ``wbits`` (zlib's meaning), honouring ``max_length`` like zlib's."""
    if USE_ISAL and _isal_zlib is not None:
        d: Decompressor = _isal_zlib.decompressobj(wbits)
        return d
    return zlib.decompressobj(wbits)
