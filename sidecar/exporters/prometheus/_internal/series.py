"""The current value of one Prometheus series, and how OTLP points update it.

Cumulative points replace the state (a later start time is a reset, which Prometheus
detects from the value going down). Delta points are added to the state, which turns them
into a cumulative series whose start time is the first delta's start; a delta that overlaps
what is already counted (a re-sent batch) is refused rather than counted twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    ExponentialHistogramDataPoint,
    HistogramDataPoint,
    NumberDataPoint,
    SummaryDataPoint,
)

from sidecar.exporters.prometheus._internal.labels import Labels
from sidecar.pipeline.telemetry import escape_label_value

#: Exponential histograms are rendered as classic buckets; more than this many buckets are merged
#: (the scale lowered) so one series cannot produce an unbounded number of lines.
MAX_EXPONENTIAL_BUCKETS = 160


class Refused(Exception):
    """A point that cannot be merged; ``reason`` labels the dropped-points counter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def label_text(labels: Labels) -> str:
    """``a="1",b="2"`` (no braces), escaped for both text formats."""
    return ",".join(f'{k}="{escape_label_value(v)}"' for k, v in labels)


def _check_order(series: Series, start_ns: int, time_ns: int, delta: bool) -> bool:
    """True when the point starts a new accumulation (a reset); raises for stale or overlapping points."""
    if time_ns and series.time_ns and time_ns < series.time_ns:
        raise Refused("out_of_order")
    if delta:
        if start_ns and start_ns < series.time_ns:
            raise Refused("delta_overlap")
        return False
    return bool(start_ns and series.start_ns and start_ns > series.start_ns)


class Series:
    """State shared by every series kind: identity, start time and last update."""

    __slots__ = ("labels", "resource", "seen", "start_ns", "text", "time_ns")

    def __init__(self, labels: Labels, resource: int, seen: float) -> None:
        self.labels = labels
        self.text = label_text(labels)
        self.start_ns = 0
        self.time_ns = 0
        self.seen = seen
        #: Which resource last wrote here; a different one means two resources share labels.
        self.resource = resource


class NumberSeries(Series):
    __slots__ = ("value",)

    def __init__(self, labels: Labels, resource: int, seen: float) -> None:
        super().__init__(labels, resource, seen)
        self.value = 0.0

    def merge(self, p: NumberDataPoint, *, delta: bool, new: bool) -> None:
        v = float(p.as_double) if p.WhichOneof("value") == "as_double" else float(p.as_int)
        start, t = p.start_time_unix_nano, p.time_unix_nano
        if new:
            self.value, self.start_ns = v, start or (t if delta else 0)
        elif _check_order(self, start, t, delta):
            self.value, self.start_ns = v, start
        elif delta:
            self.value += v
        else:
            self.value = v
            if start:
                self.start_ns = start
        self.time_ns = t


@dataclass(slots=True)
class _Buckets:
    bounds: tuple[float, ...]
    counts: list[int]


class HistogramSeries(Series):
    """Classic buckets: ``bounds`` are upper bounds; ``counts`` has one more entry (the +Inf bucket)."""

    __slots__ = ("bounds", "count", "counts", "has_sum", "sum")

    def __init__(self, labels: Labels, resource: int, seen: float) -> None:
        super().__init__(labels, resource, seen)
        self.bounds: tuple[float, ...] = ()
        self.counts: list[int] = [0]
        self.sum = 0.0
        self.count = 0
        self.has_sum = True

    def merge(self, p: HistogramDataPoint, *, delta: bool, new: bool) -> None:
        bounds = tuple(p.explicit_bounds)
        counts = list(p.bucket_counts) or [0] * (len(bounds) + 1)
        if len(counts) != len(bounds) + 1:
            raise Refused("malformed")
        start, t = p.start_time_unix_nano, p.time_unix_nano
        # The sum is only meaningful to Prometheus when it cannot go down: no negative observations.
        has_sum = p.HasField("sum") and not (p.HasField("min") and p.min < 0)
        reset = new or _check_order(self, start, t, delta) or bounds != self.bounds
        if reset or not delta:
            self.bounds, self.counts = bounds, counts
            self.sum, self.count, self.has_sum = p.sum, p.count, has_sum
            if reset:
                self.start_ns = start or (t if delta else 0)
            elif start:
                self.start_ns = start
        else:
            self.counts = [a + b for a, b in zip(self.counts, counts, strict=True)]
            self.sum += p.sum
            self.count += p.count
            self.has_sum = self.has_sum and has_sum
        self.time_ns = t


class ExponentialHistogramSeries(Series):
    """Kept at its native scale (so deltas merge exactly) and rendered as classic buckets."""

    __slots__ = ("count", "has_sum", "negative", "positive", "scale", "sum", "zero_count", "zero_threshold")

    def __init__(self, labels: Labels, resource: int, seen: float) -> None:
        super().__init__(labels, resource, seen)
        self.scale = 0
        self.zero_count = 0
        self.zero_threshold = 0.0
        self.positive: dict[int, int] = {}
        self.negative: dict[int, int] = {}
        self.sum = 0.0
        self.count = 0
        self.has_sum = True

    @staticmethod
    def _dense(offset: int, counts: list[int]) -> dict[int, int]:
        return {offset + i: c for i, c in enumerate(counts) if c}

    @staticmethod
    def _downscale(buckets: dict[int, int], by: int) -> dict[int, int]:
        if by <= 0:
            return buckets
        out: dict[int, int] = {}
        for i, c in buckets.items():
            j = i >> by
            out[j] = out.get(j, 0) + c
        return out

    def merge(self, p: ExponentialHistogramDataPoint, *, delta: bool, new: bool) -> None:
        start, t = p.start_time_unix_nano, p.time_unix_nano
        pos = self._dense(p.positive.offset, list(p.positive.bucket_counts))
        neg = self._dense(p.negative.offset, list(p.negative.bucket_counts))
        has_sum = p.HasField("sum") and not neg and not (p.HasField("min") and p.min < 0)
        reset = new or _check_order(self, start, t, delta)
        if reset or not delta:
            self.scale, self.positive, self.negative = p.scale, pos, neg
            self.zero_count, self.zero_threshold = p.zero_count, p.zero_threshold
            self.sum, self.count, self.has_sum = p.sum, p.count, has_sum
            if reset:
                self.start_ns = start or (t if delta else 0)
            elif start:
                self.start_ns = start
        else:
            scale = min(self.scale, p.scale)
            self.positive = self._downscale(self.positive, self.scale - scale)
            self.negative = self._downscale(self.negative, self.scale - scale)
            for mine, theirs in ((self.positive, pos), (self.negative, neg)):
                for i, c in self._downscale(theirs, p.scale - scale).items():
                    mine[i] = mine.get(i, 0) + c
            self.scale = scale
            self.zero_count += p.zero_count
            self.zero_threshold = max(self.zero_threshold, p.zero_threshold)
            self.sum += p.sum
            self.count += p.count
            self.has_sum = self.has_sum and has_sum
        while len(self.positive) + len(self.negative) > MAX_EXPONENTIAL_BUCKETS:
            self.positive = self._downscale(self.positive, 1)
            self.negative = self._downscale(self.negative, 1)
            self.scale -= 1
        self.time_ns = t

    def classic(self) -> tuple[list[float], list[int]]:
        """Upper bounds and cumulative counts, ascending, ending with +Inf.

        Bucket ``i`` at scale ``s`` holds ``(base**i, base**(i+1)]`` with ``base = 2**(2**-s)``;
        negative buckets mirror that below zero, and the zero bucket ends at the zero threshold.
        """
        base = 2.0 ** (2.0**-self.scale)
        bounds: list[float] = []
        cumulative: list[int] = []
        running = 0
        for i in sorted(self.negative, reverse=True):
            # Negative bucket i holds [-base**(i+1), -base**i): its upper bound is -base**i.
            running += self.negative[i]
            bounds.append(-_pow(base, i))
            cumulative.append(running)
        running += self.zero_count
        if self.zero_count or not bounds:
            bounds.append(self.zero_threshold)
            cumulative.append(running)
        for i in sorted(self.positive):
            running += self.positive[i]
            bounds.append(_pow(base, i + 1))
            cumulative.append(running)
        bounds.append(math.inf)
        cumulative.append(max(self.count, running))
        return bounds, cumulative


def _pow(base: float, exponent: int) -> float:
    try:
        return base**exponent
    except OverflowError:
        return math.inf


class SummarySeries(Series):
    __slots__ = ("count", "quantiles", "sum")

    def __init__(self, labels: Labels, resource: int, seen: float) -> None:
        super().__init__(labels, resource, seen)
        self.quantiles: list[tuple[float, float]] = []
        self.sum = 0.0
        self.count = 0

    def merge(self, p: SummaryDataPoint, *, delta: bool, new: bool) -> None:
        # Summaries are always cumulative in OTLP.
        start, t = p.start_time_unix_nano, p.time_unix_nano
        if not new:
            _check_order(self, start, t, False)
        self.quantiles = sorted((q.quantile, q.value) for q in p.quantile_values)
        self.sum, self.count = p.sum, p.count
        if start or new:
            self.start_ns = start
        self.time_ns = t
