"""Real processes: retries against a flaky backend, exact drop counts, SIGTERM flush, health and auth."""

from __future__ import annotations

import base64
import json
import os
import signal
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sidecar.status.healthcheck import check, status_url
from tests.sidecar.test_e2e_ingest import post
from tests.support.otlp_sink import SinkProcess, spans
from tests.support.sidecar import Metrics, SidecarProcess, run_sidecar_command

PROTOBUF = "application/x-protobuf"


def base_env(sink: SinkProcess, **extra: str) -> dict[str, str]:
    env = {
        "ECS_OTEL_OTLP_ENDPOINT": sink.url,
        "ECS_OTEL_OTLP_COMPRESSION": "none",
        "ECS_OTEL_TRACES_EXPORTERS": "otlp",
        "ECS_OTEL_METRICS_EXPORTERS": "none",
        "ECS_OTEL_LOGS_EXPORTERS": "none",
        "ECS_OTEL_METRICS_PROCESSORS": "none",
        "ECS_OTEL_BATCH_TIMEOUT": "0.1",
        "ECS_OTEL_RETRY_INITIAL": "0.05",
        "ECS_OTEL_RETRY_MAX_INTERVAL": "0.3",
    }
    env.update(extra)
    return env


def request_of(n: int, tag: str) -> bytes:
    req = ExportTraceServiceRequest()
    ss = req.resource_spans.add().scope_spans.add()
    for i in range(n):
        ss.spans.add(name=f"{tag}-{i}", trace_id=os.urandom(16), span_id=os.urandom(8))
    return req.SerializeToString()


def delivered(sink: SinkProcess, tag: str) -> list[str]:
    return [s["name"] for s in spans(sink.received("traces")) if s["name"].startswith(tag + "-")]


def balanced(m: Metrics, exporter: str = "otlp", signal: str = "traces") -> tuple[float, float, float, float]:
    labels = {"exporter": exporter, "signal": signal}
    received = m.get_value("ecs_otel_sidecar_exporter_received_items_total", **labels)
    exported = m.get_value("ecs_otel_sidecar_exporter_exported_items_total", **labels)
    dropped = m.total("ecs_otel_sidecar_exporter_dropped_items_total", **labels)
    queued = m.get_value("ecs_otel_sidecar_exporter_queued_items", **labels)
    assert received == exported + dropped + queued, (received, exported, dropped, queued)
    return received, exported, dropped, queued


def test_backend_503_then_recovering_gets_everything(otlp_sink: SinkProcess, sidecar_factory) -> None:  # type: ignore[no-untyped-def]
    sidecar = sidecar_factory(base_env(otlp_sink))
    otlp_sink.script([503, 503], retry_after="1")
    for i in range(5):
        assert post(sidecar.http_url + "/v1/traces", request_of(10, f"r{i}"), PROTOBUF)[0] == 200
    otlp_sink.wait_for("traces", lambda r: sum(len(delivered(otlp_sink, f"r{i}")) for i in range(5)) == 50)
    m = sidecar.wait_metrics(lambda m: m.get_value("ecs_otel_sidecar_exporter_queued_items",
                                                   exporter="otlp", signal="traces") == 0)
    assert balanced(m) == (50, 50, 0, 0)
    assert m.get_value("ecs_otel_sidecar_exporter_retried_items_total", exporter="otlp", signal="traces") > 0
    assert m.get_value("ecs_otel_sidecar_exporter_send_attempts_total", exporter="otlp", signal="traces",
                       outcome="retryable") == 2
    for i in range(5):  # nothing duplicated either
        assert sorted(delivered(otlp_sink, f"r{i}")) == sorted(f"r{i}-{j}" for j in range(10))


def test_backend_down_longer_than_the_queue_allows_gives_exact_drop_counts(otlp_sink: SinkProcess,
                                                                          sidecar_factory) -> None:  # type: ignore[no-untyped-def]
    sidecar = sidecar_factory(base_env(otlp_sink, ECS_OTEL_QUEUE_MAX_ITEMS="100", ECS_OTEL_BATCH_MAX_ITEMS="10",
                                       ECS_OTEL_EXPORT_CONCURRENCY="1"))
    otlp_sink.script([503] * 100_000)
    for i in range(30):
        assert post(sidecar.http_url + "/v1/traces", request_of(10, f"d{i:02d}"), PROTOBUF)[0] == 200
        balanced(sidecar.metrics())
    m = sidecar.metrics()
    assert balanced(m) == (300, 0, 200, 100)
    assert m.get_value("ecs_otel_sidecar_exporter_dropped_items_total", exporter="otlp", signal="traces",
                       reason="queue_full") == 200
    otlp_sink.reset()  # the backend recovers
    m = sidecar.wait_metrics(lambda m: m.get_value("ecs_otel_sidecar_exporter_exported_items_total",
                                                   exporter="otlp", signal="traces") == 100)
    assert balanced(m) == (300, 100, 200, 0)
    got = [n for n in (s["name"] for s in spans(otlp_sink.received("traces"))) if n.startswith("d")]
    assert len(got) == 100 and len(set(got)) == 100
    assert {n.split("-")[0] for n in got} == {f"d{i:02d}" for i in range(10)}  # the first ten requests


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_flushes_queued_data_and_exits_0(otlp_sink: SinkProcess, tmp_path: Path, stop_signal: int) -> None:
    sidecar = SidecarProcess(tmp_path, base_env(otlp_sink, ECS_OTEL_BATCH_TIMEOUT="5"))
    try:
        for i in range(4):
            assert post(sidecar.http_url + "/v1/traces", request_of(5, f"f{i}"), PROTOBUF)[0] == 200
        m = sidecar.metrics()
        assert m.get_value("ecs_otel_sidecar_exporter_queued_items", exporter="otlp", signal="traces") == 20
        assert not delivered(otlp_sink, "f0")  # still waiting for the 5 s batch timeout
        sidecar.send_signal(stop_signal)
    finally:
        code, _, err = sidecar.terminate(timeout=30)
    assert code == 0, err[-3000:]
    assert sum(len(delivered(otlp_sink, f"f{i}")) for i in range(4)) == 20
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    (stopped,) = [r for r in records if r["message"] == "sidecar stopped"]
    (final,) = [c for c in stopped["final_counts"] if c["signal"] == "traces"]
    assert (final["received"], final["exported"], final["queued"], final["dropped"]) == (20, 20, 0, {})
    assert all({"timestamp", "level", "logger", "message"} <= set(r) for r in records)


def test_persistent_export_failure_makes_healthz_and_healthcheck_unhealthy(otlp_sink: SinkProcess,
                                                                         sidecar_factory) -> None:  # type: ignore[no-untyped-def]
    sidecar = sidecar_factory(base_env(otlp_sink))
    env = {"ECS_OTEL_STATUS_PORT": str(sidecar.ports["status"])}
    assert run_sidecar_command(["healthcheck"], env).returncode == 0
    otlp_sink.script([400] * 6)  # not retryable: one attempt per request
    attempts = "ecs_otel_sidecar_exporter_send_attempts_total"
    for i in range(6):  # one request at a time, so each is its own failed attempt
        post(sidecar.http_url + "/v1/traces", request_of(1, f"h{i}"), PROTOBUF)
        sidecar.wait_metrics(lambda m, n=i + 1: m.total(attempts, exporter="otlp", outcome="failed") == n)
    sidecar.wait_metrics(lambda m: m.get_value("ecs_otel_sidecar_exporter_up", exporter="otlp") == 0)
    status, body = sidecar.get("/healthz")
    assert status == 503 and b"exporter otlp" in body
    result = run_sidecar_command(["healthcheck"], env)
    assert result.returncode == 1, result
    post(sidecar.http_url + "/v1/traces", request_of(1, "ok"), PROTOBUF)  # a success heals it
    sidecar.wait_metrics(lambda m: m.get_value("ecs_otel_sidecar_exporter_up", exporter="otlp") == 1)
    assert check(status_url(env)) == 0  # the function behind the subcommand
    code, _, _ = sidecar.terminate()
    assert code == 0
    assert check(status_url(env), timeout_s=2) == 1  # nobody listening


def test_bearer_token_is_required_and_never_logged(otlp_sink: SinkProcess, sidecar_factory) -> None:  # type: ignore[no-untyped-def]
    token = "s3cr3t-" + base64.b32encode(os.urandom(10)).decode()
    sidecar = sidecar_factory(base_env(otlp_sink, ECS_OTEL_RECEIVER_TOKEN=token))
    url = sidecar.http_url + "/v1/traces"
    assert post(url, request_of(1, "noauth"), PROTOBUF)[0] == 401
    assert post(url, request_of(1, "wrong"), PROTOBUF, {"Authorization": "Bearer nope"})[0] == 401
    assert post(url, request_of(1, "auth"), PROTOBUF, {"Authorization": f"Bearer {token}"})[0] == 200
    with grpc.insecure_channel(sidecar.grpc_target) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        req = ExportTraceServiceRequest.FromString(request_of(1, "grpc"))
        with pytest.raises(grpc.RpcError) as info:
            stub.Export(req, timeout=10)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        stub.Export(req, timeout=10, metadata=(("authorization", f"Bearer {token}"),))
    otlp_sink.wait_for("traces", lambda r: len(delivered(otlp_sink, "auth")) == 1 and delivered(otlp_sink, "grpc"))
    assert not delivered(otlp_sink, "noauth") and not delivered(otlp_sink, "wrong")
    code, out, err = sidecar.terminate()
    assert code == 0
    assert token not in out + err
