"""The series table behind the scrape endpoint: OTLP batches merge in, scrapes read out.

Families are keyed by their Prometheus family name, so two OTLP metrics that translate to
the same name share one family when their types agree and the later one is refused when they
do not (a scrape must never carry conflicting ``# TYPE`` lines). The table is bounded by a
series limit, and a series not updated for ``ttl_s`` disappears, like the cardinality
processor's series. Each family caches its rendered text and drops the cache when it changes,
so a scrape re-renders only what moved since the last one.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality, Metric

from ecs_otel.memo import Memo
from sidecar.exporters.prometheus._internal.labels import (
    Labels,
    attribute_labels,
    job_and_instance,
    string_attributes,
)
from sidecar.exporters.prometheus._internal.naming import Kind, MetricName, metric_name, sanitize_label_name
from sidecar.exporters.prometheus._internal.series import (
    ExponentialHistogramSeries,
    HistogramSeries,
    NumberSeries,
    Refused,
    Series,
    SummarySeries,
)

_DELTA = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
_NO_RECORDED_VALUE = 1
_SERVICE_KEYS = ("service.name", "service.namespace", "service.instance.id")

TARGET_INFO = MetricName("target", "", Kind.INFO)
TARGET_INFO_HELP = "Target metadata"


@dataclass(frozen=True, slots=True)
class TranslationOptions:
    """Switches the compatibility specification asks exporters to offer."""

    add_unit_suffix: bool = True
    add_total_suffix: bool = True
    #: Expose prefixed units in the base unit with values scaled (``ms`` → ``_seconds``).
    base_units: bool = False
    #: ``otel_scope_name``/``otel_scope_version`` on every series.
    scope_labels: bool = True
    #: One ``target_info`` series per resource, carrying its attributes.
    target_info: bool = True
    #: Resource attributes also copied onto every series of that resource (sanitised), for resources
    #: that ``job``/``instance`` alone do not tell apart (per-container ECS stats).
    resource_labels: tuple[str, ...] = ()


class Family:
    """One metric family: metadata, series and the cached rendering per exposition format."""

    __slots__ = ("cache", "help", "name", "series", "series_type")

    def __init__(self, name: MetricName, help: str, series_type: type[Series]) -> None:
        self.name = name
        self.help = help
        self.series: dict[Labels, Series] = {}
        #: Rendered text per format; emptied whenever a series is added, updated or removed.
        self.cache: dict[str, str] = {}
        self.series_type = series_type


@dataclass
class MergeResult:
    points: int = 0
    accepted: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


_KIND_OF_DATA: dict[str, type[Series]] = {
    "gauge": NumberSeries,
    "sum": NumberSeries,
    "histogram": HistogramSeries,
    "exponential_histogram": ExponentialHistogramSeries,
    "summary": SummarySeries,
}


class SeriesStore:
    def __init__(
        self,
        *,
        max_series: int = 50_000,
        ttl_s: float = 300.0,
        options: TranslationOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_series < 1:
            raise ValueError(f"max_series must be at least 1, got {max_series}")
        if ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {ttl_s}")
        self.max_series = max_series
        self.ttl_s = ttl_s
        self.options = options or TranslationOptions()
        self.clock = clock
        self.families: dict[str, Family] = {}
        self.series_count = 0
        #: Points refused, by reason, since start (``series_limit``, ``type_conflict``, ``out_of_order``...).
        self.dropped: Counter[str] = Counter()
        self.expired = 0
        #: Points that landed on a series last written by another resource with the same labels.
        self.collisions = 0
        self._names: Memo[tuple[str, str, Kind], MetricName] = Memo("prometheus.metric_names", 4 * self.max_series)

    # -- writing ---------------------------------------------------------------------------------

    def merge(self, request: ExportMetricsServiceRequest) -> MergeResult:
        result = MergeResult()
        now = self.clock()
        opts = self.options
        for rm in request.resource_metrics:
            resource = string_attributes(rm.resource.attributes)
            resource_id = hash(tuple(sorted(resource.items())))
            base = job_and_instance(resource)
            for key in opts.resource_labels:
                if resource.get(key):
                    base.setdefault(sanitize_label_name(key), resource[key])
            if opts.target_info and rm.resource.attributes:
                self._target_info(resource, base, resource_id, now)
            for sm in rm.scope_metrics:
                scoped = dict(base)
                if opts.scope_labels:
                    if sm.scope.name:
                        scoped["otel_scope_name"] = sm.scope.name
                    if sm.scope.version:
                        scoped["otel_scope_version"] = sm.scope.version
                for metric in sm.metrics:
                    self._merge_metric(metric, scoped, resource_id, now, result)
        for reason, n in result.dropped.items():
            self.dropped[reason] += n
        return result

    def _translate(self, metric: Metric, data: str) -> tuple[MetricName, bool] | None:
        """The family name and whether points are deltas; ``None`` for data Prometheus cannot hold."""
        delta = False
        if data == "gauge":
            kind = Kind.GAUGE
            for kv in metric.metadata:
                if kv.key == "prometheus.type" and kv.value.string_value == "unknown":
                    kind = Kind.UNKNOWN
        elif data == "sum":
            delta = metric.sum.aggregation_temporality == _DELTA
            kind = Kind.COUNTER if metric.sum.is_monotonic else Kind.GAUGE
        elif data in ("histogram", "exponential_histogram"):
            delta = getattr(metric, data).aggregation_temporality == _DELTA
            kind = Kind.HISTOGRAM
        else:
            kind = Kind.SUMMARY
        key = (metric.name, metric.unit, kind)
        name = self._names.data.get(key)
        if name is None:
            opts = self.options
            name = metric_name(
                metric.name,
                metric.unit,
                kind,
                add_unit_suffix=opts.add_unit_suffix,
                add_total_suffix=opts.add_total_suffix,
                base_units=opts.base_units,
            )
            self._names.put(key, name)
        return name, delta

    def _merge_metric(
        self, metric: Metric, scoped: dict[str, str], resource_id: int, now: float, result: MergeResult
    ) -> None:
        data = metric.WhichOneof("data")
        if data is None:
            return
        points = getattr(metric, data).data_points
        result.points += len(points)
        name, delta = self._translate(metric, data)  # type: ignore[misc]
        family = self.families.get(name.family)
        series_type = _KIND_OF_DATA[data]
        if family is None:
            # HELP is never empty (promtool insists); the OTLP name is the most useful fallback.
            family = self.families[name.family] = Family(name, metric.description or metric.name, series_type)
        elif family.name.kind is not name.kind or family.series_type is not series_type:
            result.dropped["type_conflict"] += len(points)
            return
        changed = False
        for p in points:
            labels = attribute_labels(p.attributes)
            if scoped:
                labels.update(scoped)
            key: Labels = tuple(sorted(labels.items()))
            series = family.series.get(key)
            if p.flags & _NO_RECORDED_VALUE:
                # The producer says the series is gone: make it disappear now, not after the TTL.
                if series is not None:
                    del family.series[key]
                    self.series_count -= 1
                    changed = True
                result.accepted += 1
                continue
            new = series is None
            if new:
                if self.series_count >= self.max_series:
                    result.dropped["series_limit"] += 1
                    continue
                series = series_type(key, resource_id, now)
            elif series.resource != resource_id:  # type: ignore[union-attr]
                self.collisions += 1
                series.resource = resource_id  # type: ignore[union-attr]
            try:
                series.merge(p, delta=delta, new=new)  # type: ignore[union-attr]
            except Refused as refused:
                result.dropped[refused.reason] += 1
                continue
            if new:
                family.series[key] = series  # type: ignore[assignment]
                self.series_count += 1
            series.seen = now  # type: ignore[union-attr]
            result.accepted += 1
            changed = True
        if changed:
            family.cache.clear()

    def _target_info(
        self, resource: dict[str, str], base: dict[str, str], resource_id: int, now: float
    ) -> None:
        family = self.families.get(TARGET_INFO.family)
        if family is None:
            family = self.families[TARGET_INFO.family] = Family(TARGET_INFO, TARGET_INFO_HELP, NumberSeries)
        labels: dict[str, str] = {}
        merged: dict[str, list[tuple[str, str]]] = {}
        for k, v in resource.items():
            if k in _SERVICE_KEYS and ("job" in base or "instance" in base):
                continue
            if v:
                merged.setdefault(sanitize_label_name(k), []).append((k, v))
        for name, pairs in merged.items():
            labels[name] = ";".join(v for _, v in sorted(pairs))
        labels.update(base)
        key: Labels = tuple(sorted(labels.items()))
        series = family.series.get(key)
        if series is None:
            if self.series_count >= self.max_series:
                self.dropped["series_limit"] += 1
                return
            series = family.series[key] = NumberSeries(key, resource_id, now)
            series.value = 1.0
            self.series_count += 1
            family.cache.clear()
        series.seen = now

    # -- expiry ----------------------------------------------------------------------------------

    def expire(self, now: float | None = None) -> int:
        """Remove series not updated within the TTL; returns how many went.

        Families left without series go too, including those that never admitted one (every
        point refused at the series limit, or removed by a no-recorded-value flag): otherwise
        each new metric name would keep a family, and a bare ``# TYPE`` line, forever.
        """
        now = self.clock() if now is None else now
        cutoff = now - self.ttl_s
        removed = 0
        for fname in list(self.families):
            family = self.families[fname]
            stale = [k for k, s in family.series.items() if s.seen < cutoff]
            if stale:
                for k in stale:
                    del family.series[k]
                removed += len(stale)
                family.cache.clear()
            if not family.series:
                del self.families[fname]
        self.series_count -= removed
        self.expired += removed
        return removed

    # -- reading ---------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Family]:
        return iter(list(self.families.values()))

    def snapshot(self) -> dict[str, Any]:
        """Live state for the status page."""
        return {
            "families": len(self.families),
            "series": self.series_count,
            "max_series": self.max_series,
            "ttl_s": self.ttl_s,
            "dropped_points": dict(self.dropped),
            "expired_series": self.expired,
            "label_collisions": self.collisions,
        }
