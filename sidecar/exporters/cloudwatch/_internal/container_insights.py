"""ECS stats under Container Insights names and dimensions, for the CloudWatch (EMF) exporter.

:func:`container_insights_metrics` is pure: it reads an OTLP metrics request (as the
``ecs_stats`` scraper writes it) and returns a new one holding only the metrics that have a
Container Insights counterpart, renamed, rescaled to Container Insights' units, with the
dimensions (``ClusterName``, ``ServiceName``, ``TaskDefinitionFamily``, ``TaskId``,
``ContainerName``) as data-point attributes and an empty resource, so an EMF encoder can
publish them as they are, e.g. under :data:`NAMESPACE` with :data:`DIMENSION_SETS`.

The one unit to watch: Container Insights' ``CpuUtilized``/``CpuReserved`` are **CPU units**
(1024 per vCPU), where ``ecs.task.cpu.usage.vcpu``/``ecs.task.cpu.reserved`` are vCPU. The
conversion happens here and nowhere else. Cumulative counters (storage bytes) stay cumulative
with their start time; the EMF encoder turns them into per-interval deltas as it does for any sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1.metrics_pb2 import Metric

from sidecar.exporters.cloudwatch._internal.batching import LogEvent
from sidecar.exporters.cloudwatch._internal.delta import CumulativeToDelta
from sidecar.exporters.cloudwatch._internal.emf import EmfBuilder
from sidecar.otlp.ecs_stats_metrics import METRICS

NAMESPACE = "ECS/ContainerInsights"
#: Log group Container Insights uses for performance events (``{cluster}`` as in the exporter's placeholders).
LOG_GROUP = "/aws/ecs/containerinsights/{cluster}/performance"
#: One stream per task, so tasks of a cluster never interleave their sequence of events.
LOG_STREAM = "{task_id}"
CPU_UNITS_PER_VCPU = 1024

#: resource attribute → Container Insights dimension. ``ServiceName`` only exists for service tasks.
DIMENSIONS: dict[str, str] = {
    "aws.ecs.cluster.name": "ClusterName",
    "aws.ecs.service.name": "ServiceName",
    "aws.ecs.task.family": "TaskDefinitionFamily",
    "aws.ecs.task.id": "TaskId",
    "container.name": "ContainerName",
}

#: Dimension sets worth publishing (each set is billed as its own metric); a set applies when a point has all its keys.
DIMENSION_SETS: list[list[str]] = [
    ["ClusterName"],
    ["ClusterName", "ServiceName"],
    ["ClusterName", "TaskDefinitionFamily"],
    ["ClusterName", "TaskDefinitionFamily", "TaskId"],
    ["ClusterName", "TaskDefinitionFamily", "ContainerName"],
]


@dataclass(frozen=True)
class Mapping:
    source: str
    target: str
    scale: float
    unit: str


def _m(source: str, target: str, unit: str, scale: float = 1.0) -> Mapping:
    return Mapping(source, target, scale, unit)


#: Side by side: our metric → Container Insights metric (scale, unit). Docs-ready via :func:`mapping_table`.
MAPPINGS: dict[str, Mapping] = {
    m.source: m
    for m in (
        _m("ecs.task.cpu.usage.vcpu", "CpuUtilized", "1", CPU_UNITS_PER_VCPU),
        _m("ecs.task.cpu.reserved", "CpuReserved", "1", CPU_UNITS_PER_VCPU),
        _m("ecs.task.memory.utilized", "MemoryUtilized", "MiBy"),
        _m("ecs.task.memory.reserved", "MemoryReserved", "MiBy"),
        _m("ecs.task.network.rate.rx", "NetworkRxBytes", "By/s"),
        _m("ecs.task.network.rate.tx", "NetworkTxBytes", "By/s"),
        _m("ecs.task.storage.read_bytes", "StorageReadBytes", "By"),
        _m("ecs.task.storage.write_bytes", "StorageWriteBytes", "By"),
        _m("ecs.task.ephemeral_storage.utilized", "EphemeralStorageUtilized", "GiBy", 1 / 1024),
        _m("ecs.task.ephemeral_storage.reserved", "EphemeralStorageReserved", "GiBy", 1 / 1024),
        _m("container.cpu.usage.vcpu", "ContainerCpuUtilized", "1", CPU_UNITS_PER_VCPU),
        _m("container.cpu.reserved", "ContainerCpuReserved", "1", CPU_UNITS_PER_VCPU),
        _m("container.memory.utilized", "ContainerMemoryUtilized", "MiBy"),
        _m("container.memory.reserved", "ContainerMemoryReserved", "MiBy"),
        _m("container.network.rate.rx", "ContainerNetworkRxBytes", "By/s"),
        _m("container.network.rate.tx", "ContainerNetworkTxBytes", "By/s"),
        _m("container.storage.read_bytes", "ContainerStorageReadBytes", "By"),
        _m("container.storage.write_bytes", "ContainerStorageWriteBytes", "By"),
        _m("container.restarts", "ContainerRestartCount", "{restart}"),
    )
}


def mapping_table() -> str:
    """A Markdown table of :data:`MAPPINGS` (for docs/exporters.md)."""
    rows = ["| ecs-otel metric | Container Insights metric | conversion |", "|---|---|---|"]
    for m in MAPPINGS.values():
        conv = "×1024 (vCPU → CPU units)" if m.scale == CPU_UNITS_PER_VCPU else (
            "÷1024 (MiB → GiB)" if m.scale != 1 else "as is")
        if METRICS.get(m.source, ("", "gauge"))[1] == "counter":
            conv = "cumulative → per-interval delta"
        rows.append(f"| `{m.source}` | `{m.target}` | {conv} |")
    return "\n".join(rows)


def _dimensions(resource_attrs: Any, container_metric: bool) -> list[KeyValue]:
    dims: list[KeyValue] = []
    for kv in resource_attrs:
        name = DIMENSIONS.get(kv.key)
        if name is None or (name == "ContainerName" and not container_metric):
            continue
        text = kv.value.string_value
        if text:
            dims.append(KeyValue(key=name, value=kv.value))
    return dims


def container_insights_metrics(request: ExportMetricsServiceRequest) -> ExportMetricsServiceRequest:
    """The Container Insights view of ``request``: renamed, rescaled, with CI dimensions as point attributes.

    Points of mapped metrics lose their own attributes (the ``ecs_stats`` ones carry none on the
    mapped metrics); resources without a mapped metric produce nothing.
    """
    out = ExportMetricsServiceRequest()
    for rm in request.resource_metrics:
        target_rm = None
        target_sm = None
        dims_cache: dict[bool, list[KeyValue]] = {}
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                mapping = MAPPINGS.get(metric.name)
                kind = metric.WhichOneof("data")
                if mapping is None or kind not in ("gauge", "sum"):
                    continue
                if target_rm is None:
                    target_rm = out.resource_metrics.add()
                    target_sm = target_rm.scope_metrics.add()
                    target_sm.scope.name = "ecs_otel.sidecar.container_insights"
                container_metric = metric.name.startswith("container.")
                dims = dims_cache.get(container_metric)
                if dims is None:
                    dims = dims_cache[container_metric] = _dimensions(rm.resource.attributes, container_metric)
                new: Metric = target_sm.metrics.add(name=mapping.target, unit=mapping.unit)  # type: ignore[union-attr]
                new.description = f"{metric.name} as Container Insights' {mapping.target}"
                src = getattr(metric, kind)
                dst = getattr(new, kind)
                if kind == "sum":
                    dst.aggregation_temporality = src.aggregation_temporality
                    dst.is_monotonic = src.is_monotonic
                else:
                    dst.SetInParent()
                for p in src.data_points:
                    q = dst.data_points.add(start_time_unix_nano=p.start_time_unix_nano, time_unix_nano=p.time_unix_nano)
                    raw = p.as_int if p.WhichOneof("value") == "as_int" else p.as_double
                    if mapping.scale == 1 and isinstance(raw, int):
                        q.as_int = raw
                    else:
                        q.as_double = raw * mapping.scale
                    q.attributes.extend(dims)
    return out


class ContainerInsightsEmf:
    """The Container Insights EMF stream beside the exporter's own EMF output.

    It owns a :class:`CumulativeToDelta` of its own: the same series seen under two names
    (``container.storage.read_bytes`` and ``ContainerStorageReadBytes``) must each get their own
    baseline, eviction and retry memory, so that turning the feature on never changes what the
    regular EMF output reports.
    """

    def __init__(self, process_start_ns: int, max_series: int) -> None:
        self.delta = CumulativeToDelta(process_start_ns, max_series)
        # No resource dimensions: container_insights_metrics() already put ClusterName, TaskId…
        # on each point, and the dimension sets are Container Insights' own.
        self.emf = EmfBuilder(
            namespace=NAMESPACE, delta=self.delta, resource_dimensions=(), dimension_sets=DIMENSION_SETS
        )

    def build(self, request: ExportMetricsServiceRequest, now_ms: int) -> list[LogEvent]:
        """EMF events for the ECS stats in ``request`` (none when it holds no mapped metric)."""
        mapped = container_insights_metrics(request)
        if not mapped.resource_metrics:
            return []
        return self.emf.build(mapped, now_ms)
