"""End to end: the real sidecar scrapes the ECS metadata emulator and writes both EMF outputs to moto."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ecs_otel.metadata import parse_task
from ecs_otel.resource import task_attributes
from sidecar.exporters.cloudwatch._internal.container_insights import NAMESPACE
from sidecar.exporters.cloudwatch._internal.naming import placeholders
from tests.aws.emf_schema import validate
from tests.aws.moto_process import MotoProcess
from tests.support.aws import read_all
from tests.support.emulator import EmulatorProcess
from tests.support.polling import wait_for
from tests.support.sidecar import SidecarProcess, sidecar_factory  # noqa: F401 - fixture


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess(tmp_path)  # synthesised: counters that advance, timestamps of now
    try:
        yield emu
    finally:
        emu.stop()


def test_sidecar_writes_container_insights_from_its_own_scrapes(
    moto: MotoProcess,
    aws_env: dict[str, str],
    emulator: EmulatorProcess,
    sidecar_factory: Callable[..., SidecarProcess],  # noqa: F811
) -> None:
    with urllib.request.urlopen(emulator.uri + "/task", timeout=10) as resp:
        task_doc = json.loads(resp.read())
    names = placeholders(task_attributes(parse_task(task_doc)))
    unique = uuid.uuid4().hex[:8]
    sidecar_factory(
        {
            **moto.env(),
            "ECS_CONTAINER_METADATA_URI_V4": emulator.uri,
            "ECS_OTEL_STATS_INTERVAL": "1",
            "ECS_OTEL_METRICS_EXPORTERS": "cloudwatch",
            "ECS_OTEL_TRACES_EXPORTERS": "debug",
            "ECS_OTEL_LOGS_EXPORTERS": "debug",
            "ECS_OTEL_CLOUDWATCH_CONTAINER_INSIGHTS": "true",
            "ECS_OTEL_CLOUDWATCH_METRICS_LOG_GROUP": f"/e2e/{unique}/metrics",
        }
    )
    group = f"/aws/ecs/containerinsights/{names['cluster']}/performance"

    def task_events() -> list[dict[str, Any]]:
        events = [validate(e["message"]) for e in read_all(aws_env, group, names["task_id"])]
        return [e for e in events if "CpuUtilized" in e and "ContainerName" not in e]

    events = wait_for(task_events, timeout_s=90)
    e = events[0]
    assert e["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
    assert e["ClusterName"] == names["cluster"] and e["TaskId"] == names["task_id"]
    assert e["TaskDefinitionFamily"] == task_doc["Family"]
    assert e["CpuUtilized"] >= 0 and e["MemoryUtilized"] > 0
    # The same scrape in the regular output: CPU units are its vCPU × 1024, memory the same MiB.
    regular = [validate(m["message"]) for m in read_all(aws_env, f"/e2e/{unique}/metrics", names["task_id"])]
    by_time = {m["_aws"]["Timestamp"]: m for m in regular if "ecs.task.cpu.usage.vcpu" in m}
    same = by_time[e["_aws"]["Timestamp"]]
    assert e["CpuUtilized"] == pytest.approx(same["ecs.task.cpu.usage.vcpu"] * 1024)
    assert e["MemoryUtilized"] == pytest.approx(same["ecs.task.memory.utilized"])
