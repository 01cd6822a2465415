"""X-Ray daemon compatibility: the X-Ray SDK's UDP segments reach moto, its sampling calls arrive signed."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import socket
from typing import Any

import pytest
from aws_xray_sdk.core.sampling.connector import ServiceConnector

from sidecar.context import SidecarContext
from sidecar.exporters.xray.exporter import XRayExporter
from tests.aws.moto_process import FAKE_CREDENTIALS
from tests.aws.sigv4_recorder import Recorder, verify_sigv4
from tests.support.aws import sdk_segments, xray_client

RULE = {
    "RuleName": "checkout",
    "RuleARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/checkout",
    "ResourceARN": "*",
    "Priority": 1,
    "FixedRate": 0.25,
    "ReservoirSize": 3,
    "ServiceName": "*",
    "ServiceType": "*",
    "Host": "*",
    "HTTPMethod": "*",
    "URLPath": "*",
    "Version": 1,
}


async def _proxy_port(exporter: XRayExporter) -> int:
    await exporter.start()
    port = exporter.context.status["xray_proxy"]["port"]
    assert isinstance(port, int)
    return port


async def test_sdk_udp_segments_reach_moto(aws_env: dict[str, str]) -> None:
    exporter = XRayExporter(XRayExporter.Settings(mode="segments", proxy_port=0), SidecarContext(env=aws_env))

    async def go() -> str:
        port = await _proxy_port(exporter)
        try:
            trace_id = await asyncio.to_thread(sdk_segments, port)
            client = xray_client(aws_env)
            for _ in range(100):  # the listener flushes at least once a second
                traces = await asyncio.to_thread(client.batch_get_traces, TraceIds=[trace_id])
                if traces["Traces"]:
                    return trace_id
                await asyncio.sleep(0.1)
            raise AssertionError("segments never reached moto")
        finally:
            await exporter.shutdown(asyncio.get_running_loop().time() + 5)

    trace_id = await go()
    (trace,) = xray_client(aws_env).batch_get_traces(TraceIds=[trace_id])["Traces"]
    (doc,) = [json.loads(s["Document"]) for s in trace["Segments"]]
    assert doc["name"] == "legacy" and doc["http"]["response"]["status"] == 200
    assert doc["subsegments"][0]["name"] == "db-call"
    counter = exporter.context.telemetry.counter(
        "ecs_otel_sidecar_xray_daemon_segments_total", "", ("outcome",)
    )
    assert counter.get(outcome="received") == 1 and counter.get(outcome="sent") == 1


async def test_sampling_requests_through_proxy_arrive_signed(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(k, v)
    now = datetime.datetime.now(datetime.UTC).timestamp()

    async def go() -> Any:
        stub = Recorder()
        stub.answers["/GetSamplingRules"] = (200, {"SamplingRuleRecords": [{"SamplingRule": RULE}]})
        stub.answers["/SamplingTargets"] = (
            200,
            {
                "SamplingTargetDocuments": [
                    {
                        "RuleName": "checkout",
                        "FixedRate": 0.5,
                        "ReservoirQuota": 7,
                        "ReservoirQuotaTTL": now + 60,
                    }
                ],
                "LastRuleModification": now,
                "UnprocessedStatistics": [],
            },
        )
        env = {"AWS_REGION": "eu-central-1", "AWS_ENDPOINT_URL_XRAY": await stub.start()}
        exporter = XRayExporter(XRayExporter.Settings(proxy_port=0), SidecarContext(env=env))
        port = await _proxy_port(exporter)

        def sdk() -> Any:
            connector = ServiceConnector()
            connector.setup_xray_client("127.0.0.1", port, None)
            rules = connector.fetch_sampling_rules()
            return rules, connector.fetch_sampling_target(rules)

        try:
            return await asyncio.to_thread(sdk), stub.requests
        finally:
            await exporter.shutdown(asyncio.get_running_loop().time() + 5)
            await stub.stop()

    (rules, (targets, _)), requests = await go()
    assert [r.name for r in rules] == ["checkout"] and rules[0].rate == 0.25
    assert targets["checkout"]["rate"] == 0.5 and targets["checkout"]["quota"] == 7
    assert [r.path for r in requests] == ["/GetSamplingRules", "/SamplingTargets"]
    for r in requests:
        verify_sigv4(r, "xray", "eu-central-1")
    stats = json.loads(requests[1].body)["SamplingStatisticsDocuments"]
    assert stats[0]["RuleName"] == "checkout"


async def test_port_taken_is_one_warning_not_fatal(
    aws_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    exporter = XRayExporter(
        XRayExporter.Settings(mode="segments", proxy_port=port), SidecarContext(env=aws_env)
    )

    async def go() -> None:
        await exporter.start()
        await exporter.shutdown(asyncio.get_running_loop().time() + 5)

    try:
        with caplog.at_level(logging.WARNING):
            await go()
    finally:
        blocker.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "taken" in r.getMessage()]
    assert len(warnings) == 1 and str(port) in warnings[0].getMessage()
    assert "xray_proxy" not in exporter.context.status
