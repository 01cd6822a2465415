"""The attribute bytes of a serialized data point, found without building Python objects.

Reading a point's attributes through the protobuf API costs a wrapper object per ``KeyValue``
and per ``AnyValue``; serializing the point is one call into C. The series key only needs the
attributes' bytes, and protobuf writes fields in field-number order, so they are one contiguous
run that a short walk over the fields before them finds. Anything unexpected (multi-byte tags,
unknown wire types) returns ``None`` and the caller falls back to the protobuf API.
"""

from __future__ import annotations

import re
from collections.abc import Callable

#: Tag byte of the ``attributes`` field per data-point kind (field number << 3 | wire type 2).
ATTRIBUTE_TAG = {"sum": 0x3A, "gauge": 0x3A, "summary": 0x3A, "histogram": 0x4A, "exponential_histogram": 0x0A}
#: Kinds whose fields after ``attributes`` are only ``flags``: the rest of the bytes can be taken whole.
ONLY_FLAGS_AFTER = frozenset({"sum", "gauge", "summary"})


def _varint(b: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        c = b[i]
        i += 1
        value |= (c & 0x7F) << shift
        if c < 0x80:
            return value, i
        shift += 7


#: Leading fixed64 fields of a NumberDataPoint (start, time, as_double, as_int): skipped in one C call.
FIXED_PREFIX = re.compile(rb"(?:[\x11\x19\x21\x31].{8})*", re.DOTALL)


def attribute_bytes(b: bytes, tag: int, rest_is_flags: bool) -> bytes | None:
    """The serialized ``attributes`` entries (tags included) of a serialized data point."""
    n = len(b)
    i = FIXED_PREFIX.match(b).end()  # type: ignore[union-attr]
    if rest_is_flags and i < n and b[i] == tag:
        return b[i:]
    try:
        while i < n:
            t = b[i]
            if t == tag:
                break
            if t >= 0x80:
                return None
            wt = t & 7
            if wt == 1:
                i += 9
            elif wt == 5:
                i += 5
            elif wt == 0:
                _, i = _varint(b, i + 1)
            elif wt == 2:
                length, i = _varint(b, i + 1)
                i += length
            else:
                return None
        else:
            return b""
        if rest_is_flags:
            return b[i:]  # a trailing ``flags`` field becomes part of the key, harmlessly
        j = i
        while j < n and b[j] == tag:
            length, j = _varint(b, j + 1)
            j += length
        return b[i:j]
    except IndexError:
        return None


def varint_bytes(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def rewrite_string_values(
    ab: bytes, tag: int, keys: frozenset[bytes], rewrite: Callable[[str, str], str]
) -> bytes | None:
    """Attribute bytes with the string values of ``keys`` passed through ``rewrite(key, value)``.

    Returns ``None`` when nothing changed (the common case: the value was already normal).
    """
    out: list[bytes] = []
    changed = False
    i, n = 0, len(ab)
    try:
        while i < n:
            if ab[i] != tag:
                out.append(ab[i:])  # trailing non-attribute fields (flags)
                break
            length, j = _varint(ab, i + 1)
            end = j + length
            if ab[j] == 0x0A:
                klen, k = _varint(ab, j + 1)
                key = ab[k : k + klen]
                p = k + klen
                if key in keys and p < end and ab[p] == 0x12:
                    vlen, q = _varint(ab, p + 1)
                    if q + vlen == end and vlen and ab[q] == 0x0A:
                        slen, r = _varint(ab, q + 1)
                        if r + slen == end:
                            text = ab[r:end].decode("utf-8", "replace")
                            new = rewrite(key.decode(), text)
                            if new != text:
                                s = new.encode()
                                value = b"\x0a" + varint_bytes(len(s)) + s
                                kv = ab[j:p] + b"\x12" + varint_bytes(len(value)) + value
                                out.append(bytes([tag]) + varint_bytes(len(kv)) + kv)
                                changed = True
                                i = end
                                continue
            out.append(ab[i:end])
            i = end
    except IndexError:
        return None
    return b"".join(out) if changed else None
