"""Protocol-buffers wire primitives: just enough to write and walk OTLP messages without building objects.

The one varint reader and writer of the distribution: the library's span encoder writes with
them, the sidecar's cardinality processor reads serialized data points with them.

Building ``opentelemetry.proto`` message objects field by field costs more than creating the spans
themselves; writing the bytes directly is several times cheaper and yields the same message.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from ecs_otel.memo import Memo

pack_double = struct.Struct("<d").pack
pack_fixed64 = struct.Struct("<Q").pack
pack_fixed32 = struct.Struct("<I").pack

_SMALL = [bytes([i]) for i in range(128)]


def varint(n: int) -> bytes:
    if 0 <= n < 128:
        return _SMALL[n]
    if n < 0:
        n += 1 << 64  # int64 two's complement, ten bytes
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varint(b: bytes, i: int) -> tuple[int, int]:
    """The varint starting at ``b[i]`` and the index just past it (IndexError on a truncated one)."""
    shift = value = 0
    while True:
        c = b[i]
        i += 1
        value |= (c & 0x7F) << shift
        if c < 0x80:
            return value, i
        shift += 7


def field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: ``tag`` is the already-encoded key byte(s)."""
    return tag + varint(len(payload)) + payload


_KEY_CACHE: dict[str, bytes] = {}
_KEY_CACHE_MAX = 4096  # bounded: attribute keys are few; values are never cached


def _key(key: str) -> bytes:
    cached = _KEY_CACHE.get(key)
    if cached is None:
        cached = field(b"\x0a", key.encode("utf-8", "surrogatepass"))
        if len(_KEY_CACHE) < _KEY_CACHE_MAX:
            _KEY_CACHE[key] = cached
    return cached


def any_value(value: Any) -> bytes:
    """The body of an ``AnyValue`` message."""
    if value is None:
        return b""
    if value is True:
        return b"\x10\x01"
    if value is False:
        return b"\x10\x00"
    t = type(value)
    if t is str:
        return field(b"\x0a", value.encode("utf-8", "surrogatepass"))
    if t is int:
        return b"\x18" + varint(value)
    if t is float:
        return b"\x21" + pack_double(value)
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return field(b"\x0a", value.encode("utf-8", "surrogatepass"))
    if isinstance(value, int):
        return b"\x18" + varint(int(value))
    if isinstance(value, float):
        return b"\x21" + pack_double(value)
    if isinstance(value, bytes):
        return field(b"\x3a", value)
    if isinstance(value, Sequence):
        return field(b"\x2a", b"".join(field(b"\x0a", any_value(v)) for v in value))
    if isinstance(value, Mapping):
        return field(b"\x32", b"".join(field(b"\x0a", key_value(str(k), v)) for k, v in value.items()))
    raise TypeError(f"cannot encode attribute value of type {t.__name__}")


def key_value(key: str, value: Any) -> bytes:
    return _key(key) + field(b"\x12", any_value(value))


#: Encoded (tag, key, type, value) pairs: spans of one service repeat most of their attribute
#: values (method, scheme, host, status …). Bounded; cleared when full.
_KV_CACHE: Memo[tuple[bytes, str, type, Any], bytes] = Memo("library.encoded_attributes", 4096)
_KV_CACHEABLE_LEN = 256


def attributes(tag: bytes, attrs: Mapping[str, Any] | None) -> bytes:
    """Repeated ``KeyValue`` under field ``tag``; a value that cannot be encoded is skipped."""
    if not attrs:
        return b""
    inner = getattr(attrs, "_dict", None)  # BoundedAttributes: iterate its dict, not the locked view
    if type(inner) is dict:
        attrs = inner
    parts = []
    cache = _KV_CACHE.data
    for k, v in attrs.items():
        t = type(v)
        if t is int or t is bool or (t is str and len(v) <= _KV_CACHEABLE_LEN):
            ck = (tag, k, t, v)
            hit = cache.get(ck)
            if hit is None:
                hit = _KV_CACHE.put(ck, field(tag, key_value(k, v)))
            parts.append(hit)
            continue
        try:
            parts.append(field(tag, key_value(k, v)))
        except (TypeError, ValueError):
            continue
    return b"".join(parts)
