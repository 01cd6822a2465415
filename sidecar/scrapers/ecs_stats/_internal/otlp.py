"""Writing derived stats as OTLP protobuf metrics, directly (no SDK in between).

Names follow the collector's ``awsecscontainermetricsreceiver`` where it has one (so dashboards
carry over); units are UCUM (``By``, ``MiB`` only where the name says "utilized"/"reserved" in
MiB, ``ns``, ``By/s``, ``1``). See :data:`METRICS` for the full list, also used by the docs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)

from ecs_otel.memo import Memo
from ecs_otel.resource import container_attributes, task_attributes
from sidecar.otlp.attributes import key_value
from sidecar.otlp.ecs_stats_metrics import METRICS
from sidecar.scrapers.ecs_stats._internal.derive import MIB, ContainerValues, TaskValues
from sidecar.scrapers.ecs_stats._internal.model import NetworkCounters

SCOPE_NAME = "ecs_otel.sidecar.ecs_stats"

NETWORK_INTERFACE = "network.interface.name"
KNOWN_STATUS = "aws.ecs.container.known_status"

#: ``as_int`` is a signed 64-bit field: a counter outside it (Docker has sent 2**64 - 1) cannot be a point.
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def key_values(attrs: Mapping[str, Any]) -> list[KeyValue]:
    return [key_value(k, v) for k, v in attrs.items() if v is not None]


#: Bounded caches of encoded attribute sets: the same resources and interfaces repeat every scrape.
_CACHE_LIMIT = 1024
_kv_cache: Memo[Any, list[KeyValue]] = Memo("ecs_stats.attributes", _CACHE_LIMIT)
_resource_cache: Memo[Any, bytes] = Memo("ecs_stats.resources", _CACHE_LIMIT)


def _freeze(attrs: Mapping[str, Any]) -> Any:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in attrs.items())


def cached_key_values(attrs: Mapping[str, Any]) -> list[KeyValue]:
    key = _freeze(attrs)
    kvs = _kv_cache.data.get(key)
    if kvs is None:
        kvs = _kv_cache.put(key, key_values(attrs))
    return kvs


class MetricWriter:
    """Adds points to one ``ScopeMetrics``, one ``Metric`` per name (created on first use)."""

    def __init__(self, scope: ScopeMetrics, time_ns: int, start_ns: int) -> None:
        self._scope = scope
        self._time_ns = time_ns
        self._start_ns = start_ns
        self._by_name: dict[str, tuple[Any, bool]] = {}

    def _points(self, name: str) -> tuple[Any, bool]:
        entry = self._by_name.get(name)
        if entry is None:
            unit, kind, desc = METRICS.get(name, ("1", "gauge", ""))
            m: Metric = self._scope.metrics.add(name=name, unit=unit, description=desc)
            if kind == "counter":
                m.sum.aggregation_temporality = AGGREGATION_TEMPORALITY_CUMULATIVE
                m.sum.is_monotonic = True
                entry = (m.sum.data_points, True)
            else:
                m.gauge.SetInParent()
                entry = (m.gauge.data_points, False)
            self._by_name[name] = entry
        return entry

    def point(self, name: str, value: float | int | None, attrs: Mapping[str, Any] | None = None) -> None:
        """Add a point unless ``value`` is ``None`` (unknown values are left out, never sent as 0).

        An integer the wire cannot carry is unknown too (left out), rather than an error that would
        cost the rest of the resource's points.
        """
        if value is None:
            return
        is_int = isinstance(value, int) and not isinstance(value, bool)
        if is_int and not _INT64_MIN <= value <= _INT64_MAX:
            return
        dps, cumulative = self._points(name)
        dp: NumberDataPoint
        if is_int:
            dp = dps.add(time_unix_nano=self._time_ns, as_int=value)
        else:
            dp = dps.add(time_unix_nano=self._time_ns, as_double=float(value))
        if cumulative:
            dp.start_time_unix_nano = self._start_ns
        if attrs:
            dp.attributes.extend(cached_key_values(attrs))


def _resource(request: ExportMetricsServiceRequest, attrs: Mapping[str, Any]) -> ScopeMetrics:
    rm: ResourceMetrics = request.resource_metrics.add()
    key = _freeze(attrs)
    encoded = _resource_cache.data.get(key)
    if encoded is None:
        rm.resource.attributes.extend(key_values(attrs))
        _resource_cache.put(key, rm.resource.SerializeToString())
    else:
        rm.resource.MergeFromString(encoded)
    scope = rm.scope_metrics.add()
    scope.scope.name = SCOPE_NAME
    return scope


def _network(w: MetricWriter, prefix: str, n: NetworkCounters, attrs: Mapping[str, Any] | None = None) -> None:
    for f in NetworkCounters.FIELDS:
        w.point(f"{prefix}.network.io.usage.{f}", getattr(n, f), attrs)


def _mib(v: int | None) -> float | None:
    return None if v is None else v / MIB


def write_container(w: MetricWriter, c: ContainerValues) -> None:
    p = "container"
    w.point(f"{p}.status", 1, {KNOWN_STATUS: c.meta.known_status or "UNKNOWN"})
    w.point(f"{p}.restarts", c.meta.restart_count)
    w.point(f"{p}.cpu.reserved", c.cpu_reserved_vcpu)
    w.point(f"{p}.memory.reserved", c.memory_reserved_mib)
    st = c.stats
    if st is None:
        return
    w.point(f"{p}.cpu.usage.total", st.cpu_total_ns)
    w.point(f"{p}.cpu.usage.kernelmode", st.cpu_kernel_ns)
    w.point(f"{p}.cpu.usage.usermode", st.cpu_user_ns)
    w.point(f"{p}.cpu.usage.vcpu", c.vcpu)
    w.point(f"{p}.cpu.utilization", c.cpu_utilization)
    w.point(f"{p}.cpu.onlines", st.online_cpus)
    if st.memory is not None:
        w.point(f"{p}.memory.usage", st.memory.usage)
        w.point(f"{p}.memory.usage.max", st.memory.max_usage)
        w.point(f"{p}.memory.utilized", _mib(st.memory.working_set))
    w.point(f"{p}.memory.usage.limit", c.memory_limit_bytes)
    w.point(f"{p}.memory.utilization", c.memory_utilization)
    for iface, counters in sorted(st.networks.items()):
        _network(w, p, counters, {NETWORK_INTERFACE: iface})
    w.point(f"{p}.network.rate.rx", c.network_rx_rate)
    w.point(f"{p}.network.rate.tx", c.network_tx_rate)
    w.point(f"{p}.storage.read_bytes", st.storage_read_bytes)
    w.point(f"{p}.storage.write_bytes", st.storage_write_bytes)


def write_task(w: MetricWriter, t: TaskValues) -> None:
    p = "ecs.task"
    w.point(f"{p}.cpu.usage.total", t.cpu_total_ns)
    w.point(f"{p}.cpu.usage.vcpu", t.vcpu)
    w.point(f"{p}.cpu.reserved", t.cpu_reserved_vcpu)
    w.point(f"{p}.cpu.utilization", t.cpu_utilization)
    w.point(f"{p}.memory.usage", t.memory_usage)
    w.point(f"{p}.memory.usage.limit", t.memory_limit_bytes)
    w.point(f"{p}.memory.reserved", t.memory_reserved_mib)
    w.point(f"{p}.memory.utilized", _mib(t.memory_working_set))
    w.point(f"{p}.memory.utilization", t.memory_utilization)
    if t.network is not None:
        _network(w, p, t.network)
    w.point(f"{p}.network.rate.rx", t.network_rx_rate)
    w.point(f"{p}.network.rate.tx", t.network_tx_rate)
    w.point(f"{p}.storage.read_bytes", t.storage_read_bytes)
    w.point(f"{p}.storage.write_bytes", t.storage_write_bytes)
    w.point(f"{p}.ephemeral_storage.utilized", t.ephemeral_utilized_mib)
    w.point(f"{p}.ephemeral_storage.reserved", t.ephemeral_reserved_mib)


def build_request(
    values: TaskValues,
    request: ExportMetricsServiceRequest | None = None,
    extra_resource: Mapping[str, Any] | None = None,
) -> ExportMetricsServiceRequest:
    """One ResourceMetrics for the task and one per container, in a metrics request.

    Each resource is written on its own: one that fails (data no check foresaw) is left out and
    named in ``values.problems``, and costs no other resource its points.
    """
    request = request if request is not None else ExportMetricsServiceRequest()
    base = dict(task_attributes(values.task))
    if extra_resource:
        base.update(extra_resource)

    def task_resource(scratch: ExportMetricsServiceRequest) -> None:
        write_task(MetricWriter(_resource(scratch, base), values.time_ns, values.start_ns), values)

    _guarded(request, values, "task", task_resource)
    for c in values.containers:

        def container_resource(scratch: ExportMetricsServiceRequest, c: ContainerValues = c) -> None:
            attrs = dict(base)
            attrs.update(container_attributes(c.meta, values.task))
            time_ns = c.stats.read_ns if c.stats and c.stats.read_ns else values.time_ns
            write_container(MetricWriter(_resource(scratch, attrs), time_ns, c.start_ns), c)

        _guarded(request, values, f"container {c.meta.name!r}", container_resource)
    return request


def _guarded(request: ExportMetricsServiceRequest, values: TaskValues, what: str,
             write: Callable[[ExportMetricsServiceRequest], None]) -> None:
    """Run ``write`` into a scratch request and keep its resource only if it completed."""
    scratch = ExportMetricsServiceRequest()
    try:
        write(scratch)
    except Exception as e:  # bad data must not cost the other resources of the scrape
        values.problems.append(f"{what}: not written ({type(e).__name__}: {e})")
        return
    request.resource_metrics.extend(scratch.resource_metrics)


def points(request: ExportMetricsServiceRequest) -> Iterable[tuple[Mapping[str, Any], str, Sequence[Any]]]:
    """(resource attributes, metric name, data points) triples, for tests and debugging."""
    from google.protobuf.json_format import MessageToDict

    for rm in request.resource_metrics:
        res = {kv.key: MessageToDict(kv.value) for kv in rm.resource.attributes}
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                kind = m.WhichOneof("data")
                yield res, m.name, list(getattr(m, kind).data_points) if kind else []
