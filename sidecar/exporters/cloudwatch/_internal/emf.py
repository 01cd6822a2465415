"""OTLP metrics → Embedded Metric Format log events.

Points that share a resource, a timestamp and the same dimension values become one event
(at most 100 metrics each, as EMF requires per directive). Dimensions are the point's
attributes plus chosen resource attributes, or the declared dimension sets; roll-up adds
the zero- and single-dimension sets only when asked, because every set is billed as its own
metric.

Every event is valid by construction (see :mod:`.emf_rules`): names and values that CloudWatch would refuse
are repaired when their meaning survives, and otherwise left out and counted by reason in
:attr:`EmfStats.dropped` (points and metrics) and :attr:`EmfStats.repaired` (dimensions).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from sidecar.exporters.cloudwatch._internal import emf_rules
from sidecar.exporters.cloudwatch._internal.batching import LogEvent
from sidecar.exporters.cloudwatch._internal.delta import CumulativeToDelta
from sidecar.exporters.cloudwatch._internal.histogram import explicit_values, exponential_values
from sidecar.exporters.cloudwatch._internal.units import cloudwatch_unit
from sidecar.otlp.attributes import to_dict

MAX_METRICS_PER_DIRECTIVE = 100
MAX_DIMENSIONS_PER_SET = 30
CUMULATIVE = AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
Rollup = Literal["none", "zero", "single", "zero_and_single"]


@dataclass
class EmfStats:
    baselines: int = 0
    non_finite: int = 0
    dimensions_truncated: int = 0
    points: int = 0
    #: Points or metrics left out, by reason: non_finite (NaN/Inf value, sum, min or max), out_of_range
    #: (beyond ±2^360), inconsistent (the average outside [min, max]), invalid_point (a histogram no number
    #: can represent, e.g. an exponential scale that overflows), metric_name (empty or over 1,024 characters),
    #: name_conflict (a metric named like one of its dimensions), no_dimension_set (no declared set applies).
    dropped: Counter[str] = field(default_factory=Counter)
    #: Dimensions repaired or left out, by reason: escaped (non-ASCII or control characters), cut (over the
    #: length limit), empty_value (blank value: dimension left out), invalid_name (no usable name: left out).
    repaired: Counter[str] = field(default_factory=Counter)
    #: Histogram points without a sum, whose Sum was estimated from their bucket values.
    sums_estimated: int = 0


@dataclass
class _Group:
    timestamp_ms: int
    dimensions: dict[str, str]
    dimension_sets: list[list[str]]
    fields: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)


def _bound(p: Any, name: str) -> float | None:
    """A point's min or max when present and finite (a NaN bound says nothing)."""
    if not p.HasField(name):
        return None
    x = float(getattr(p, name))
    return x if math.isfinite(x) else None


def _key(d: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in d.items()))


def _dim_value(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")
    return orjson.dumps(v).decode()


class _Drop(Exception):
    """A point or metric that cannot become valid EMF; ``reason`` is counted."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


@dataclass
class EmfBuilder:
    namespace: str
    delta: CumulativeToDelta
    resource_dimensions: Sequence[str] = ("service.name",)
    dimension_sets: Sequence[Sequence[str]] = ()
    rollup: Rollup = "none"
    metric_names: Sequence[str] = ()
    histogram_format: Literal["values", "statistic_set"] = "values"
    #: Histograms published as statistic sets whatever ``histogram_format`` says (0/1 flags such as
    #: Application Signals' Error and Fault, whose bucket midpoints would misstate the values).
    statistic_set_metrics: frozenset[str] = frozenset()
    stats: EmfStats = field(default_factory=EmfStats)

    def __post_init__(self) -> None:
        self._selectors = [re.compile(p) for p in self.metric_names]

    def build(self, request: ExportMetricsServiceRequest, now_ms: int) -> list[LogEvent]:
        events: list[LogEvent] = []
        for rm in request.resource_metrics:
            resource = to_dict(rm.resource.attributes)
            rkey = _key(resource)
            groups: dict[tuple[Any, ...], _Group] = {}
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if self._selectors and not any(s.search(metric.name) for s in self._selectors):
                        continue
                    for attrs, ts_ms, value in self._points(metric, rkey, now_ms):
                        self._add(groups, resource, attrs, ts_ms, metric, value)
            for group in groups.values():
                events.extend(self._encode(group))
        events.sort(key=lambda e: e.timestamp_ms)
        return events

    # -- points -------------------------------------------------------------------------------

    def _points(self, metric: Metric, rkey: Any, now_ms: int) -> Iterator[tuple[dict[str, Any], int, Any]]:
        kind = metric.WhichOneof("data")
        if kind is None:
            return
        if emf_rules.metric_name(metric.name) is None:
            self.stats.dropped["metric_name"] += len(getattr(metric, kind).data_points)
            return
        for point in self._raw_points(metric, kind, rkey, now_ms):
            try:
                attrs, ts_ms, value = point
                yield attrs, ts_ms, self._checked(value)
            except _Drop as drop:
                self.stats.dropped[drop.reason] += 1

    def _raw_points(self, metric: Metric, kind: str, rkey: Any, now_ms: int) -> Iterator[Any]:
        """Each point as (attributes, timestamp, value); a point that cannot be valid yields ``_Drop``'s reason."""
        data = getattr(metric, kind)
        for p in data.data_points:
            self.stats.points += 1
            try:
                yield from self._point(metric, kind, data, p, rkey, now_ms)
            except _Drop as drop:
                self.stats.dropped[drop.reason] += 1
            except (OverflowError, ZeroDivisionError, ValueError):
                self.stats.dropped["invalid_point"] += 1

    def _point(self, metric: Metric, kind: str, data: Any, p: Any, rkey: Any, now_ms: int) -> Iterator[Any]:
        attrs = to_dict(p.attributes)
        key = (rkey, metric.name, kind, _key(attrs))
        value = _VALUE_OF[kind](self, metric, data, p, key)
        if value is not None:
            yield attrs, p.time_unix_nano // 1_000_000 or now_ms, value

    def _delta(self, key: Any, p: Any, vector: tuple[float, ...]) -> tuple[float, ...] | None:
        """The point's change since the series' last one; ``None`` (counted) when it only sets the baseline."""
        d = self.delta.delta(key, p.start_time_unix_nano, vector, p.time_unix_nano)
        if d is None:
            self.stats.baselines += 1
        return d

    def _number(self, metric: Metric, data: Any, p: Any, key: Any) -> float | None:
        raw = p.as_double if p.WhichOneof("value") == "as_double" else float(p.as_int)
        if not math.isfinite(raw):
            self.stats.non_finite += 1
            raise _Drop("non_finite")
        if metric.WhichOneof("data") == "sum" and data.aggregation_temporality == CUMULATIVE and data.is_monotonic:
            d = self._delta(key, p, (raw,))
            return None if d is None else d[0]
        return raw

    def _histogram(self, metric: Metric, data: Any, p: Any, key: Any) -> dict[str, Any] | None:
        self._finite_sum(p)
        counts = [float(c) for c in p.bucket_counts]
        if data.aggregation_temporality == CUMULATIVE:
            d = self._delta((*key, tuple(p.explicit_bounds)), p, (float(p.count), p.sum, *counts))
            if d is None:
                return None
            count, total, counts = d[0], d[1], list(d[2:])
        else:
            count, total = float(p.count), p.sum
        if count <= 0:
            return None
        lo, hi = _bound(p, "min"), _bound(p, "max")
        pairs = explicit_values(list(p.explicit_bounds), counts, lo, hi)
        if not p.explicit_bounds and pairs and p.HasField("sum"):
            pairs = [(total / count, pairs[0][1])]  # one bucket: its best value is the average
        if metric.name in self.statistic_set_metrics:
            pairs = []
        return self._distribution(pairs, count, total if p.HasField("sum") else None, lo, hi)

    def _exponential(self, metric: Metric, data: Any, p: Any, key: Any) -> dict[str, Any] | None:
        self._finite_sum(p)
        pos, neg = p.positive, p.negative
        vector: tuple[float, ...] = (float(p.count), p.sum, float(p.zero_count),
                                     *map(float, pos.bucket_counts), *map(float, neg.bucket_counts))  # fmt: skip
        if data.aggregation_temporality == CUMULATIVE:
            shape = (p.scale, pos.offset, len(pos.bucket_counts), neg.offset, len(neg.bucket_counts))
            d = self._delta(key + shape, p, vector)
            if d is None:
                return None
            vector = d
        count, total, zero = vector[0], vector[1], vector[2]
        if count <= 0:
            return None
        npos = len(pos.bucket_counts)
        pairs = exponential_values(
            p.scale, zero, (pos.offset, vector[3 : 3 + npos]), (neg.offset, vector[3 + npos :])
        )
        lo, hi = _bound(p, "min"), _bound(p, "max")
        return self._distribution(pairs, count, total if p.HasField("sum") else None, lo, hi)

    def _summary(self, metric: Metric, data: Any, p: Any, key: Any) -> dict[str, Any] | None:
        if not math.isfinite(p.sum):
            self.stats.non_finite += 1
            raise _Drop("non_finite")
        d = self._delta(key, p, (float(p.count), p.sum))
        if d is None or d[0] <= 0:
            return None
        quantiles = {q.quantile: q.value for q in p.quantile_values if math.isfinite(q.value)}
        avg = d[1] / d[0]
        if not quantiles.get(0.0, avg) <= avg <= quantiles.get(1.0, avg):
            raise _Drop("inconsistent")
        return {"Max": quantiles.get(1.0, avg), "Min": quantiles.get(0.0, avg), "Count": d[0], "Sum": d[1]}

    def _finite_sum(self, p: Any) -> None:
        if p.HasField("sum") and not math.isfinite(p.sum):
            self.stats.non_finite += 1
            raise _Drop("non_finite")  # before the delta table: a NaN would poison the series for good

    def _distribution(
        self,
        pairs: list[tuple[float, float]],
        count: float,
        total: float | None,
        lo: float | None,
        hi: float | None,
    ) -> dict[str, Any]:
        """Values/Counts and the statistic set, consistent: distinct values, ``Min <= Sum/Count <= Max``."""
        if lo is not None and hi is not None and lo <= hi:
            # Bucket midpoints may fall outside what was really observed: keep them inside it.
            pairs = [(min(max(v, lo), hi), c) for v, c in pairs]
        merged: dict[float, float] = {}
        for v, c in pairs:  # clamping (or open-ended buckets) can give two buckets one value: list it once
            merged[v] = merged.get(v, 0.0) + c
        values, counts = list(merged), list(merged.values())
        if total is None:
            if not values:
                raise _Drop("inconsistent")  # neither a sum nor a bucket to estimate it from
            self.stats.sums_estimated += 1
            total = sum(v * c for v, c in merged.items()) * count / sum(counts)
        mean = total / count
        if lo is None or hi is None or lo > hi:
            lo = min([*values, mean])
            hi = max([*values, mean])
        slack = 1e-9 * max(abs(lo), abs(hi), 1.0)
        if not lo - slack <= mean <= hi + slack:
            raise _Drop("inconsistent")
        stat: dict[str, Any] = {"Max": hi, "Min": lo, "Count": count, "Sum": total}
        # Values/Counts only when they describe the same observations as Count; otherwise percentiles would lie.
        if self.histogram_format == "values" and values and math.isclose(sum(counts), count, rel_tol=1e-9):
            return {"Values": values, "Counts": counts, **stat}
        return stat

    @staticmethod
    def _checked(value: Any) -> Any:
        """Every number of a metric value within CloudWatch's range (the last line of defence)."""
        numbers = [value] if not isinstance(value, dict) else [
            x for k, v in value.items() for x in (v if isinstance(v, list) else [v])
        ]  # fmt: skip
        for x in numbers:
            if not math.isfinite(x):
                raise _Drop("non_finite")
            if not emf_rules.value_ok(x):
                raise _Drop("out_of_range")
        return value

    # -- grouping -----------------------------------------------------------------------------

    def _dimension_sets(self, dims: dict[str, str]) -> list[list[str]]:
        if self.dimension_sets:
            sets = [list(dict.fromkeys(s)) for s in self.dimension_sets if all(k in dims for k in s)]
        else:
            sets = [sorted(dims)]
        rolled: list[list[str]] = []
        if self.rollup in ("zero", "zero_and_single"):
            rolled.append([])
        if self.rollup in ("single", "zero_and_single"):
            rolled.extend([k] for k in sorted(dims))
        out: list[list[str]] = []
        for s in sets + rolled:
            if len(s) > MAX_DIMENSIONS_PER_SET:
                self.stats.dimensions_truncated += 1
                s = s[:MAX_DIMENSIONS_PER_SET]
            if s not in out:
                out.append(s)
        return out

    def _add(
        self,
        groups: dict[tuple[Any, ...], _Group],
        resource: dict[str, Any],
        attrs: dict[str, Any],
        ts_ms: int,
        metric: Metric,
        value: Any,
    ) -> None:
        raw = {k: _dim_value(v) for k, v in attrs.items()}
        for k in self.resource_dimensions:
            if k in resource and k not in raw:
                raw[k] = _dim_value(resource[k])
        dims = self._valid_dimensions(raw)
        gkey = (ts_ms, tuple(sorted(dims.items())))
        group = groups.get(gkey)
        if group is None:
            group = groups[gkey] = _Group(ts_ms, dims, self._dimension_sets(dims))
        if not group.dimension_sets:
            self.stats.dropped["no_dimension_set"] += 1
            return
        name = emf_rules.metric_name(metric.name) or ""  # never None here: _points checked it
        if name in dims:
            self.stats.dropped["name_conflict"] += 1
            return
        entry: dict[str, Any] = {"Name": name}
        unit = cloudwatch_unit(metric.unit)
        if unit:
            entry["Unit"] = unit
        if name in group.fields:
            return  # the same metric twice at the same instant: the first wins
        group.fields[name] = value
        group.metrics.append(entry)

    def _valid_dimensions(self, raw: dict[str, str]) -> dict[str, str]:
        """Dimension names and values CloudWatch accepts; the repairs and omissions are counted."""
        dims: dict[str, str] = {}
        for key, text in raw.items():
            name = emf_rules.dimension_name(key)
            if name is None:
                self.stats.repaired["invalid_name"] += 1
                continue
            value = emf_rules.dimension_value(text)
            if value is None:
                self.stats.repaired["empty_value"] += 1
                continue
            if name != key or value != text:
                reason = "cut" if len(name) < len(key) or len(value) < len(text) else "escaped"
                self.stats.repaired[reason] += 1
            dims.setdefault(name, value)
        return dims

    def _encode(self, group: _Group) -> list[LogEvent]:
        out: list[LogEvent] = []
        for i in range(0, len(group.metrics), MAX_METRICS_PER_DIRECTIVE):
            chunk = group.metrics[i : i + MAX_METRICS_PER_DIRECTIVE]
            body: dict[str, Any] = {
                "_aws": {
                    "Timestamp": group.timestamp_ms,
                    "CloudWatchMetrics": [
                        {"Namespace": self.namespace, "Dimensions": group.dimension_sets, "Metrics": chunk}
                    ],
                },
                **group.dimensions,
            }
            for m in chunk:
                body[m["Name"]] = group.fields[m["Name"]]
            out.append(LogEvent(group.timestamp_ms, orjson.dumps(body).decode()))
        return out


#: The EMF value of one point, by the metric's data kind (``None``: nothing to emit this time).
_VALUE_OF: dict[str, Callable[[EmfBuilder, Metric, Any, Any, Any], Any]] = {
    "gauge": EmfBuilder._number,
    "sum": EmfBuilder._number,
    "histogram": EmfBuilder._histogram,
    "exponential_histogram": EmfBuilder._exponential,
    "summary": EmfBuilder._summary,
}
