"""Bounded decompression: the limit holds after inflating, and a gzip bomb costs no memory."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import Iterator

import pytest

from sidecar.otlp import compression
from sidecar.receivers.body import BadEncoding, BodyTooLarge, inflate_bounded

BACKENDS = ["isal", "zlib"] if compression.USE_ISAL else ["zlib"]


@pytest.fixture(autouse=True, params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Every test here runs on each inflater the receiver may use: ISA-L's and zlib's (the fallback)."""
    monkeypatch.setattr(compression, "USE_ISAL", request.param == "isal")
    assert compression.backend() == request.param
    yield request.param


def gzip_bomb(inflated_bytes: int) -> bytes:
    """Concatenated gzip members of 1 MiB of zeros each: valid gzip, cheap to build, ~1000:1."""
    return gzip.compress(b"\0" * (1 << 20), 9) * (inflated_bytes >> 20)


def test_identity_gzip_deflate_round_trip() -> None:
    body = b"x" * 5000
    assert inflate_bounded(body, "identity", 10_000) == body
    assert inflate_bounded(gzip.compress(body), "gzip", 10_000) == body
    assert inflate_bounded(zlib.compress(body), "deflate", 10_000) == body
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert inflate_bounded(raw.compress(body) + raw.flush(), "deflate", 10_000) == body
    assert inflate_bounded(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip", 100) == b"abcd"


def test_limit_applies_after_decompression() -> None:
    body = b"y" * 10_001
    with pytest.raises(BodyTooLarge):
        inflate_bounded(gzip.compress(body), "gzip", 10_000)
    assert len(inflate_bounded(gzip.compress(body[:10_000]), "gzip", 10_000)) == 10_000


def test_gzip_bomb_is_refused_without_inflating_it() -> None:
    bomb = gzip_bomb(1 << 30)  # 1 GiB of zeros in about 1 MiB
    assert len(bomb) < 2 << 20
    tracemalloc.start()
    try:
        with pytest.raises(BodyTooLarge):
            inflate_bounded(bomb, "gzip", 8 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 24 << 20, f"peak {peak} bytes while refusing a bomb"


def test_corrupt_truncated_and_unknown_encodings() -> None:
    with pytest.raises(BadEncoding):
        inflate_bounded(b"not gzip at all", "gzip", 1000)
    with pytest.raises(BadEncoding):
        inflate_bounded(gzip.compress(b"z" * 1000)[:-12], "gzip", 10_000)
    with pytest.raises(BadEncoding, match="unsupported"):
        inflate_bounded(b"x", "br", 1000)
