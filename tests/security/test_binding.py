"""Everything the sidecar listens on is loopback unless the operator opts in (bridge-mode tasks)."""

from __future__ import annotations

import ipaddress
import socket

import psutil

from tests.faults.aws_stub import AwsStub
from tests.support.sidecar import SidecarProcess


def bound(sidecar: SidecarProcess) -> dict[tuple[str, int], str]:
    """(kind, port) → address of every listening TCP socket and bound UDP socket of the sidecar."""
    out = {}
    for c in psutil.Process(sidecar.proc.pid).net_connections(kind="inet"):
        if c.type == socket.SOCK_STREAM and c.status == psutil.CONN_LISTEN:
            out[("tcp", c.laddr.port)] = c.laddr.ip
        elif c.type == socket.SOCK_DGRAM and c.laddr:
            out[("udp", c.laddr.port)] = c.laddr.ip
    return out


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)  # gRPC binds "[::ffff:127.0.0.1]" on a dual-stack socket
    return (mapped or ip).is_loopback


def everything_env(stub: AwsStub) -> dict[str, str]:
    """Every listener the sidecar has: both receivers, status, the X-Ray proxy (TCP+UDP), Prometheus."""
    return {
        "AWS_ENDPOINT_URL": stub.url,
        "ECS_OTEL_TRACES_EXPORTERS": "xray",
        "ECS_OTEL_XRAY_MODE": "segments",
        "ECS_OTEL_XRAY_PROXY_PORT": "0",
        "ECS_OTEL_METRICS_EXPORTERS": "prometheus",
        "ECS_OTEL_PROMETHEUS_PORT": "0",
        "ECS_OTEL_LOGS_EXPORTERS": "debug",
    }


def test_every_listener_is_loopback_by_default(tmp_path, fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    stub = AwsStub(tmp_path)
    try:
        sidecar = fault_sidecar(everything_env(stub))
        addresses = bound(sidecar)
    finally:
        stub.stop()
    ports = sidecar.ports
    for key in (("tcp", ports["otlp_http"]), ("tcp", ports["otlp_grpc"]), ("tcp", ports["status"])):
        assert key in addresses, (key, addresses)
    assert sum(1 for kind, _ in addresses if kind == "udp") >= 1, addresses  # the X-Ray daemon listener
    assert len(addresses) >= 6, addresses  # + X-Ray sampling proxy and Prometheus
    assert all(is_loopback(a) for a in addresses.values()), addresses


def test_receiver_host_opens_the_receivers_only(tmp_path, fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    stub = AwsStub(tmp_path)
    try:
        # The X-Ray sampling proxy and UDP daemon listener relay to AWS with the task's credentials and
        # take no token: opening the receivers for a bridge-mode task leaves them on loopback.
        sidecar = fault_sidecar({**everything_env(stub), "ECS_OTEL_RECEIVER_HOST": "0.0.0.0"})
        addresses = bound(sidecar)
    finally:
        stub.stop()
    assert addresses[("tcp", sidecar.ports["otlp_http"])] == "0.0.0.0"
    xray = {key: ip for key, ip in addresses.items() if key[1] == sidecar.status()["components"]["xray_proxy"]["port"]}
    assert set(xray) == {("tcp", key[1]) for key in xray} | {("udp", key[1]) for key in xray}, addresses
    assert xray and all(is_loopback(ip) for ip in xray.values()), addresses
    assert is_loopback(addresses[("tcp", sidecar.ports["status"])])
    assert addresses[("tcp", sidecar.ports["otlp_http"])] == "0.0.0.0"
    assert addresses[("tcp", sidecar.ports["otlp_grpc"])] in ("0.0.0.0", "::")  # gRPC: dual-stack wildcard
    assert is_loopback(addresses[("tcp", sidecar.ports["status"])])  # /metrics and / stay private
