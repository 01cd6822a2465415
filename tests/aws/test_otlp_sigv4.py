"""OTLP modes: requests reach AWS's OTLP paths signed for the right service and region (verified)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from sidecar.context import SidecarContext
from sidecar.exporters.cloudwatch.exporter import CloudWatchExporter
from sidecar.exporters.xray.exporter import XRayExporter
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


def test_xray_otlp_mode_signed_for_xray(creds: None) -> None:
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

    outcome, requests = asyncio.run(go())
    assert outcome.ok, outcome
    (req,) = requests
    assert req.path == "/v1/traces" and req.method == "POST"
    signed = verify_sigv4(req, "xray", REGION)
    assert signed["content-type"] == "application/x-protobuf"
    assert "x-amz-security-token" in signed and "host" in signed


def test_cloudwatch_otlp_modes_signed_for_monitoring_and_logs_with_group_headers(creds: None) -> None:
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

    m, lg, metric_reqs, log_reqs = asyncio.run(go())
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
