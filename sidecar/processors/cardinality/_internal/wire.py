"""The attribute bytes of a serialized data point, found without building Python objects.

Reading a point's attributes through the protobuf API costs a wrapper object per ``KeyValue``
and per ``AnyValue``; serializing the point is one call into C. The series key only needs the
attributes' bytes, and protobuf writes fields in field-number order, so they are one contiguous
run that a short walk over the fields before them finds. Anything unexpected (multi-byte tags,
unknown wire types) returns ``None`` and the caller falls back to the protobuf API.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable

from ecs_otel.otlp.wire import read_varint, varint

#: Tag byte of the ``attributes`` field per data-point kind (field number << 3 | wire type 2).
ATTRIBUTE_TAG = {"sum": 0x3A, "gauge": 0x3A, "summary": 0x3A, "histogram": 0x4A, "exponential_histogram": 0x0A}
#: Kinds whose fields after ``attributes`` are only ``flags``: the rest of the bytes can be taken whole.
ONLY_FLAGS_AFTER = frozenset({"sum", "gauge", "summary"})


#: Leading fixed64 fields of a NumberDataPoint (start, time, as_double, as_int): skipped in one C call.
_DOUBLE = struct.Struct("<d")
FIXED_PREFIX = re.compile(rb"(?:[\x11\x19\x21\x31].{8})*", re.DOTALL)


def attribute_span(b: bytes, tag: int, rest_is_flags: bool) -> tuple[int, int] | None:
    """Where the ``attributes`` entries (tags included) of a serialized data point start and end.

    ``None`` only for bytes that are not a well-formed message.
    """
    n = len(b)
    i = FIXED_PREFIX.match(b).end()  # type: ignore[union-attr]
    try:
        while i < n:
            if b[i] == tag:
                break
            t, i = read_varint(b, i)
            wt = t & 7
            if wt == 1:
                i += 8
            elif wt == 5:
                i += 4
            elif wt == 0:
                _, i = read_varint(b, i)
            elif wt == 2:
                length, i = read_varint(b, i)
                i += length
            else:
                return None
        else:
            return (n, n)
        if rest_is_flags:
            return (i, n)  # a trailing ``flags`` field becomes part of the key, harmlessly
        j = i
        while j < n and b[j] == tag:
            length, j = read_varint(b, j + 1)
            j += length
        return (i, j)
    except IndexError:
        return None


_HEAD_INT = struct.Struct("<xQxQxq")
_HEAD_DOUBLE = struct.Struct("<xQxQxd")


def fixed_fields(b: bytes) -> tuple[int, int, int | None, float | None]:
    """(start, time, as_int, as_double) from the fixed64 fields at the head of a NumberDataPoint."""
    if len(b) >= 27 and b[0] == 0x11 and b[9] == 0x19:  # the usual layout: one struct call
        t = b[18]
        if t == 0x31:
            start, time, v = _HEAD_INT.unpack_from(b)
            return start, time, v, None
        if t == 0x21:
            start, time, d = _HEAD_DOUBLE.unpack_from(b)
            return start, time, None, d
    start = time = 0
    as_int: int | None = None
    as_double: float | None = None
    end = FIXED_PREFIX.match(b).end()  # type: ignore[union-attr]
    for j in range(0, end, 9):
        t = b[j]
        if t == 0x31:
            as_int = int.from_bytes(b[j + 1 : j + 9], "little", signed=True)
        elif t == 0x21:
            as_double = _DOUBLE.unpack_from(b, j + 1)[0]
        elif t == 0x19:
            time = int.from_bytes(b[j + 1 : j + 9], "little")
        else:
            start = int.from_bytes(b[j + 1 : j + 9], "little")
    return start, time, as_int, as_double


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
            length, j = read_varint(ab, i + 1)
            end = j + length
            if ab[j] == 0x0A:
                klen, k = read_varint(ab, j + 1)
                key = ab[k : k + klen]
                p = k + klen
                if key in keys and p < end and ab[p] == 0x12:
                    vlen, q = read_varint(ab, p + 1)
                    if q + vlen == end and vlen and ab[q] == 0x0A:
                        slen, r = read_varint(ab, q + 1)
                        if r + slen == end:
                            text = ab[r:end].decode("utf-8", "replace")
                            new = rewrite(key.decode(), text)
                            if new != text:
                                s = new.encode()
                                value = b"\x0a" + varint(len(s)) + s
                                kv = ab[j:p] + b"\x12" + varint(len(value)) + value
                                out.append(bytes([tag]) + varint(len(kv)) + kv)
                                changed = True
                                i = end
                                continue
            out.append(ab[i:end])
            i = end
    except IndexError:
        return None
    return b"".join(out) if changed else None
