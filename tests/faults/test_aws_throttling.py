"""An AWS ThrottlingException storm on PutTraceSegments and PutLogEvents: back off, keep counting, recover."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tests.faults.aws_stub import AwsStub, stub_env
from tests.faults.otlp_client import PROTOBUF, accounting, send
from tests.faults.secrets import AUTH
from tests.sidecar.test_e2e_ingest import post


@pytest.fixture
def aws_stub(tmp_path: Path) -> Iterator[AwsStub]:
    stub = AwsStub(tmp_path)
    try:
        yield stub
    finally:
        stub.stop()


def logs_request(n: int, tag: str) -> bytes:
    req = ExportLogsServiceRequest()
    lr = req.resource_logs.add().scope_logs.add()
    for i in range(n):
        rec = lr.log_records.add(time_unix_nano=time.time_ns(), severity_text="INFO")
        rec.body.string_value = f"{tag}-{i}"
    return req.SerializeToString()


def test_throttling_storm_backs_off_and_delivers_everything_after(aws_stub: AwsStub, fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    aws_stub.control(throttle=10**9)  # every PutTraceSegments / PutLogEvents is throttled
    sidecar = fault_sidecar(stub_env(aws_stub))
    assert send(sidecar.http_url, 20, "thr") == 200
    assert post(sidecar.http_url + "/v1/logs", logs_request(15, "log"), PROTOBUF, AUTH)[0] == 200
    storm_s = 3.0
    time.sleep(storm_s)
    throttled_traces = aws_stub.calls("PutTraceSegments", throttled=True)
    throttled_logs = aws_stub.calls("PutLogEvents", throttled=True)
    assert throttled_traces and throttled_logs
    # Backed off: a handful of attempts over the storm, not a tight loop (which would make thousands).
    assert len(throttled_traces) < 60 and len(throttled_logs) < 60, (len(throttled_traces), len(throttled_logs))
    m = sidecar.metrics()
    assert sidecar.proc.poll() is None and sidecar.get("/healthz")[0] in (200, 503)
    assert accounting(m, "xray")["queued"] == 20 and accounting(m, "cloudwatch", "logs")["queued"] == 15
    assert m.get_value("ecs_otel_sidecar_exporter_send_attempts_total", exporter="xray", signal="traces",
                       outcome="retryable") >= 1
    aws_stub.control(throttle=0)  # the storm passes
    m = sidecar.wait_metrics(lambda m: accounting(m, "xray")["exported"] == 20
                             and accounting(m, "cloudwatch", "logs")["exported"] == 15, timeout_s=30)
    assert accounting(m, "xray") == {"received": 20, "exported": 20, "dropped": 0, "queued": 0}
    assert accounting(m, "cloudwatch", "logs") == {"received": 15, "exported": 15, "dropped": 0, "queued": 0}
    state = aws_stub.control()
    assert state["unsigned"] == 0 and state["signed"] > 0  # every call SigV4-signed with the static keys
    assert sidecar.get("/healthz")[0] == 200
