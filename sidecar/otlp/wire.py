"""Counting a request's items straight from its protobuf bytes, without decoding it.

Decoding builds one object per span, data point or log record however small its encoding:
an 8 MB body of 4 million empty spans (two bytes each) costs ~775 MB once decoded. Walking
the few outer levels of the wire format tells how many items a body holds, at no memory cost,
and :func:`count_items` stops as soon as it has seen more than ``limit``, so refusing a
hostile body costs at most ``limit`` steps.
"""

from __future__ import annotations

from collections.abc import Iterator

from sidecar.otlp.signals import Signal

__all__ = ["WireError", "count_items"]

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
#: Metric's data oneof (gauge, sum, histogram, exponential_histogram, summary): each holds data_points = 1.
_METRIC_DATA_FIELDS = frozenset({5, 7, 9, 10, 11})


class WireError(ValueError):
    """The bytes are not a well-formed protobuf encoding (the decoder would refuse them too)."""


def _varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise WireError("truncated varint")
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift >= 64:
            raise WireError("varint longer than 10 bytes")


def _len_fields(data: bytes, pos: int, end: int, wanted: frozenset[int]) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of every length-delimited field numbered in ``wanted`` in ``data[pos:end]``."""
    while pos < end:
        key, pos = _varint(data, pos, end)
        wire_type = key & 7
        if wire_type == _LEN:
            size, pos = _varint(data, pos, end)
            stop = pos + size
            if stop > end:
                raise WireError("length past the end of its message")
            if key >> 3 in wanted:
                yield pos, stop
            pos = stop
        elif wire_type == _VARINT:
            _, pos = _varint(data, pos, end)
        elif wire_type == _I64:
            pos += 8
        elif wire_type == _I32:
            pos += 4
        else:  # groups (proto2 only) and invalid wire types: no OTLP sender produces them
            raise WireError(f"unsupported wire type {wire_type}")
    if pos > end:
        raise WireError("fixed-width field past the end of its message")


def _count_field(data: bytes, pos: int, end: int, key_wanted: int, limit: int) -> int:
    """How many fields with key ``key_wanted`` (number << 3 | LEN) ``data[pos:end]`` holds, up to ``limit + 1``.

    The innermost loop of :func:`count_items`, written out flat (one-byte keys and lengths
    take the fast path) because it runs once per item.
    """
    n = 0
    while pos < end:
        key = data[pos]
        pos += 1
        if key >= 0x80:
            key, pos = _varint(data, pos - 1, end)
        wire_type = key & 7
        if wire_type == _LEN:
            if pos >= end:
                raise WireError("truncated length")
            size = data[pos]
            pos += 1
            if size >= 0x80:
                size, pos = _varint(data, pos - 1, end)
            pos += size
            if key == key_wanted:
                n += 1
                if n > limit:
                    return n
        elif wire_type == _VARINT:
            _, pos = _varint(data, pos, end)
        elif wire_type == _I64:
            pos += 8
        elif wire_type == _I32:
            pos += 4
        else:
            raise WireError(f"unsupported wire type {wire_type}")
    if pos > end:
        raise WireError("field past the end of its message")
    return n


_ONE = frozenset({1})
_TWO = frozenset({2})


def count_items(signal: Signal, data: bytes, limit: int) -> int:
    """Spans, data points or log records in an encoded ``Export*ServiceRequest``; at most ``limit + 1``.

    Counts what the decoder would build (repeated entries, including ones a later duplicate of a
    oneof would replace, so the count is an upper bound); raises :class:`WireError` on bytes the
    decoder would refuse on the way.
    """
    n = 0
    end = len(data)
    for r_start, r_end in _len_fields(data, 0, end, _ONE):  # resource_spans / _metrics / _logs
        for s_start, s_end in _len_fields(data, r_start, r_end, _TWO):  # scope_*
            if signal is Signal.METRICS:
                for m_start, m_end in _len_fields(data, s_start, s_end, _TWO):  # metrics
                    for d_start, d_end in _len_fields(data, m_start, m_end, _METRIC_DATA_FIELDS):
                        n += _count_field(data, d_start, d_end, 1 << 3 | _LEN, limit - n)  # data_points
                        if n > limit:
                            return n
            else:
                n += _count_field(data, s_start, s_end, 2 << 3 | _LEN, limit - n)  # spans / log_records
                if n > limit:
                    return n
    return n
