"""Oversized requests and headers are refused with a 4xx, never a crash, on every listener."""

from __future__ import annotations

import socket

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.faults.otlp_client import PROTOBUF, send, trace_request
from tests.faults.secrets import AUTH, GRPC_AUTH
from tests.sidecar.test_e2e_ingest import post

MAX_BODY = 256 * 1024


def raw_status(port: int, request: bytes) -> int | None:
    """Send raw bytes, return the HTTP status (None when the server just closed the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            reply = s.recv(4096)
        except ConnectionResetError:
            return None
    return int(reply.split(b" ", 2)[1]) if reply else None


def test_huge_headers_bodies_and_metadata(fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    sidecar = fault_sidecar({"ECS_OTEL_TRACES_EXPORTERS": "debug", "ECS_OTEL_MAX_REQUEST_BYTES": str(MAX_BODY)})
    auth = "".join(f"{k}: {v}\r\n" for k, v in AUTH.items()).encode()
    for port in (sidecar.ports["otlp_http"], sidecar.ports["status"]):
        head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n" + auth
        huge_value = head + b"X-Big: " + b"a" * 100_000 + b"\r\nContent-Length: 0\r\n\r\n"
        many = head + b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"Content-Length: 0\r\n\r\n"
        long_line = b"GET /" + b"p" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        for request in (huge_value, many, long_line):
            assert raw_status(port, request) in (400, 413, 414, 431, None)
    big = trace_request(1, "big", MAX_BODY)
    assert post(sidecar.http_url + "/v1/traces", big, PROTOBUF, AUTH)[0] == 413
    with grpc.insecure_channel(sidecar.grpc_target) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)
        try:
            stub.Export(ExportTraceServiceRequest.FromString(big), timeout=10, metadata=GRPC_AUTH)
            raise AssertionError("an oversized gRPC request was accepted")
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        try:
            stub.Export(ExportTraceServiceRequest(), timeout=10, metadata=(*GRPC_AUTH, ("x-big", "a" * 100_000)))
            raise AssertionError("100 kB of metadata was accepted")
        except grpc.RpcError as exc:
            assert exc.code() != grpc.StatusCode.OK
        stub.Export(ExportTraceServiceRequest.FromString(trace_request(1, "fine")), timeout=10, metadata=GRPC_AUTH)
    assert send(sidecar.http_url, 1, "still-fine") == 200
    assert sidecar.get("/healthz")[0] == 200 and sidecar.proc.poll() is None
