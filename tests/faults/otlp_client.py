"""What the fault tests send: small OTLP trace requests with named spans, posted with the suite's token."""

from __future__ import annotations

import os
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.faults.secrets import AUTH
from tests.sidecar.test_e2e_ingest import post
from tests.support.otlp_sink import SinkProcess, spans
from tests.support.sidecar import Metrics

PROTOBUF = "application/x-protobuf"


def trace_request(n: int, tag: str, attr_bytes: int = 0) -> bytes:
    req = ExportTraceServiceRequest()
    ss = req.resource_spans.add().scope_spans.add()
    now = time.time_ns()
    for i in range(n):
        span = ss.spans.add(name=f"{tag}-{i}", trace_id=os.urandom(16), span_id=os.urandom(8),
                            start_time_unix_nano=now, end_time_unix_nano=now + 1000)
        if attr_bytes:
            kv = span.attributes.add(key="payload")
            kv.value.string_value = "x" * attr_bytes
    return req.SerializeToString()


def send(base_url: str, n: int, tag: str, signal: str = "traces") -> int:
    """POST ``n`` spans; returns the HTTP status."""
    return post(f"{base_url}/v1/{signal}", trace_request(n, tag), PROTOBUF, AUTH)[0]


def delivered(sink: SinkProcess, prefix: str) -> list[str]:
    return [s["name"] for s in spans(sink.received("traces")) if s["name"].startswith(prefix)]


def accounting(m: Metrics, exporter: str, signal: str = "traces") -> dict[str, float]:
    """The queue's counters; ``received == exported + dropped + queued`` is asserted on the way."""
    labels = {"exporter": exporter, "signal": signal}
    out = {
        "received": m.get_value("ecs_otel_sidecar_exporter_received_items_total", **labels),
        "exported": m.get_value("ecs_otel_sidecar_exporter_exported_items_total", **labels),
        "dropped": m.total("ecs_otel_sidecar_exporter_dropped_items_total", **labels),
        "queued": m.get_value("ecs_otel_sidecar_exporter_queued_items", **labels),
    }
    assert out["received"] == out["exported"] + out["dropped"] + out["queued"], out
    return out
