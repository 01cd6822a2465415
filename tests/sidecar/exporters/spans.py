"""Deterministic OTLP batches for the exporter tests."""

from __future__ import annotations

import random

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def kv(key: str, value: object) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    if isinstance(value, bytes):
        return KeyValue(key=key, value=AnyValue(bytes_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def traces(
    n: int = 10, seed: int = 1, resource: dict[str, object] | None = None
) -> ExportTraceServiceRequest:
    r = random.Random(seed)
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    attrs = resource if resource is not None else {"service.name": "checkout", "service.instance.id": "i-1"}
    rs.resource.attributes.extend(kv(k, v) for k, v in attrs.items())
    ss = rs.scope_spans.add()
    ss.scope.name = "tests"
    trace_id = r.randbytes(16)
    for i in range(n):
        s = ss.spans.add()
        s.trace_id = trace_id
        s.span_id = r.randbytes(8)
        s.parent_span_id = r.randbytes(8)
        s.name = f"GET /items/{i}"
        s.kind = 2
        s.start_time_unix_nano = 1_700_000_000_000_000_000 + i
        s.end_time_unix_nano = s.start_time_unix_nano + 1_000_000
        s.attributes.extend([kv("http.request.method", "GET"), kv("http.response.status_code", 200)])
        ev = s.events.add()
        ev.name = "exception"
        ev.time_unix_nano = s.start_time_unix_nano + 5
        link = s.links.add()
        link.trace_id = r.randbytes(16)
        link.span_id = r.randbytes(8)
        s.status.code = 2
        s.status.message = "boom"
    return req


def metrics(seed: int = 1) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.append(kv("service.name", "checkout"))
    sm = rm.scope_metrics.add()
    m = sm.metrics.add()
    m.name = "requests"
    m.sum.aggregation_temporality = 2
    m.sum.is_monotonic = True
    dp = m.sum.data_points.add()
    dp.as_int = 2**62 + seed
    dp.time_unix_nano = 1_700_000_000_000_000_000
    dp.attributes.append(kv("route", "/x"))
    ex = dp.exemplars.add()
    ex.trace_id = bytes(range(16))
    ex.span_id = bytes(range(8))
    ex.as_double = 1.5
    h = sm.metrics.add()
    h.name = "latency"
    h.histogram.aggregation_temporality = 1
    hp = h.histogram.data_points.add()
    hp.count = 3
    hp.sum = 3.5
    hp.bucket_counts.extend([1, 2])
    hp.explicit_bounds.append(1.0)
    hp.min = 0.5
    g = sm.metrics.add()
    g.name = "ratio"
    gp = g.gauge.data_points.add()
    gp.as_double = float("nan")
    return req


def logs() -> ExportLogsServiceRequest:
    req = ExportLogsServiceRequest()
    rl = req.resource_logs.add()
    rl.resource.attributes.append(kv("service.name", "checkout"))
    sl = rl.scope_logs.add()
    rec = sl.log_records.add()
    rec.time_unix_nano = 1_700_000_000_000_000_000
    rec.severity_number = 9
    rec.severity_text = "INFO"
    rec.body.string_value = "hello"
    rec.trace_id = bytes(range(16))
    rec.span_id = bytes(range(8))
    rec.attributes.append(kv("user.password", "hunter2"))
    return req
