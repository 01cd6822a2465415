"""Over the memory limit the receivers refuse (429 + Retry-After, RESOURCE_EXHAUSTED) instead of growing."""

from __future__ import annotations

import socket

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.sidecar.test_e2e_delivery import PROTOBUF, base_env, request_of
from tests.sidecar.test_e2e_ingest import post
from tests.support.otlp_sink import SinkProcess
from tests.support.sidecar import run_sidecar_command


def test_memory_limit_answers_429_and_resource_exhausted(otlp_sink: SinkProcess, sidecar_factory) -> None:  # type: ignore[no-untyped-def]
    # 1 MiB is below any Python process's resident memory: every batch is refused, none is counted received.
    sidecar = sidecar_factory(base_env(otlp_sink, ECS_OTEL_MEMORY_LIMIT_MIB="1"))
    status, headers, _ = post(sidecar.http_url + "/v1/traces", request_of(5, "bp"), PROTOBUF)
    assert status == 429
    assert int(headers["Retry-After"]) >= 1
    with grpc.insecure_channel(sidecar.grpc_target) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.Export(ExportTraceServiceRequest.FromString(request_of(3, "bpg")), timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        details = dict(info.value.trailing_metadata() or ())
        assert "grpc-status-details-bin" in details  # RetryInfo for the client's back-off
    m = sidecar.metrics()
    refused = "ecs_otel_sidecar_receiver_refused_items_total"
    assert m.get_value(refused, receiver="otlp_http", signal="traces", reason="memory_limit") == 5
    assert m.get_value(refused, receiver="otlp_grpc", signal="traces", reason="memory_limit") == 3
    assert m.get_value("ecs_otel_sidecar_exporter_received_items_total", exporter="otlp", signal="traces") == 0
    assert m.get_value("ecs_otel_sidecar_memory_limit_bytes") == 1 << 20
    assert sidecar.get("/healthz")[0] == 200  # refusing is the healthy behaviour, not a failure


def test_port_already_in_use_exits_1_with_a_clear_log() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_sidecar_command([], {"ECS_OTEL_OTLP_HTTP_PORT": str(port), "ECS_OTEL_OTLP_GRPC_PORT": "0",
                                          "ECS_OTEL_STATUS_PORT": "0", "ECS_OTEL_TRACES_PROCESSORS": "none",
                                          "ECS_OTEL_METRICS_PROCESSORS": "none", "ECS_OTEL_LOGS_PROCESSORS": "none"})
    assert result.returncode == 1, result.stderr
    assert "cannot start" in result.stderr and str(port) in result.stderr
