"""Bearer-token authentication on both receivers, compared in constant time."""

from __future__ import annotations

import ast
import inspect
import socket

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sidecar.receivers import auth
from sidecar.receivers.auth import BearerToken
from tests.faults.otlp_client import PROTOBUF, trace_request
from tests.faults.secrets import AUTH, GRPC_AUTH, RECEIVER_TOKEN, SECRET_ENV
from tests.sidecar.test_e2e_ingest import post


def test_comparison_is_constant_time() -> None:
    tree = ast.parse(inspect.getsource(auth))
    calls = {f"{n.func.value.id}.{n.func.attr}" for n in ast.walk(tree) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)}
    assert "hmac.compare_digest" in calls
    compares = [n for n in ast.walk(tree) if isinstance(n, ast.Compare)
                and any(isinstance(op, ast.Eq | ast.NotEq) for op in n.ops)]
    assert not compares, "the token must never be compared with == (timing leak)"


def test_bearer_token_unit() -> None:
    token = BearerToken("abc")
    assert token.allows("Bearer abc")
    for bad in (None, "", "Bearer", "Bearer ", "Bearer ab", "Bearer abcd", "Basic abc", "abc", "Bearer abc\x00"):
        assert not token.allows(bad), bad
    assert BearerToken(None).allows(None) and not BearerToken(None).required


def test_http_refuses_missing_and_wrong_tokens(fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    sidecar = fault_sidecar({"ECS_OTEL_TRACES_EXPORTERS": "debug", "ECS_OTEL_METRICS_EXPORTERS": "debug",
                             "ECS_OTEL_LOGS_EXPORTERS": "debug"})
    body = trace_request(1, "a")
    for signal in ("traces", "metrics", "logs"):
        url = f"{sidecar.http_url}/v1/{signal}"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {RECEIVER_TOKEN[:-1]}"},
                        {"Authorization": f"Bearer {RECEIVER_TOKEN}x"}, {"Authorization": f"Basic {RECEIVER_TOKEN}"}):
            status, resp_headers, _ = post(url, body if signal == "traces" else b"", PROTOBUF, headers)
            assert status == 401, (signal, headers)
            assert resp_headers.get("WWW-Authenticate") == "Bearer"
        assert post(url, b"", "application/json", {})[0] == 401
    assert post(sidecar.http_url + "/v1/traces", body, PROTOBUF, AUTH)[0] == 200
    refused = sidecar.metrics().total("ecs_otel_sidecar_receiver_requests_total", receiver="otlp_http",
                                      outcome="unauthenticated")
    assert refused == 18


def test_non_ascii_authorization_header_is_a_401_not_a_crash(sidecar_factory) -> None:  # type: ignore[no-untyped-def]
    # sidecar_factory, not fault_sidecar: the traceback this bug logs quotes the source line naming the header.
    sidecar = sidecar_factory({**SECRET_ENV, "ECS_OTEL_TRACES_EXPORTERS": "debug"})
    with socket.create_connection(("127.0.0.1", sidecar.ports["otlp_http"]), timeout=10) as s:
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                  b"Authorization: Bearer \xff\xfe\xe9\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        reply = s.recv(4096)
    assert reply.split(b"\r\n", 1)[0].split(b" ")[1] in (b"400", b"401"), reply[:200]
    assert sidecar.get("/healthz")[0] == 200


def test_grpc_unauthenticated_without_the_token(fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    sidecar = fault_sidecar({"ECS_OTEL_TRACES_EXPORTERS": "debug", "ECS_OTEL_LOGS_EXPORTERS": "debug"})
    with grpc.insecure_channel(sidecar.grpc_target) as channel:
        traces = trace_service_pb2_grpc.TraceServiceStub(channel)
        logs = logs_service_pb2_grpc.LogsServiceStub(channel)
        req = ExportTraceServiceRequest.FromString(trace_request(1, "g"))
        for metadata in ((), (("authorization", "Bearer nope"),), (("authorization", RECEIVER_TOKEN),)):
            for call, message in ((traces.Export, req), (logs.Export, ExportLogsServiceRequest())):
                with pytest.raises(grpc.RpcError) as info:
                    call(message, timeout=10, metadata=metadata)
                assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        traces.Export(req, timeout=10, metadata=GRPC_AUTH)
        logs.Export(ExportLogsServiceRequest(), timeout=10, metadata=GRPC_AUTH)
