"""Folding overflowed points into one ``otel.metric.overflow=true`` point, conserving sums and counts.

Delta points add up within a batch (sum, count, bucket counts; exponential histograms are merged
at the coarser scale). Cumulative points cannot simply be added: each overflowed series is
tracked with its own start time and last value, and contributes its *increase* to one overflow
series that accumulates from then on. A series seen for the first time, or one whose start time
changed or whose monotonic value went back (a reset), contributes its full value. So at any
moment the overflow series equals everything the overflowed series ever counted while folded,
and the exported series together add up to the input.

Gauges have nothing to conserve: the overflow point carries the latest overflowed value.
Summaries conserve count and sum; their quantiles are dropped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import KeyValue

OVERFLOW_KEY = "otel.metric.overflow"
#: Most buckets the merged exponential histogram keeps per sign (the SDK default).
MAX_EXP_BUCKETS = 160


def overflow_attribute() -> KeyValue:
    kv = KeyValue(key=OVERFLOW_KEY)
    kv.value.bool_value = True
    return kv


def vector(kind: str, dp: Any) -> tuple[list[float], tuple[float, ...] | None]:
    """The additive parts of a point and, for histograms, its bucket boundaries."""
    if kind == "sum":
        return [dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double], None
    if kind == "histogram":
        return [dp.count, dp.sum, *dp.bucket_counts], tuple(dp.explicit_bounds)
    return [dp.count, dp.sum], None  # summary


def _span(points: Sequence[Any]) -> tuple[int, int]:
    return min(p.start_time_unix_nano for p in points), max(p.time_unix_nano for p in points)


def fold_delta(kind: str, points: Sequence[Any], out: Any) -> int:
    """Write into ``out`` the sum of delta ``points``; returns how many could not be folded."""
    out.start_time_unix_nano, out.time_unix_nano = _span(points)
    out.attributes.append(overflow_attribute())
    if kind == "sum":
        # An unset oneof member reads as 0, so both sums can be taken without asking which is set.
        total_int = sum([p.as_int for p in points])
        doubles = [p.as_double for p in points]
        if any(doubles) or any(p.WhichOneof("value") == "as_double" for p in points[:1]):
            out.as_double = math.fsum(doubles) + total_int
        else:
            out.as_int = total_int
        return 0
    if kind == "histogram":
        bounds = tuple(points[0].explicit_bounds)
        same = [p for p in points if tuple(p.explicit_bounds) == bounds]
        out.explicit_bounds.extend(bounds)
        counts = [0] * (len(bounds) + 1)
        for p in same:
            for i, c in enumerate(p.bucket_counts):
                counts[i] += c
        out.bucket_counts.extend(counts)
        out.count = sum(p.count for p in same)
        out.sum = sum(p.sum for p in same)
        mins = [p.min for p in same if p.HasField("min")]
        maxs = [p.max for p in same if p.HasField("max")]
        if mins:
            out.min = min(mins)
        if maxs:
            out.max = max(maxs)
        return len(points) - len(same)
    if kind == "exponential_histogram":
        merge_exponential(points, out)
        return 0
    raise ValueError(kind)


def merge_exponential(points: Sequence[Any], out: Any) -> None:
    """Exponential histograms merged exactly in count and sum, at the coarsest scale needed."""
    scale = min(p.scale for p in points)
    pos: dict[int, int] = {}
    neg: dict[int, int] = {}
    for p in points:
        shift = p.scale - scale
        for side, acc in ((p.positive, pos), (p.negative, neg)):
            for i, c in enumerate(side.bucket_counts):
                if c:
                    idx = (side.offset + i) >> shift
                    acc[idx] = acc.get(idx, 0) + c
    while any(acc and max(acc) - min(acc) + 1 > MAX_EXP_BUCKETS for acc in (pos, neg)):
        scale -= 1
        pos = _halve(pos)
        neg = _halve(neg)
    out.scale = scale
    out.count = sum(p.count for p in points)
    out.sum = sum(p.sum for p in points)
    out.zero_count = sum(p.zero_count for p in points)
    out.zero_threshold = max(p.zero_threshold for p in points)
    for side, acc in ((out.positive, pos), (out.negative, neg)):
        if acc:
            lo = min(acc)
            side.offset = lo
            side.bucket_counts.extend(acc.get(i, 0) for i in range(lo, max(acc) + 1))
    mins = [p.min for p in points if p.HasField("min")]
    maxs = [p.max for p in points if p.HasField("max")]
    if mins:
        out.min = min(mins)
    if maxs:
        out.max = max(maxs)


def _halve(acc: dict[int, int]) -> dict[int, int]:
    out: dict[int, int] = {}
    for i, c in acc.items():
        out[i >> 1] = out.get(i >> 1, 0) + c
    return out


@dataclass(slots=True)
class _Tracked:
    start_ns: int
    values: list[float]
    last_seen: float


@dataclass
class CumulativeOverflow:
    """The overflow series of one metric and resource, fed by cumulative points."""

    kind: str
    monotonic: bool
    start_ns: int = 0
    bounds: tuple[float, ...] | None = None
    total: list[float] = field(default_factory=list)
    series: dict[int, _Tracked] = field(default_factory=dict)
    last_time_ns: int = 0

    def add(self, key: int, dp: Any, now: float) -> bool:
        """Fold one point; ``False`` when its shape does not match (other bucket boundaries)."""
        values, bounds = vector(self.kind, dp)
        if not self.total:
            self.total = [0] * len(values)
            self.bounds = bounds
            self.start_ns = dp.start_time_unix_nano
        elif bounds != self.bounds or len(values) != len(self.total):
            return False
        prev = self.series.get(key)
        start = dp.start_time_unix_nano
        if prev is None or prev.start_ns != start or (
            self.monotonic and any(v < p for v, p in zip(values, prev.values, strict=True))
        ):
            contrib = values
        else:
            contrib = [v - p for v, p in zip(values, prev.values, strict=True)]
        total = self.total
        for i, c in enumerate(contrib):
            total[i] += c
        if prev is None:
            self.series[key] = _Tracked(start, values, now)
        else:
            prev.start_ns, prev.values, prev.last_seen = start, values, now
        self.last_time_ns = max(self.last_time_ns, dp.time_unix_nano)
        return True

    def tracks(self, key: int) -> bool:
        return key in self.series

    def expire(self, older_than: float) -> int:
        gone = [k for k, t in self.series.items() if t.last_seen < older_than]
        for k in gone:
            del self.series[k]
        return len(gone)

    def write(self, out: Any, int_sum: bool) -> None:
        out.start_time_unix_nano = self.start_ns
        out.time_unix_nano = self.last_time_ns
        out.attributes.append(overflow_attribute())
        t = self.total
        if self.kind == "sum":
            if int_sum:
                out.as_int = int(t[0])
            else:
                out.as_double = float(t[0])
        elif self.kind == "histogram":
            out.count = int(t[0])
            out.sum = float(t[1])
            out.explicit_bounds.extend(self.bounds or ())
            out.bucket_counts.extend(int(c) for c in t[2:])
        else:
            out.count = int(t[0])
            out.sum = float(t[1])
