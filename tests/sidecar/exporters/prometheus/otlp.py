"""Small builders for OTLP metric batches, so translation tests read as tables."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from sidecar.otlp.attributes import key_value

CUMULATIVE = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
S = 1_000_000_000


def attrs(d: dict[str, Any] | None) -> list[KeyValue]:
    return [key_value(k, v) for k, v in (d or {}).items()]


def number(value: float, attributes: dict[str, Any] | None = None, start: int = 0, t: int = 0, flags: int = 0):
    p = pb.NumberDataPoint(attributes=attrs(attributes), start_time_unix_nano=start, time_unix_nano=t, flags=flags)
    if isinstance(value, int):
        p.as_int = value
    else:
        p.as_double = value
    return p


def sum_metric(name: str, points: list, unit: str = "", monotonic: bool = True, temporality: int = CUMULATIVE,
               description: str = "") -> pb.Metric:
    m = pb.Metric(name=name, unit=unit, description=description)
    m.sum.is_monotonic = monotonic
    m.sum.aggregation_temporality = temporality
    m.sum.data_points.extend(points)
    return m


def gauge_metric(name: str, points: list, unit: str = "", description: str = "") -> pb.Metric:
    m = pb.Metric(name=name, unit=unit, description=description)
    m.gauge.data_points.extend(points)
    return m


def histogram_point(bounds: list[float], counts: list[int], total: float, attributes: dict[str, Any] | None = None,
                    start: int = 0, t: int = 0, minimum: float | None = None) -> pb.HistogramDataPoint:
    p = pb.HistogramDataPoint(attributes=attrs(attributes), start_time_unix_nano=start, time_unix_nano=t,
                              explicit_bounds=bounds, bucket_counts=counts, count=sum(counts), sum=total)
    if minimum is not None:
        p.min = minimum
    return p


def histogram_metric(name: str, points: list, unit: str = "", temporality: int = CUMULATIVE) -> pb.Metric:
    m = pb.Metric(name=name, unit=unit)
    m.histogram.aggregation_temporality = temporality
    m.histogram.data_points.extend(points)
    return m


def request(metrics: list[pb.Metric], resource: dict[str, Any] | None = None, scope: str = "test.scope",
            version: str = "1.0") -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(attrs(resource))
    sm = rm.scope_metrics.add()
    sm.scope.name = scope
    sm.scope.version = version
    sm.metrics.extend(metrics)
    return req
