"""OTLP metrics → Embedded Metric Format log events.

Points that share a resource, a timestamp and the same dimension values become one event
(at most 100 metrics each, as EMF requires per directive). Dimensions are the point's
attributes plus chosen resource attributes, or the declared dimension sets; roll-up adds
the zero- and single-dimension sets only when asked, because every set is billed as its own
metric.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

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


@dataclass
class _Group:
    timestamp_ms: int
    dimensions: dict[str, str]
    dimension_sets: list[list[str]]
    fields: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)


def _key(d: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, repr(v)) for k, v in d.items()))


def _dim_value(v: Any) -> str:
    if isinstance(v, str):
        return v
    return orjson.dumps(v).decode()


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

    def _points(self, metric: Metric, rkey: Any, now_ms: int):  # type: ignore[no-untyped-def]
        kind = metric.WhichOneof("data")
        if kind is None:
            return
        data = getattr(metric, kind)
        for p in data.data_points:
            self.stats.points += 1
            attrs = to_dict(p.attributes)
            ts_ms = p.time_unix_nano // 1_000_000 or now_ms
            key = (rkey, metric.name, kind, _key(attrs))
            if kind in ("gauge", "sum"):
                raw = p.as_double if p.WhichOneof("value") == "as_double" else float(p.as_int)
                if not math.isfinite(raw):
                    self.stats.non_finite += 1
                    continue
                value: Any = raw
                if kind == "sum" and data.aggregation_temporality == CUMULATIVE and data.is_monotonic:
                    d = self.delta.delta(key, p.start_time_unix_nano, (raw,), p.time_unix_nano)
                    if d is None:
                        self.stats.baselines += 1
                        continue
                    value = d[0]
                yield attrs, ts_ms, value
            elif kind == "histogram":
                counts = [float(c) for c in p.bucket_counts]
                if data.aggregation_temporality == CUMULATIVE:
                    d = self.delta.delta((*key, tuple(p.explicit_bounds)), p.start_time_unix_nano,
                                         (float(p.count), p.sum, *counts), p.time_unix_nano)  # fmt: skip
                    if d is None:
                        self.stats.baselines += 1
                        continue
                    count, total, counts = d[0], d[1], list(d[2:])
                else:
                    count, total = float(p.count), p.sum
                if count <= 0:
                    continue
                lo = p.min if p.HasField("min") else None
                hi = p.max if p.HasField("max") else None
                pairs = explicit_values(list(p.explicit_bounds), counts, lo, hi)
                if metric.name in self.statistic_set_metrics:
                    pairs = []
                yield attrs, ts_ms, self._distribution(pairs, count, total, lo, hi)
            elif kind == "exponential_histogram":
                pos, neg = p.positive, p.negative
                vector = (float(p.count), p.sum, float(p.zero_count), *map(float, pos.bucket_counts),
                          *map(float, neg.bucket_counts))  # fmt: skip
                shape = (p.scale, pos.offset, len(pos.bucket_counts), neg.offset, len(neg.bucket_counts))
                if data.aggregation_temporality == CUMULATIVE:
                    d = self.delta.delta(key + shape, p.start_time_unix_nano, vector, p.time_unix_nano)
                    if d is None:
                        self.stats.baselines += 1
                        continue
                    vector = d
                count, total, zero = vector[0], vector[1], vector[2]
                if count <= 0:
                    continue
                npos = len(pos.bucket_counts)
                pairs = exponential_values(
                    p.scale, zero, (pos.offset, vector[3 : 3 + npos]), (neg.offset, vector[3 + npos :])
                )
                lo = p.min if p.HasField("min") else None
                hi = p.max if p.HasField("max") else None
                yield attrs, ts_ms, self._distribution(pairs, count, total, lo, hi)
            elif kind == "summary":
                d = self.delta.delta(key, p.start_time_unix_nano, (float(p.count), p.sum), p.time_unix_nano)
                if d is None:
                    self.stats.baselines += 1
                    continue
                if d[0] <= 0:
                    continue
                quantiles = {q.quantile: q.value for q in p.quantile_values}
                avg = d[1] / d[0]
                yield (
                    attrs,
                    ts_ms,
                    {
                        "Max": quantiles.get(1.0, avg),
                        "Min": quantiles.get(0.0, avg),
                        "Count": d[0],
                        "Sum": d[1],
                    },
                )

    def _distribution(
        self, pairs: list[tuple[float, float]], count: float, total: float, lo: float | None, hi: float | None
    ) -> dict[str, Any]:
        values = [v for v, _ in pairs]
        if lo is not None and hi is not None and lo <= hi:
            # Bucket midpoints may fall outside what was really observed: keep them inside it.
            values = [min(max(v, lo), hi) for v in values]
        else:
            lo = min(values) if values else total / count
            hi = max(values) if values else total / count
        stat: dict[str, Any] = {"Max": hi, "Min": lo, "Count": count, "Sum": total}
        if self.histogram_format == "values" and pairs:
            return {"Values": values, "Counts": [c for _, c in pairs], **stat}
        return stat

    # -- grouping -----------------------------------------------------------------------------

    def _dimension_sets(self, dims: dict[str, str]) -> list[list[str]]:
        if self.dimension_sets:
            sets = [list(s) for s in self.dimension_sets if all(k in dims for k in s)]
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
        dims = {k: _dim_value(v) for k, v in attrs.items()}
        for k in self.resource_dimensions:
            if k in resource and k not in dims:
                dims[k] = _dim_value(resource[k])
        gkey = (ts_ms, tuple(sorted(dims.items())))
        group = groups.get(gkey)
        if group is None:
            group = groups[gkey] = _Group(ts_ms, dims, self._dimension_sets(dims))
        entry: dict[str, Any] = {"Name": metric.name}
        unit = cloudwatch_unit(metric.unit)
        if unit:
            entry["Unit"] = unit
        if metric.name in group.fields:
            return  # the same metric twice at the same instant: the first wins
        group.fields[metric.name] = value
        group.metrics.append(entry)

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
