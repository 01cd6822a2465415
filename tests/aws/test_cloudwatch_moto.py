"""The cloudwatch exporter (EMF and logs api modes) against moto in server mode."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from sidecar.context import SidecarContext
from sidecar.exporters.cloudwatch._internal.batching import EVENT_OVERHEAD, MAX_BATCH_BYTES, MAX_EVENTS
from sidecar.exporters.cloudwatch.exporter import CloudWatchExporter
from sidecar.otlp.signals import Signal
from sidecar.pipeline.exporter import ExportOutcome
from tests.aws.emf_schema import validate
from tests.aws.metrics import app
from tests.support.aws import logs_client, read_all

TASK = {
    "aws.ecs.task.family": "shop",
    "aws.ecs.task.arn": "arn:aws:ecs:us-east-1:123456789012:task/demo/feedc0de",
    "aws.ecs.cluster.arn": "arn:aws:ecs:us-east-1:123456789012:cluster/demo",
}


def make(env: dict[str, str], **kw: Any) -> CloudWatchExporter:
    unique = uuid.uuid4().hex[:8]
    kw.setdefault("metrics_log_group", f"/ecs/{{family}}/metrics-{unique}")
    kw.setdefault("log_group", f"/ecs/{{family}}/logs-{unique}")
    return CloudWatchExporter(
        CloudWatchExporter.Settings(**kw), SidecarContext(env=env, task_attributes=TASK)
    )


async def run(exporter: CloudWatchExporter, body: Callable[[], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        await exporter.start()
        try:
            return await body()
        finally:
            await exporter.shutdown(asyncio.get_running_loop().time() + 5)

    return await go()


async def test_emf_events_read_back_with_expected_values_and_retention(aws_env: dict[str, str]) -> None:
    exporter = make(aws_env)
    assert exporter.metrics_group.startswith("/ecs/shop/metrics-") and exporter.metrics_stream == "feedc0de"
    with app() as a:

        async def body() -> list[ExportOutcome]:
            a.requests.add(5, {"http.route": "/a"})
            a.duration.record(12, {"http.route": "/a"})
            first = await exporter.export(Signal.METRICS, a.collect())
            a.requests.add(3, {"http.route": "/a"})
            second = await exporter.export(Signal.METRICS, a.collect())
            return [first, second]

        outcomes = await run(exporter, body)
    assert all(o.ok for o in outcomes), outcomes
    events = [
        validate(e["message"]) for e in read_all(aws_env, exporter.metrics_group, exporter.metrics_stream)
    ]
    counts = [e["http.server.requests"] for e in events if "http.server.requests" in e]
    assert counts == [5, 3]
    hist = next(e["http.server.duration"] for e in events if "http.server.duration" in e)
    assert hist["Count"] == 1 and hist["Sum"] == 12
    assert all(e["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ECS/OTel" for e in events)
    groups = logs_client(aws_env).describe_log_groups(logGroupNamePrefix=exporter.metrics_group)["logGroups"]
    assert groups[0]["retentionInDays"] == 30


async def test_logs_api_mode_splits_over_10000_events_and_1_mib(aws_env: dict[str, str]) -> None:
    exporter = make(aws_env, logs_mode="api", logs_format="body")
    calls: list[tuple[int, int]] = []
    real = exporter.api.call

    async def recording(operation: str, params: Any, **kw: Any) -> Any:
        response = await real(operation, params, **kw)  # the first call fails: the stream is created
        if operation == "PutLogEvents":
            events = params["logEvents"]
            size = sum(len(e["message"].encode()) + EVENT_OVERHEAD for e in events)
            calls.append((len(events), size))
            stamps = [e["timestamp"] for e in events]
            assert stamps == sorted(stamps)
        return response

    exporter.api.call = recording  # type: ignore[method-assign]
    request = ExportLogsServiceRequest()
    records = request.resource_logs.add().scope_logs.add().log_records
    now_ns = time.time_ns()
    n = 12_000
    for i in range(n):
        r = records.add(time_unix_nano=now_ns - (n - i) * 1_000_000)
        r.body.string_value = f"line {i:05d} " + "p" * 90
    outcome = await run(exporter, lambda: exporter.export(Signal.LOGS, request))
    assert outcome.ok and outcome.rejected == 0, outcome
    assert sum(c for c, _ in calls) == n and len(calls) >= 2
    assert all(c <= MAX_EVENTS and s <= MAX_BATCH_BYTES for c, s in calls)
    assert sum(s for _, s in calls) > MAX_BATCH_BYTES
    got = read_all(aws_env, exporter.log_group, exporter.log_stream)
    assert (
        len(got) == n
        and got[0]["message"].startswith("line 00000")
        and got[-1]["message"].startswith("line 11999")
    )


async def test_logs_api_json_records_keep_trace_context(aws_env: dict[str, str]) -> None:
    exporter = make(aws_env, logs_mode="api")
    request = ExportLogsServiceRequest()
    rl = request.resource_logs.add()
    rl.resource.attributes.add(key="service.name").value.string_value = "checkout"
    r = rl.scope_logs.add().log_records.add(
        time_unix_nano=time.time_ns(), severity_text="ERROR", severity_number=17
    )
    r.body.string_value = "payment failed"
    r.trace_id = bytes.fromhex("5f5e1000aaaaaaaaaaaaaaaaaaaaaaaa")
    r.span_id = bytes.fromhex("bbbbbbbbbbbbbbbb")
    outcome = await run(exporter, lambda: exporter.export(Signal.LOGS, request))
    assert outcome.ok
    import json

    (event,) = read_all(aws_env, exporter.log_group, exporter.log_stream)
    doc = json.loads(event["message"])
    assert doc["body"] == "payment failed" and doc["severity_text"] == "ERROR"
    assert doc["trace_id"] == "5f5e1000aaaaaaaaaaaaaaaaaaaaaaaa" and doc["span_id"] == "bbbbbbbbbbbbbbbb"
    assert doc["resource"] == {"service.name": "checkout"}
