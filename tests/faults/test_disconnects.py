"""Clients that vanish in the middle of a request body leave nothing behind: no fds, no memory, no stuck state."""

from __future__ import annotations

import gzip
import socket
import struct
import time

import psutil

from tests.faults.otlp_client import accounting, send, trace_request
from tests.faults.secrets import AUTH
from tests.support.otlp_sink import SinkProcess
from tests.support.sidecar import otlp_env

ROUNDS = 60


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def _head(path: str, extra: str) -> bytes:
    auth = "".join(f"{k}: {v}\r\n" for k, v in AUTH.items())
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n{auth}{extra}\r\n"
            .encode())


def abandon_fixed_length(port: int, body: bytes) -> None:
    with _connect(port) as s:
        s.sendall(_head("/v1/traces", f"Content-Length: {len(body) * 4}\r\n") + body)


def abandon_chunked(port: int, body: bytes) -> None:
    with _connect(port) as s:
        s.sendall(_head("/v1/traces", "Transfer-Encoding: chunked\r\n") + f"{len(body):x}\r\n".encode() + body
                  + b"\r\n" + b"ffff\r\n" + body[:100])


def abandon_gzip_with_reset(port: int, body: bytes) -> None:
    packed = gzip.compress(body)
    s = _connect(port)
    s.sendall(_head("/v1/traces", f"Content-Encoding: gzip\r\nContent-Length: {len(packed)}\r\n")
              + packed[: len(packed) // 2])
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST instead of FIN
    s.close()


def abandon_headers(port: int, body: bytes) -> None:
    with _connect(port) as s:
        s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")


def test_clients_disconnecting_mid_body(otlp_sink: SinkProcess, fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    sidecar = fault_sidecar(otlp_env(otlp_sink))
    port = sidecar.ports["otlp_http"]
    proc = psutil.Process(sidecar.proc.pid)
    body = trace_request(200, "cut", 256)
    cases = (abandon_fixed_length, abandon_chunked, abandon_gzip_with_reset, abandon_headers)

    def storm(rounds: int) -> None:
        for _ in range(rounds):
            for case in cases:
                case(port, body)

    storm(10)  # warm-up: first-use allocations are not leaks
    time.sleep(1.0)
    fds_before, rss_before = proc.num_fds(), proc.memory_info().rss
    storm(ROUNDS)
    deadline = time.monotonic() + 15
    while proc.num_fds() > fds_before + 2 and time.monotonic() < deadline:  # closed connections settle
        time.sleep(0.2)
    fds_after, rss_after = proc.num_fds(), proc.memory_info().rss
    assert fds_after <= fds_before + 2, f"fds {fds_before} -> {fds_after} after {ROUNDS * len(cases)} aborted requests"
    assert rss_after - rss_before < 16 << 20, f"RSS grew {(rss_after - rss_before) >> 20} MiB"
    # Nothing half-read reached the pipeline, and the server still works.
    m = sidecar.metrics()
    assert accounting(m, "otlp")["received"] == 0
    assert send(sidecar.http_url, 5, "after") == 200
    assert sidecar.get("/healthz")[0] == 200
    sidecar.wait_metrics(lambda m: accounting(m, "otlp")["exported"] == 5)
