"""Container Insights names, units and dimensions from the scraper's metrics, through the real EMF encoder."""

from __future__ import annotations

import pytest

from sidecar.exporters.cloudwatch._internal.container_insights import (
    DIMENSION_SETS,
    NAMESPACE,
    container_insights_metrics,
    mapping_table,
)
from sidecar.exporters.cloudwatch._internal.delta import CumulativeToDelta
from sidecar.exporters.cloudwatch._internal.emf import EmfBuilder
from sidecar.scrapers.ecs_stats._internal.otlp import build_request
from tests.aws.aws_documents import validate_emf
from tests.sidecar.scrapers.ecs_stats.fixtures_util import MIB, compute, load


def _points(req):
    out = {}
    for rm in req.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for dp in getattr(m, m.WhichOneof("data")).data_points:
                    dims = {kv.key: kv.value.string_value for kv in dp.attributes}
                    out[(m.name, dims.get("ContainerName"))] = (dp, dims, m.unit)
    return out


def test_fargate_task_under_container_insights_names():
    values = compute(load("fargate-task-metadata-multi-container"), load("fargate-task-stats-cgroupv1"))
    ci = _points(container_insights_metrics(build_request(values)))
    dp, dims, _unit = ci[("CpuUtilized", None)]
    assert dp.as_double == pytest.approx(values.vcpu * 1024)  # CPU units, as Container Insights reports
    assert ci[("CpuReserved", None)][0].as_double == 0.25 * 1024
    assert dims == {
        "ClusterName": "prom-ecs-exporter-sandbox",
        "TaskDefinitionFamily": "prom-ecs-exporter-sandbox-main-fargate",
        "TaskId": "bae32def0ab64f06818e8862e58f8d6d",
    }  # no ServiceName on this task, no ContainerName on task metrics
    assert ci[("MemoryUtilized", None)][0].as_double == values.memory_working_set / MIB
    assert ci[("MemoryUtilized", None)][2] == "MiBy"
    assert ci[("NetworkRxBytes", None)][0].as_double == 2556.879064581499
    assert ci[("EphemeralStorageUtilized", None)][0].as_double == 427 / 1024
    cdp, cdims, _ = ci[("ContainerMemoryUtilized", "prometheus")]
    assert cdp.as_double == (127934464 - 85426176) / MIB and cdims["ContainerName"] == "prometheus"
    assert ("ContainerCpuUtilized", "nonessential") not in ci  # stopped: no stats, no CPU


def test_service_name_dimension_and_emf_encoding():
    values = compute(load("ec2-task-metadata-service-multi-container"), load("ec2-task-stats-cgroupv2"))
    ci_request = container_insights_metrics(build_request(values))
    ci = _points(ci_request)
    assert ci[("CpuUtilized", None)][1]["ServiceName"] == "prom-ecs-exporter-sandbox-main-ec2"
    builder = EmfBuilder(
        namespace=NAMESPACE, delta=CumulativeToDelta(process_start_ns=0), resource_dimensions=(),
        dimension_sets=DIMENSION_SETS,
    )
    events = [validate_emf(e.message) for e in builder.build(ci_request, now_ms=1)]
    task_event = next(e for e in events if "CpuUtilized" in e)
    assert task_event["ClusterName"] == "prom-ecs-exporter-sandbox"
    directive = task_event["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == NAMESPACE
    assert ["ClusterName", "ServiceName"] in directive["Dimensions"]
    assert {m["Name"] for m in directive["Metrics"]} >= {"CpuUtilized", "MemoryUtilized", "NetworkRxBytes"}
    assert "| `ecs.task.cpu.usage.vcpu` | `CpuUtilized` | ×1024 (vCPU → CPU units) |" in mapping_table()
