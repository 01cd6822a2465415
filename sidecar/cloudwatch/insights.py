"""The Container Insights EMF stream beside the exporter's own EMF output.

It owns a :class:`~sidecar.cloudwatch.delta.CumulativeToDelta` of its own: the same series seen
under two names (``container.storage.read_bytes`` and ``ContainerStorageReadBytes``) must each
get their own baseline, eviction and retry memory, so that turning the feature on never changes
what the regular EMF output reports.
"""

from __future__ import annotations

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from sidecar.cloudwatch.batching import LogEvent
from sidecar.cloudwatch.delta import CumulativeToDelta
from sidecar.cloudwatch.emf import EmfBuilder
from sidecar.container_insights import DIMENSION_SETS, NAMESPACE, container_insights_metrics


class ContainerInsightsEmf:
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
