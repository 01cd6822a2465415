"""Container Insights beside the regular EMF output, through the cloudwatch exporter, read back from moto.

The metrics are what the ``ecs_stats`` scraper sends: a real fixture pair (EC2 service task,
cgroup v2) through the scraper's own calculator and OTLP builder, with the sample times moved
to now (CloudWatch Logs refuses events older than 14 days).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from ecs_otel.metadata import parse_task
from ecs_otel.resource import task_attributes
from sidecar.aws import AwsApiError
from sidecar.config import load_settings
from sidecar.context import SidecarContext
from sidecar.exporters.cloudwatch._internal.container_insights import DIMENSION_SETS, NAMESPACE
from sidecar.exporters.cloudwatch.exporter import CloudWatchExporter
from sidecar.otlp.signals import Signal
from sidecar.pipeline.exporter import ExportOutcome
from sidecar.pipeline.telemetry import Histogram
from sidecar.scrapers.ecs_stats._internal import StatsCalculator, parse_task_stats
from sidecar.scrapers.ecs_stats._internal.otlp import build_request
from tests.aws.emf_schema import validate
from tests.aws.metrics import app
from tests.sidecar.scrapers.ecs_stats.fixtures_util import MIB, load
from tests.support.aws import logs_client, read_all

TASK_ID = "506f22fab0414cde856201584703fed9"
FAMILY = "prom-ecs-exporter-sandbox-main-ec2"
SERVICE = "prom-ecs-exporter-sandbox-main-ec2"
CONTAINERS = {"nonessential", "ecs-exporter", "prometheus"}
WRITE_BUMP = 4096  # bytes the ecs-exporter container writes between the two samples


def _rfc3339(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%S") + (
        f".{ns % 1_000_000_000:09d}Z"
    )


class Task:
    """The fixture task under a unique cluster name (so each test has its own Container Insights group)."""

    def __init__(self) -> None:
        self.cluster = f"ci-{uuid.uuid4().hex[:10]}"
        self.task_doc = load("ec2-task-metadata-service-multi-container")
        self.task_doc["Cluster"] = self.cluster
        self.task_doc["TaskARN"] = self.task_doc["TaskARN"].replace("prom-ecs-exporter-sandbox", self.cluster)
        self.stats_doc = load("ec2-task-stats-cgroupv2")
        self.task = parse_task(self.task_doc)
        self.calc = StatsCalculator(fallback_start_ns=0)
        self.t0 = time.time_ns() - 10_000_000_000

    def sample(self, n: int) -> ExportMetricsServiceRequest:
        """Sample ``n`` (0, 1, …) five seconds after the previous one; only ecs-exporter's writes grow."""
        read_ns = self.t0 + n * 5_000_000_000
        doc = copy.deepcopy(self.stats_doc)
        for c in doc.values():
            if not c:
                continue
            c["read"], c["preread"] = _rfc3339(read_ns), _rfc3339(read_ns - 1_000_000_000)
            for cpu in (c["cpu_stats"], c["precpu_stats"]):
                cpu["cpu_usage"]["total_usage"] += n * 1_000_000  # same difference: same vCPU
            if c["name"].endswith(("ecs-exporter-e2aeb1e6be8998c72300",)):
                for entry in c["blkio_stats"]["io_service_bytes_recursive"]:
                    if entry["op"] == "write":
                        entry["value"] += n * WRITE_BUMP
        values = self.calc.compute(self.task, parse_task_stats(doc), read_ns, self.task_doc)
        return build_request(values)

    @property
    def context_attributes(self) -> dict[str, Any]:
        return dict(task_attributes(self.task))


def hand_vcpu(stats_doc: dict[str, Any]) -> dict[str, float]:
    """Docker id → vCPU over the 1 s between preread and read, from the raw document."""
    out = {}
    for docker_id, c in stats_doc.items():
        if c:
            used = c["cpu_stats"]["cpu_usage"]["total_usage"] - c["precpu_stats"]["cpu_usage"]["total_usage"]
            out[docker_id] = used / 1e9
    return out


def hand_working_set_mib(stats_doc: dict[str, Any]) -> float:
    """Task working set by the ECS agent's cgroup v2 rule: usage − inactive_file, summed, in MiB."""
    return (
        sum(
            c["memory_stats"]["usage"] - c["memory_stats"]["stats"]["inactive_file"]
            for c in stats_doc.values()
            if c
        )
        / MIB
    )


def make(env: dict[str, str], task: Task, **kw: Any) -> CloudWatchExporter:
    kw.setdefault("metrics_log_group", f"/ecs/{{family}}/metrics-{task.cluster}")
    return CloudWatchExporter(
        CloudWatchExporter.Settings(**kw), SidecarContext(env=env, task_attributes=task.context_attributes)
    )


async def run(exporter: CloudWatchExporter, body: Callable[[], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        await exporter.start()
        try:
            return await body()
        finally:
            await exporter.shutdown(asyncio.get_running_loop().time() + 5)

    return await go()


async def export_samples(exporter: CloudWatchExporter, task: Task, n: int) -> list[ExportOutcome]:
    async def body() -> list[ExportOutcome]:
        return [await exporter.export(Signal.METRICS, task.sample(i)) for i in range(n)]

    return await run(exporter, body)


def ci_group(task: Task) -> str:
    return f"/aws/ecs/containerinsights/{task.cluster}/performance"


async def test_container_insights_events_beside_the_regular_emf(aws_env: dict[str, str]) -> None:
    task = Task()
    exporter = make(aws_env, task, container_insights=True)
    assert exporter.insights is not None and exporter.insights.delta is not exporter.delta
    outcomes = await export_samples(exporter, task, 2)
    assert all(o.ok for o in outcomes), outcomes

    ci = [validate(e["message"]) for e in read_all(aws_env, ci_group(task), TASK_ID)]
    regular = [validate(e["message"]) for e in read_all(aws_env, exporter.metrics_group, TASK_ID)]
    assert ci and regular

    # Every Container Insights event: its namespace, its dimension sets, the dimensions as string members.
    for e in ci:
        (directive,) = e["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == NAMESPACE == "ECS/ContainerInsights"
        assert all(s in DIMENSION_SETS for s in directive["Dimensions"])
        assert e["ClusterName"] == task.cluster and e["TaskDefinitionFamily"] == FAMILY
        assert e["TaskId"] == TASK_ID and e["ServiceName"] == SERVICE
        assert not any(k.startswith(("ecs.", "container.")) for k in e)  # no regular names leak in
    # Nothing of Container Insights in the regular output, which keeps its own namespace and names.
    for e in regular:
        assert e["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ECS/OTel"
        assert not any(k in e for k in ("CpuUtilized", "ClusterName", "TaskId"))

    # Task level: CPU units (vCPU × 1024) and MiB, by hand from the fixture.
    task_events = [e for e in ci if "CpuUtilized" in e]
    assert len(task_events) == 2 and all("ContainerName" not in e for e in task_events)
    vcpu = hand_vcpu(task.stats_doc)
    for e in task_events:
        assert e["CpuUtilized"] == pytest.approx(sum(vcpu.values()) * 1024)
        assert e["CpuReserved"] == pytest.approx(sum(c["Limits"]["CPU"] for c in task.task_doc["Containers"]))
        assert e["MemoryUtilized"] == pytest.approx(hand_working_set_mib(task.stats_doc))
        units = {m["Name"]: m.get("Unit") for m in e["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
        assert units["MemoryUtilized"] == "Megabytes" and units["CpuUtilized"] is None
        assert ["ClusterName", "TaskDefinitionFamily", "TaskId"] in e["_aws"]["CloudWatchMetrics"][0][
            "Dimensions"
        ]
    regular_vcpu = [e["ecs.task.cpu.usage.vcpu"] for e in regular if "ecs.task.cpu.usage.vcpu" in e]
    assert [e["CpuUtilized"] for e in task_events] == pytest.approx([v * 1024 for v in regular_vcpu])

    # Container level: the four dimensions the brief names, CPU units per container.
    by_container: dict[str, list[dict[str, Any]]] = {}
    for e in ci:
        if "ContainerName" in e:
            by_container.setdefault(e["ContainerName"], []).append(e)
    assert set(by_container) == CONTAINERS
    for name, events in by_container.items():
        docker_id = next(c["DockerId"] for c in task.task_doc["Containers"] if c["Name"] == name)
        for e in events:
            if docker_id in vcpu:
                assert e["ContainerCpuUtilized"] == pytest.approx(vcpu[docker_id] * 1024)
            else:  # stopped, its stats an empty object: only what the task definition reserves
                assert "ContainerCpuUtilized" not in e and e["ContainerCpuReserved"] == 128
            assert ["ClusterName", "TaskDefinitionFamily", "ContainerName"] in (
                e["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
            )
    exporter_mem = task.stats_doc["01cf1f3208005cda71d5ac936ded65d2ecc0a8cc8ff8a82d2e00410bf4fbbd6d"][
        "memory_stats"
    ]
    assert by_container["ecs-exporter"][0]["ContainerMemoryUtilized"] == pytest.approx(
        (exporter_mem["usage"] - exporter_mem["stats"]["inactive_file"]) / MIB
    )

    # Cumulative storage: the first sample is a baseline (containers started before the sidecar), the
    # second a delta, in each output from its own table, with the same answer.
    ci_writes = {n: [e.get("ContainerStorageWriteBytes") for e in ev] for n, ev in by_container.items()}
    assert ci_writes == {
        "ecs-exporter": [None, WRITE_BUMP],
        "nonessential": [None, None],
        "prometheus": [None, 0],
    }
    assert [e.get("StorageWriteBytes") for e in task_events] == [None, WRITE_BUMP]
    regular_writes = [
        e["container.storage.write_bytes"] for e in regular if "container.storage.write_bytes" in e
    ]
    assert sorted(regular_writes) == [0, WRITE_BUMP]

    groups = logs_client(aws_env).describe_log_groups(logGroupNamePrefix=ci_group(task))["logGroups"]
    assert [g["logGroupName"] for g in groups] == [ci_group(task)] and groups[0]["retentionInDays"] == 30


async def test_flag_off_writes_no_container_insights_group(aws_env: dict[str, str]) -> None:
    task = Task()
    exporter = make(aws_env, task)
    assert exporter.settings.container_insights is False and exporter.insights is None
    outcomes = await export_samples(exporter, task, 1)
    assert all(o.ok for o in outcomes), outcomes
    assert [
        e
        for e in read_all(aws_env, exporter.metrics_group, TASK_ID)
        if "ecs.task.cpu.usage.vcpu" in e["message"]
    ]
    client = logs_client(aws_env)
    assert (
        client.describe_log_groups(logGroupNamePrefix=f"/aws/ecs/containerinsights/{task.cluster}")[
            "logGroups"
        ]
        == []
    )


async def test_app_metrics_alone_create_no_container_insights_group(aws_env: dict[str, str]) -> None:
    """Only ecs_stats metrics have Container Insights names: an app's batch leaves the group alone."""
    task = Task()
    exporter = make(aws_env, task, container_insights=True)
    with app() as a:
        a.requests.add(2, {"http.route": "/a"})
        outcome = await run(exporter, lambda: exporter.export(Signal.METRICS, a.collect()))
    assert outcome.ok, outcome
    events = [
        validate(e["message"]) for e in read_all(aws_env, exporter.metrics_group, exporter.metrics_stream)
    ]
    assert [e["http.server.requests"] for e in events] == [2]
    client = logs_client(aws_env)
    assert client.describe_log_groups(logGroupNamePrefix=ci_group(task))["logGroups"] == []


def test_env_variable_turns_it_on() -> None:
    settings = load_settings(
        CloudWatchExporter.Settings,
        {},
        {"ECS_OTEL_CLOUDWATCH_CONTAINER_INSIGHTS": "true"},
        "exporters.cloudwatch",
    )
    assert settings.container_insights is True


async def test_otlp_mode_warns_once_and_ignores_the_flag(
    aws_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    task = Task()
    exporter = make(aws_env, task, mode="otlp", container_insights=True)
    assert exporter.insights is None and exporter.insights_writer is None
    with caplog.at_level(logging.WARNING, logger="ecs_otel.sidecar"):
        await run(exporter, lambda: asyncio.sleep(0))
    warnings = [r for r in caplog.records if "Container Insights" in r.getMessage()]
    assert len(warnings) == 1 and "emf" in warnings[0].getMessage()


async def test_container_insights_failure_is_counted_not_retried(
    aws_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A throttled Container Insights write neither fails nor retries the batch (which would write
    the regular events twice); a throttled regular write retries and holds Container Insights back."""
    task = Task()
    exporter = make(aws_env, task, container_insights=True)
    real = exporter.api.call
    throttle = {"group": ci_group(task)}
    puts: list[str] = []

    async def call(operation: str, params: Any, **kw: Any) -> Any:
        if operation == "PutLogEvents":
            puts.append(params["logGroupName"])
            if params["logGroupName"] == throttle["group"]:
                raise AwsApiError(operation, "ThrottlingException", "Rate exceeded", 400)
        return await real(operation, params, **kw)

    exporter.api.call = call  # type: ignore[method-assign]

    async def body() -> list[ExportOutcome]:
        first = await exporter.export(Signal.METRICS, task.sample(0))  # Container Insights throttled
        throttle["group"] = exporter.metrics_group
        batch = task.sample(1)
        second = await exporter.export(Signal.METRICS, batch)  # regular throttled: nothing of CI sent
        throttle["group"] = ""
        third = await exporter.export(Signal.METRICS, batch)  # the queue's retry: both written
        return [first, second, third]

    with caplog.at_level(logging.WARNING, logger="ecs_otel.sidecar"):
        first, second, third = await run(exporter, body)
    assert first.ok and second.retryable and third.ok
    assert puts.count(exporter.metrics_group) >= 3
    assert len([r for r in caplog.records if "Container Insights events not written" in r.getMessage()]) == 1
    events = exporter.context.telemetry.find("ecs_otel_sidecar_cloudwatch_log_events_total")
    assert events is not None and not isinstance(events, Histogram)
    assert events.get(kind="container_insights", outcome="failed") == 4  # sample 0: task + 3 containers
    assert events.get(kind="container_insights", outcome="sent") == 4  # the retried sample 1
    assert events.get(kind="metrics", outcome="failed") > 0
    ci = [validate(e["message"]) for e in read_all(aws_env, ci_group(task), TASK_ID)]
    # Only the retried second sample arrived, with its storage delta intact despite the earlier attempt.
    writes = [e["ContainerStorageWriteBytes"] for e in ci if e.get("ContainerName") == "ecs-exporter"]
    assert writes == [WRITE_BUMP]
    assert {e["_aws"]["Timestamp"] for e in ci} == {(task.t0 + 5_000_000_000) // 1_000_000}
