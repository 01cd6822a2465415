"""``service.version`` defaults to what was deployed (image tag, else task definition revision).

The end-to-end cases run a real app (``import ecs_otel.auto``) against the ECS emulator serving
recorded metadata documents from ``tests/fixtures/ecs`` and read the resource from what a real OTLP
receiver got; the rule itself is also checked on those documents and on image references ECS accepts.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ecs_otel.metadata import TaskMetadata, parse_task
from ecs_otel.resource import default_service_version
from tests.ecs_otel.conftest import base_env, metric_names, resource_spans, run, write_script
from tests.support.emulator import EmulatorProcess
from tests.support.otlp_sink import SinkProcess
from tests.support.paths import REPO_ROOT

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "ecs"

APP = """
import ecs_otel.auto
from opentelemetry import metrics, trace

metrics.get_meter("app").create_counter("app.orders").add(1)
with trace.get_tracer("app").start_as_current_span("checkout"):
    pass
import sys, time
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)  # one metric interval, when metrics are checked
"""


def _task(name: str) -> TaskMetadata:
    return parse_task(json.loads((FIXTURES / name).read_text()))


@pytest.mark.parametrize(
    ("fixture", "container", "expected"),
    [
        ("fargate-task-metadata-multi-container.json", "prometheus", "v3.1.0"),  # prom/prometheus:v3.1.0
        ("fargate-task-metadata-multi-container.json", "ecs-exporter", "main"),  # a tag, even a branch name
        ("fargate-task-metadata-multi-container.json", "nonessential", "9"),  # `alpine`: no tag → revision 9
        ("fargate-task-metadata-2020.json", "curl", "3"),  # …/curltest:latest → revision 3
        ("ec2-task-metadata-service-multi-container.json", "prometheus", "v3.1.0"),
        ("ec2-task-metadata-service-multi-container.json", "nonessential", "13"),
    ],
)
def test_rule_on_recorded_documents(fixture: str, container: str, expected: str) -> None:
    task = _task(fixture)
    (c,) = [c for c in task.containers if c.name == container]
    assert default_service_version(task, c) == expected


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("111122223333.dkr.ecr.eu-west-1.amazonaws.com/shop/checkout:2026.12.03-1", "2026.12.03-1"),
        ("registry.local:5000/checkout", "9"),  # a registry port is not a tag
        ("registry.local:5000/checkout:latest", "9"),
        ("checkout@sha256:" + "a" * 64, "9"),  # pinned by digest only: the revision names the deployment
        ("checkout:1.4.2@sha256:" + "a" * 64, "1.4.2"),
    ],
)
def test_rule_on_image_references(image: str, expected: str) -> None:
    task = _task("fargate-task-metadata-multi-container.json")
    container = dataclasses.replace(task.containers[0], image=image)
    assert default_service_version(task, container) == expected


def test_nothing_invented_off_ecs() -> None:
    assert default_service_version(None, None) is None


def _resource(sink: SinkProcess, emu: EmulatorProcess, tmp_path: Path, **env: str) -> dict[str, Any]:
    script = write_script(tmp_path, APP)
    proc = run([sys.executable, str(script)], base_env(sink, emu, **env))
    assert proc.returncode == 0, proc.stderr
    return resource_spans(sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1))[0][0]


def test_image_tag_is_the_version_of_spans_and_metrics(tmp_path: Path, sink: SinkProcess) -> None:
    with EmulatorProcess(tmp_path, "--scenario", "fargate-cgroupv1", "--container-name", "prometheus") as emu:
        script = write_script(tmp_path, APP)
        proc = run([sys.executable, str(script), "1.2"], base_env(sink, emu))
        assert proc.returncode == 0, proc.stderr
    res = resource_spans(sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1))[0][0]
    assert res["service.version"] == "v3.1.0"
    metrics = metric_names(sink.wait_for("metrics", lambda r: "app.orders" in metric_names(r)))
    assert metrics["app.orders"]["service.version"] == "v3.1.0"


def test_latest_tag_falls_back_to_the_task_definition_revision(tmp_path: Path, sink: SinkProcess) -> None:
    with EmulatorProcess(tmp_path, "--scenario", "fargate-2020") as emu:
        res = _resource(sink, emu, tmp_path)
    assert res["service.version"] == "3"
    assert res["aws.ecs.task.revision"] == "3"


def test_the_users_service_version_wins(tmp_path: Path, sink: SinkProcess) -> None:
    with EmulatorProcess(tmp_path, "--scenario", "fargate-cgroupv1", "--container-name", "prometheus") as emu:
        res = _resource(sink, emu, tmp_path,
                        OTEL_RESOURCE_ATTRIBUTES="service.version=2.0.0-rc1,deployment.environment.name=test")
    assert res["service.version"] == "2.0.0-rc1"
    assert res["deployment.environment.name"] == "test"
