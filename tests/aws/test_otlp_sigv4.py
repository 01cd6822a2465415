"""OTLP modes: requests reach AWS's OTLP paths signed for the right service and region (verified)."""

from __future__ import annotations

import asyncio
import gzip
import time
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sidecar.context import SidecarContext
from sidecar.exporters.cloudwatch.exporter import CloudWatchExporter
from sidecar.exporters.xray._internal import otlp_limits
from sidecar.exporters.xray.exporter import XRayExporter
from sidecar.otlp.attributes import any_value
from sidecar.otlp.signals import Signal
from tests.aws.metrics import app
from tests.aws.moto_process import FAKE_CREDENTIALS
from tests.aws.sigv4_recorder import Recorder, verify_sigv4
from tests.aws.spans import checkout_trace

REGION = "eu-west-3"


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


async def test_xray_otlp_mode_signed_for_xray(creds: None) -> None:
    async def go() -> Any:
        rec = Recorder()
        url = await rec.start()
        env = {"AWS_REGION": REGION, "AWS_ENDPOINT_URL_XRAY": url}
        exporter = XRayExporter(XRayExporter.Settings(proxy_port=-1), SidecarContext(env=env))
        await exporter.start()
        try:
            outcome = await exporter.export(Signal.TRACES, checkout_trace())
        finally:
            await exporter.shutdown(asyncio.get_running_loop().time() + 5)
            await rec.stop()
        return outcome, rec.requests

    outcome, requests = await go()
    assert outcome.ok, outcome
    (req,) = requests
    assert req.path == "/v1/traces" and req.method == "POST"
    signed = verify_sigv4(req, "xray", REGION)
    assert signed["content-type"] == "application/x-protobuf"
    assert "x-amz-security-token" in signed and "host" in signed


async def test_cloudwatch_otlp_modes_signed_for_monitoring_and_logs_with_group_headers(creds: None) -> None:
    async def go() -> Any:
        metrics_rec, logs_rec = Recorder(), Recorder()
        env = {
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL_CLOUDWATCH": await metrics_rec.start(),
            "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": await logs_rec.start(),
        }
        logs_rec.answers["/"] = (200, {})
        settings = CloudWatchExporter.Settings(mode="otlp", logs_mode="otlp", log_group="/ecs/{family}/app")
        context = SidecarContext(
            env=env, task_attributes={"aws.ecs.task.family": "shop", "aws.ecs.task.id": "t1"}
        )
        exporter = CloudWatchExporter(settings, context)
        await exporter.start()
        try:
            with app() as a:
                a.requests.add(1)
                m = await exporter.export(Signal.METRICS, a.collect())
            logs = ExportLogsServiceRequest()
            logs.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=time.time_ns())
            lg = await exporter.export(Signal.LOGS, logs)
        finally:
            await exporter.shutdown(asyncio.get_running_loop().time() + 5)
            await metrics_rec.stop()
            await logs_rec.stop()
        return m, lg, metrics_rec.requests, logs_rec.requests

    m, lg, metric_reqs, log_reqs = await go()
    assert m.ok and lg.ok, (m, lg)
    (mreq,) = metric_reqs
    assert mreq.path == "/v1/metrics"
    verify_sigv4(mreq, "monitoring", REGION)
    otlp = [r for r in log_reqs if r.path == "/v1/logs"]
    (lreq,) = otlp
    signed = verify_sigv4(lreq, "logs", REGION)
    assert signed["x-aws-log-group"] == "/ecs/shop/app" and signed["x-aws-log-stream"] == "otel/t1"
    # The group and stream were created first (the OTLP endpoint needs them), through the signed JSON API.
    targets = [r.headers.get("X-Amz-Target") for r in log_reqs if r.path == "/"]
    assert targets == [
        "Logs_20140328.CreateLogGroup",
        "Logs_20140328.PutRetentionPolicy",
        "Logs_20140328.CreateLogStream",
    ]
    for r in log_reqs:
        verify_sigv4(r, "logs", REGION)


def _oversized_batch() -> ExportTraceServiceRequest:
    """12,000 small spans, 60 spans of 100 KB (6 MB), one span of 300 KB, a resource with a 20 KB attribute."""
    request = ExportTraceServiceRequest()
    trace_id = int(time.time()).to_bytes(4, "big") + b"\x05" * 12
    n = 0

    def spans(rs: Any, count: int, attr_bytes: int = 0) -> None:
        nonlocal n
        ss = rs.scope_spans.add()
        ss.scope.name = "tests.limits"
        for _ in range(count):
            n += 1
            span = ss.spans.add(trace_id=trace_id, span_id=n.to_bytes(8, "big"), name=f"s{n}")
            if attr_bytes:
                span.attributes.add(key="blob", value=any_value("x" * attr_bytes))
                span.attributes.add(key="keep", value=any_value("small"))

    small = request.resource_spans.add()
    small.resource.attributes.add(key="service.name", value=any_value("many"))
    spans(small, 12_000)
    spans(small, 60, 100 * 1024)
    big = request.resource_spans.add()
    big.resource.attributes.add(key="service.name", value=any_value("heavy"))
    big.resource.attributes.add(key="big.blob", value=any_value("r" * 20 * 1024))
    spans(big, 1, 300 * 1024)
    spans(big, 2)
    return request


async def test_xray_otlp_mode_splits_and_trims_to_the_endpoint_limits(creds: None) -> None:
    """Issue 15, X-Ray item 3: one over-limit part used to make X-Ray refuse the whole call."""
    batch = _oversized_batch()
    assert batch.ByteSize() > otlp_limits.MAX_REQUEST_BYTES

    async def go() -> Any:
        rec = Recorder()
        url = await rec.start()
        context = SidecarContext(env={"AWS_REGION": REGION, "AWS_ENDPOINT_URL_XRAY": url})
        exporter = XRayExporter(XRayExporter.Settings(proxy_port=-1), context)
        await exporter.start()
        try:
            outcome = await exporter.export(Signal.TRACES, batch)
        finally:
            await exporter.shutdown(asyncio.get_running_loop().time() + 5)
            await rec.stop()
        return outcome, rec.requests, context.telemetry

    outcome, requests, telemetry = await go()
    assert outcome.ok and outcome.rejected == 0, outcome
    assert len(requests) >= 3  # 12,063 spans and 6.4 MB: at least two by count, and bytes on top
    received: dict[bytes, Any] = {}
    for req in requests:
        verify_sigv4(req, "xray", REGION)
        raw = gzip.decompress(req.body)
        assert len(raw) <= otlp_limits.MAX_REQUEST_BYTES
        part = ExportTraceServiceRequest.FromString(raw)
        spans = [s for rs in part.resource_spans for ss in rs.scope_spans for s in ss.spans]
        assert len(spans) <= otlp_limits.MAX_SPANS
        for rs in part.resource_spans:
            for ss in rs.scope_spans:
                assert rs.resource.ByteSize() + ss.scope.ByteSize() <= otlp_limits.MAX_RESOURCE_SCOPE_BYTES
                for s in ss.spans:
                    assert s.ByteSize() <= otlp_limits.MAX_SPAN_BYTES
                    received[s.span_id] = (rs.resource, s)
    sent = {s.span_id for rs in batch.resource_spans for ss in rs.scope_spans for s in ss.spans}
    assert set(received) == sent  # nothing lost, nothing twice
    resource, trimmed = received[(12_061).to_bytes(8, "big")]
    assert [kv.key for kv in trimmed.attributes] == ["keep"] and trimmed.dropped_attributes_count == 1
    assert [kv.key for kv in resource.attributes] == ["service.name"] and resource.dropped_attributes_count == 1
    limits_metric = telemetry.find("ecs_otel_sidecar_xray_otlp_limits_total")
    assert limits_metric.get(reason="span_trimmed") == 1 and limits_metric.get(reason="resource_trimmed") == 1
    assert telemetry.find("ecs_otel_sidecar_xray_otlp_split_requests_total").get() == len(requests)


def test_a_batch_within_the_limits_is_sent_as_it_is() -> None:
    batch = checkout_trace()
    assert otlp_limits.split(batch).requests[0] is batch


@pytest.mark.parametrize(
    ("script", "ok", "rejected", "calls"),
    [
        ([(200, None), (400, None)], True, 1, 2),  # the refused part costs its own spans only
        ([(400, None), (200, None)], True, 10_000, 2),
        ([(200, None), (503, None)], True, 1, 2),  # part one is in X-Ray: not retried, the rest counted
        ([(503, None)], False, 0, 1),  # nothing sent yet: the whole batch is retried
        ([(400, None), (400, None)], False, 0, 2),  # every part refused: a failure
    ],
)
async def test_xray_otlp_parts_fail_on_their_own(
    creds: None, script: list[tuple[int, Any]], ok: bool, rejected: int, calls: int
) -> None:
    batch = ExportTraceServiceRequest()
    ss = batch.resource_spans.add().scope_spans.add()
    trace_id = int(time.time()).to_bytes(4, "big") + b"\x06" * 12
    for i in range(otlp_limits.MAX_SPANS + 1):
        ss.spans.add(trace_id=trace_id, span_id=(i + 1).to_bytes(8, "big"), name="s")

    async def go() -> Any:
        rec = Recorder(script=list(script))
        url = await rec.start()
        context = SidecarContext(env={"AWS_REGION": REGION, "AWS_ENDPOINT_URL_XRAY": url})
        exporter = XRayExporter(XRayExporter.Settings(proxy_port=-1), context)
        await exporter.start()
        try:
            return await exporter.export(Signal.TRACES, batch), len(rec.requests)
        finally:
            await exporter.shutdown(asyncio.get_running_loop().time() + 5)
            await rec.stop()

    outcome, made = await go()
    assert (outcome.ok, made) == (ok, calls), outcome
    if ok:
        assert outcome.rejected == rejected
    else:
        assert outcome.retryable == (script[0][0] == 503)
