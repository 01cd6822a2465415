"""Histogram data points as CloudWatch ``Values``/``Counts`` (at most 100 distinct values)."""

from __future__ import annotations

import math
from collections.abc import Sequence

MAX_VALUES = 100


def explicit_values(
    bounds: Sequence[float], counts: Sequence[float], lo: float | None, hi: float | None
) -> list[tuple[float, float]]:
    """One representative value per non-empty bucket: midpoints, the known min/max at the open ends."""
    out: list[tuple[float, float]] = []
    n = len(bounds)
    for i, count in enumerate(counts):
        if count <= 0:
            continue
        if n == 0:
            value = (lo + hi) / 2 if lo is not None and hi is not None else (lo if lo is not None else 0.0)
        elif i == 0:
            value = (lo + bounds[0]) / 2 if lo is not None and lo < bounds[0] else bounds[0]
        elif i >= n:
            value = (bounds[-1] + hi) / 2 if hi is not None and hi > bounds[-1] else bounds[-1]
        else:
            value = (bounds[i - 1] + bounds[i]) / 2
        out.append((value, count))
    return merge(out)


def exponential_values(
    scale: int,
    zero_count: float,
    positive: tuple[int, Sequence[float]],
    negative: tuple[int, Sequence[float]],
) -> list[tuple[float, float]]:
    base = 2.0 ** (2.0**-scale)
    out: list[tuple[float, float]] = []
    offset, counts = negative
    for i in reversed(range(len(counts))):
        if counts[i] > 0:
            lower = base ** (offset + i)
            out.append((-(lower + lower * base) / 2, counts[i]))
    if zero_count > 0:
        out.append((0.0, zero_count))
    offset, counts = positive
    for i, count in enumerate(counts):
        if count > 0:
            lower = base ** (offset + i)
            out.append(((lower + lower * base) / 2, count))
    return merge(out)


def merge(pairs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Merge neighbours (count-weighted) until at most ``MAX_VALUES`` remain."""
    while len(pairs) > MAX_VALUES:
        merged: list[tuple[float, float]] = []
        for i in range(0, len(pairs) - 1, 2):
            (v1, c1), (v2, c2) = pairs[i], pairs[i + 1]
            merged.append(((v1 * c1 + v2 * c2) / (c1 + c2), c1 + c2))
        if len(pairs) % 2:
            merged.append(pairs[-1])
        pairs = merged
    return [(v, c) for v, c in pairs if math.isfinite(v)]
