"""gzip through ISA-L where installed, zlib otherwise: the bytes are valid gzip either way."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.otlp import compression
from sidecar.receivers.body import BadEncoding, BodyTooLarge, BoundedInflater, inflate_bounded

isal = pytest.importorskip("isal", reason="the isal wheel is not available on this platform")


def spans_like_body(n: int = 20_000) -> bytes:
    """Compressible but not trivial bytes, like an OTLP body: repeated keys, random ids."""
    rnd = random.Random(3)
    parts = []
    for i in range(n // 64):
        parts.append(b"\x0a\x10" + rnd.randbytes(16) + b"http.request.method\x12\x03GET url.path /api/items/%d" % i)
    return b"".join(parts)


def test_isal_is_the_backend_when_installed() -> None:
    assert compression.USE_ISAL
    assert compression.backend() == "isal"


@pytest.mark.parametrize("use_isal", [True, False], ids=["isal", "zlib-fallback"])
@pytest.mark.parametrize("level", [1, 5, 9])
def test_gzip_bytes_is_valid_gzip_for_the_stdlib(
    use_isal: bool, level: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compression, "USE_ISAL", use_isal)
    body = spans_like_body()
    packed = compression.gzip_bytes(body, level)
    assert packed[:2] == b"\x1f\x8b"
    assert gzip.decompress(packed) == body
    assert zlib.decompress(packed, 16 + zlib.MAX_WBITS) == body
    assert len(packed) < len(body) // 2
    assert compression.gzip_bytes(body, level) == packed  # deterministic: no mtime, no name


def test_isal_level_one_keeps_the_size_of_zlib_level_one(monkeypatch: pytest.MonkeyPatch) -> None:
    body = spans_like_body()
    fast = compression.gzip_bytes(body, 1)
    monkeypatch.setattr(compression, "USE_ISAL", False)
    assert len(fast) <= len(compression.gzip_bytes(body, 1)) * 1.05
    assert [compression.isal_level(n) for n in range(1, 10)] == [1, 1, 1, 2, 2, 2, 3, 3, 3]


@pytest.mark.parametrize("use_isal", [True, False], ids=["isal", "zlib-fallback"])
def test_the_receiver_inflates_what_either_backend_and_the_stdlib_compress(
    use_isal: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = spans_like_body()
    bodies = [gzip.compress(body, 6), compression.gzip_bytes(body, 1)]
    monkeypatch.setattr(compression, "USE_ISAL", not use_isal)
    bodies.append(compression.gzip_bytes(body, 1))
    monkeypatch.setattr(compression, "USE_ISAL", use_isal)
    for packed in bodies:
        inflater = BoundedInflater("gzip", len(body))
        for i in range(0, len(packed), 1000):  # as the network hands it over: in chunks
            inflater.feed(packed[i : i + 1000])
        assert inflater.finish() == body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    encoding=st.sampled_from(["gzip", "deflate"]),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(1, 255)), max_size=4),
    cut=st.integers(0, 10_000),
    use_isal=st.booleans(),
)
def test_a_damaged_body_is_refused_as_such_by_either_backend(
    encoding: str, flips: list[tuple[int, int]], cut: int, use_isal: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Flipped bits, truncation, garbage: the receiver answers 400 or 413, never an unexpected error."""
    monkeypatch.setattr(compression, "USE_ISAL", use_isal)
    body = spans_like_body(4000)
    packed = bytearray(gzip.compress(body) if encoding == "gzip" else zlib.compress(body))
    for pos, mask in flips:
        packed[pos % len(packed)] ^= mask
    try:
        out = inflate_bounded(bytes(packed[: max(cut, 1)] if cut < len(packed) else packed), encoding, 8000)
    except (BadEncoding, BodyTooLarge):
        return
    assert len(out) <= 8000
