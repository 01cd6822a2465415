"""One malformed span must not take its whole batch down with it (a fuzzing finding, end to end)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.faults.aws_stub import AwsStub, stub_env
from tests.faults.otlp_client import PROTOBUF, accounting
from tests.faults.secrets import AUTH
from tests.sidecar.test_e2e_ingest import post


@pytest.fixture
def aws_stub(tmp_path: Path) -> Iterator[AwsStub]:
    stub = AwsStub(tmp_path)
    try:
        yield stub
    finally:
        stub.stop()


def test_a_span_with_an_infinite_status_code_does_not_sink_its_batch(aws_stub: AwsStub, fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    sidecar = fault_sidecar({**stub_env(aws_stub), "ECS_OTEL_RETRY_MAX_AGE": "1"})
    req = ExportTraceServiceRequest()
    ss = req.resource_spans.add().scope_spans.add()
    now = time.time()
    for i, status in enumerate((200.0, float("inf"), 503.0)):
        span = ss.spans.add(name=f"p{i}", trace_id=int(now).to_bytes(4, "big") + os.urandom(12),
                            span_id=os.urandom(8), kind=2, start_time_unix_nano=int(now * 1e9),
                            end_time_unix_nano=int(now * 1e9) + 1000)
        span.attributes.add(key="http.request.method").value.string_value = "GET"
        span.attributes.add(key="http.response.status_code").value.double_value = status
    ss.spans.add(name="short-id", trace_id=int(now).to_bytes(4, "big") + os.urandom(12), span_id=b"\1\2\3", kind=2,
                 start_time_unix_nano=int(now * 1e9), end_time_unix_nano=int(now * 1e9) + 1000)
    assert post(sidecar.http_url + "/v1/traces", req.SerializeToString(), PROTOBUF, AUTH)[0] == 200
    m = sidecar.wait_metrics(lambda m: accounting(m, "xray")["queued"] == 0, timeout_s=20)
    assert aws_stub.calls("PutTraceSegments"), "no segment document was sent at all"
    counts = accounting(m, "xray")
    assert counts["exported"] == 3  # the infinite status code is left out, its span kept
    # The span with a 3-byte id is invalid by the OTLP specification: the receiver drops it, alone,
    # and reports it to the client as partial success; it never reaches the exporter.
    assert counts["dropped"] == 0 and counts["received"] == 3
    assert m.get_value("ecs_otel_sidecar_receiver_rejected_items_total", receiver="otlp_http", signal="traces",
                       reason="invalid_id") == 1
