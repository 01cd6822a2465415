"""Real processes: the OpenTelemetry SDK's own OTLP exporters → sidecar → recording backend.

One sidecar and one sink serve the whole module; every test sends its own trace ids, so
they never read each other's data.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import os
import urllib.error
import urllib.request
from collections.abc import Iterator

import grpc
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.support.otlp_sink import SinkProcess, spans
from tests.support.sidecar import SidecarProcess

MAX_BODY = 1 << 20


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SidecarProcess, SinkProcess]]:
    tmp = tmp_path_factory.mktemp("ingest")
    sink = SinkProcess(tmp)
    sidecar = None
    try:
        sidecar = SidecarProcess(tmp, {
            "ECS_OTEL_OTLP_ENDPOINT": sink.url,
            "ECS_OTEL_OTLP_COMPRESSION": "none",
            "ECS_OTEL_TRACES_EXPORTERS": "otlp",
            "ECS_OTEL_METRICS_EXPORTERS": "otlp",
            "ECS_OTEL_LOGS_EXPORTERS": "otlp",
            "ECS_OTEL_BATCH_TIMEOUT": "0.2",
            "ECS_OTEL_MAX_REQUEST_BYTES": str(MAX_BODY),
        })
        yield sidecar, sink
    finally:
        if sidecar is not None:
            code, _, err = sidecar.terminate()
            assert code == 0, err[-3000:]
        sink.stop()


def send_with_sdk(exporter, service: str, names: list[str]) -> str:  # type: ignore[no-untyped-def]
    """Spans through a real TracerProvider; returns their trace id (hex)."""
    provider = TracerProvider(resource=Resource.create({"service.name": service, "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("e2e", "1.2.3")
    with tracer.start_as_current_span("root", attributes={"http.request.method": "GET", "retry.count": 3}) as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
        for name in names:
            with tracer.start_as_current_span(name, attributes={"item.index": names.index(name), "ok": True}):
                pass
    provider.shutdown()
    return trace_id


def spans_of_trace(sink: SinkProcess, trace_id_hex: str, expected: int) -> list[dict]:
    want = base64.b64encode(bytes.fromhex(trace_id_hex)).decode()

    def mine(requests: list[dict]) -> list[dict]:
        return [s for s in spans(requests) if s.get("traceId") == want]

    got = sink.wait_for("traces", lambda r: len(mine(r)) >= expected)
    return mine(got)


def attrs(items: list[dict]) -> dict:
    return {a["key"]: next(iter(a["value"].values())) for a in items}


@pytest.mark.parametrize("transport", ["http", "grpc"])
def test_sdk_exporters_deliver_same_spans_attributes_and_resources(stack, transport: str) -> None:  # type: ignore[no-untyped-def]
    sidecar, sink = stack
    if transport == "http":
        exporter = HttpSpanExporter(endpoint=sidecar.http_url + "/v1/traces", compression=Compression.Gzip)
    else:
        exporter = GrpcSpanExporter(endpoint=sidecar.grpc_target, insecure=True, compression=grpc.Compression.Gzip)
    trace_id = send_with_sdk(exporter, f"svc-{transport}", ["a", "b", "c"])
    got = spans_of_trace(sink, trace_id, 4)
    assert sorted(s["name"] for s in got) == ["a", "b", "c", "root"]
    by_name = {s["name"]: s for s in got}
    assert attrs(by_name["root"]["attributes"]) == {"http.request.method": "GET", "retry.count": "3"}
    assert attrs(by_name["b"]["attributes"]) == {"item.index": "1", "ok": True}
    for s in got:
        assert s["_resource"]["service.name"] == {"stringValue": f"svc-{transport}"}
        assert s["_resource"]["deployment.environment"] == {"stringValue": "test"}
    assert by_name["a"]["parentSpanId"] == by_name["root"]["spanId"]
    m = sidecar.metrics()
    receiver = f"otlp_{transport}"
    assert m.get_value("ecs_otel_sidecar_receiver_accepted_items_total", receiver=receiver, signal="traces") >= 4


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_sdk_metrics_and_logs_flow_through(stack) -> None:  # type: ignore[no-untyped-def]
    sidecar, sink = stack
    tag = os.urandom(4).hex()
    resource = Resource.create({"service.name": f"signals-{tag}"})
    reader = PeriodicExportingMetricReader(HttpMetricExporter(endpoint=sidecar.http_url + "/v1/metrics"),
                                           export_interval_millis=60_000)
    meters = MeterProvider(resource=resource, metric_readers=[reader])
    meters.get_meter("e2e").create_counter(f"jobs.done.{tag}", unit="{job}").add(7, {"queue": "q1"})
    meters.shutdown()
    loggers = LoggerProvider(resource=resource)
    loggers.add_log_record_processor(SimpleLogRecordProcessor(GrpcLogExporter(endpoint=sidecar.grpc_target,
                                                                               insecure=True)))
    handler = LoggingHandler(logger_provider=loggers)
    logger = logging.getLogger(f"e2e.{tag}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.warning("disk at %s%%", 91)
    loggers.shutdown()

    def points(requests: list[dict]) -> list[dict]:
        return [dp for r in requests for rm in r["body"].get("resourceMetrics", []) for sm in rm.get("scopeMetrics", [])
                for m in sm.get("metrics", []) if m["name"] == f"jobs.done.{tag}" for dp in m["sum"]["dataPoints"]]

    got = points(sink.wait_for("metrics", lambda r: len(points(r)) >= 1))
    for point in got:  # force_flush and shutdown may each export the cumulative point
        assert point["asInt"] == "7" and attrs(point["attributes"]) == {"queue": "q1"}

    def records(requests: list[dict]) -> list[dict]:
        return [lr for r in requests for rl in r["body"].get("resourceLogs", [])
                if attrs(rl["resource"]["attributes"]).get("service.name") == f"signals-{tag}"
                for sl in rl.get("scopeLogs", []) for lr in sl.get("logRecords", [])]

    (record,) = records(sink.wait_for("logs", lambda r: len(records(r)) == 1))
    assert record["body"] == {"stringValue": "disk at 91%"}
    assert record["severityText"] == "WARN"


def test_otlp_json_with_hex_ids_is_accepted_and_answered_in_json(stack) -> None:  # type: ignore[no-untyped-def]
    sidecar, sink = stack
    trace_id = os.urandom(16).hex()
    body = {"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
        "scopeSpans": [{"scope": {"name": "manual"}, "spans": [{
            "traceId": trace_id, "spanId": "0102030405060708", "name": "from-json", "kind": 2,
            "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000500000000",
            "attributes": [{"key": "n", "value": {"intValue": "42"}}],
            "status": {"code": 2, "message": "boom"},
            "unknownFieldFromTheFuture": {"x": 1},
        }]}],
    }]}
    status, headers, payload = post(sidecar.http_url + "/v1/traces", json.dumps(body).encode(), "application/json")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    assert isinstance(json.loads(payload), dict)
    (span,) = spans_of_trace(sink, trace_id, 1)
    assert span["spanId"] == base64.b64encode(bytes.fromhex("0102030405060708")).decode()
    assert span["kind"] == "SPAN_KIND_SERVER"
    assert span["startTimeUnixNano"] == "1700000000000000000"
    assert span["status"] == {"code": "STATUS_CODE_ERROR", "message": "boom"}
    assert attrs(span["attributes"]) == {"n": "42"}


def test_protobuf_request_gets_protobuf_response(stack) -> None:  # type: ignore[no-untyped-def]
    sidecar, _ = stack
    req = ExportTraceServiceRequest()
    req.resource_spans.add().scope_spans.add().spans.add(name="pb", trace_id=os.urandom(16), span_id=os.urandom(8))
    status, headers, payload = post(sidecar.http_url + "/v1/traces", gzip.compress(req.SerializeToString()),
                                    "application/x-protobuf", {"Content-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Type"] == "application/x-protobuf"
    ExportTraceServiceResponse.FromString(payload)


def test_bad_bodies_get_4xx_and_the_sidecar_stays_healthy_with_bounded_memory(stack) -> None:  # type: ignore[no-untyped-def]
    sidecar, _ = stack
    rss_before = sidecar.metrics().get_value("ecs_otel_sidecar_process_resident_memory_bytes")
    url = sidecar.http_url + "/v1/traces"
    assert post(url, b"\xff\xff\xff\xff garbage", "application/x-protobuf")[0] == 400
    assert post(url, b"{not json", "application/json")[0] == 400
    assert post(url, b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
                "application/json")[0] == 400
    assert post(url, b"hello", "text/plain")[0] == 415
    assert post(url, b"x", "application/x-protobuf", {"Content-Encoding": "br"})[0] == 415
    assert post(url, b"not gzip", "application/x-protobuf", {"Content-Encoding": "gzip"})[0] == 400
    assert post(url, b"\0" * (MAX_BODY + 1), "application/x-protobuf")[0] == 413
    bomb = gzip.compress(b"\0" * (1 << 20), 9) * 512  # 512 MiB inflated, ~0.5 MiB on the wire
    for _ in range(3):
        status, _, payload = post(url, bomb, "application/x-protobuf", {"Content-Encoding": "gzip"})
        assert status == 413, payload
    assert post(sidecar.http_url + "/v1/nothing", b"", "application/x-protobuf")[0] == 404
    status, body = sidecar.get("/healthz")
    assert status == 200, body
    m = sidecar.metrics()
    growth = m.get_value("ecs_otel_sidecar_process_resident_memory_bytes") - rss_before
    assert growth < 64 << 20, f"RSS grew by {growth} bytes"
    requests = "ecs_otel_sidecar_receiver_requests_total"
    assert m.total(requests, receiver="otlp_http", outcome="too_large") >= 4
    assert m.total(requests, receiver="otlp_http", outcome="bad_request") >= 3
    assert m.total(requests, receiver="otlp_http", outcome="unsupported") >= 2


def test_grpc_over_the_size_limit_is_resource_exhausted(stack) -> None:  # type: ignore[no-untyped-def]
    sidecar, _ = stack
    req = ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add(name="big")
    span.attributes.add(key="blob").value.bytes_value = b"\1" * (MAX_BODY + 10)
    with grpc.insecure_channel(sidecar.grpc_target, options=[("grpc.max_send_message_length", 64 << 20)]) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Export(req, timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        ok = ExportTraceServiceRequest()
        ok.resource_spans.add().scope_spans.add().spans.add(name="small", trace_id=os.urandom(16))
        request_bytes = "ecs_otel_sidecar_receiver_request_bytes_total"
        before = sidecar.metrics().get_value(request_bytes, receiver="otlp_grpc", signal="traces")
        assert isinstance(stub.Export(ok, timeout=10), ExportTraceServiceResponse)
    # Counted from the bytes on the wire (after gRPC's decompression).
    after = sidecar.metrics().get_value(request_bytes, receiver="otlp_grpc", signal="traces")
    assert after - before == len(ok.SerializeToString())


def test_status_endpoints(stack) -> None:  # type: ignore[no-untyped-def]
    sidecar, _ = stack
    req = ExportTraceServiceRequest()
    req.resource_spans.add().scope_spans.add().spans.add(name="st", trace_id=os.urandom(16), span_id=os.urandom(8))
    assert post(sidecar.http_url + "/v1/traces", req.SerializeToString(), "application/x-protobuf")[0] == 200
    sidecar.wait_metrics(lambda m: m.total("ecs_otel_sidecar_exporter_latency_seconds_count", signal="traces") > 0)
    status, page = sidecar.get("/")
    assert status == 200 and b"<html" in page and b"status.json" in page and b"http://" not in page
    snap = sidecar.status()
    assert snap["health"]["healthy"] is True
    assert snap["pipeline"]["traces"]["exporters"] == ["otlp"]
    assert snap["pipeline"]["metrics"]["processors"] == ["enrich", "redaction", "cardinality"]
    assert snap["pipeline"]["traces"]["processors"] == ["enrich", "cardinality", "redaction"]
    (queue,) = [q for q in snap["queues"] if q["signal"] == "traces"]
    (redaction,) = [p for p in snap["processors"] if p["signal"] == "traces" and p["processor"] == "redaction"]
    assert redaction["batches"] >= 1 and redaction["duration"]["p99"] is not None
    assert {"received", "exported", "dropped", "queued", "fill", "latency"} <= set(queue)
    assert sidecar.get("/cardinality")[0] == 200  # published by the cardinality processor
    text = sidecar.get("/metrics")[1].decode()
    for name in ("ecs_otel_sidecar_exporter_latency_seconds_bucket", "ecs_otel_sidecar_process_cpu_seconds_total",
                 "ecs_otel_sidecar_exporter_queued_items", "ecs_otel_sidecar_receiver_requests_total",
                 "ecs_otel_sidecar_processor_duration_seconds_bucket"):
        assert name in text


def post(url: str, body: bytes, content_type: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=20) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


