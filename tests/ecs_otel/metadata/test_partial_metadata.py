"""One odd entry in a task document costs only what it carries (issue 13, item 14).

A container entry without ``Name`` used to fail the whole task (``MetadataMalformed``), and a task
ARN that does not parse (``default/158d…``) emptied the whole resource. Now every attribute that is
still known is kept, what is not is skipped, and the problem is one warning.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from ecs_otel.metadata import parse_task
from ecs_otel.resource import (
    AWS_ECS_CLUSTER_ARN,
    AWS_ECS_TASK_ARN,
    CLOUD_ACCOUNT_ID,
    CLOUD_REGION,
    container_attributes,
    resource_attributes,
    task_attributes,
)
from tests.conftest import FIXTURES
from tests.ecs_otel.conftest import base_env, run, write_script
from tests.support.emulator import EmulatorProcess

TASK_FILES = sorted(p.name for p in FIXTURES.glob("*task-metadata*.json") if not p.name.startswith("managed-instances"))


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest.mark.parametrize("name", TASK_FILES)
def test_a_container_entry_without_a_name_is_left_out_and_the_task_kept(name: str, caplog) -> None:
    doc = load(name)
    clean = parse_task(doc)
    broken = copy.deepcopy(doc)
    del broken["Containers"][0]["Name"]
    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        task = parse_task(broken)
        again = parse_task(broken)  # the sidecar re-reads the document: still one warning
    assert task == again
    assert task.containers == clean.containers[1:]
    assert task_attributes(task) == task_attributes(clean)
    for kept in task.containers:
        assert resource_attributes(task, kept) == resource_attributes(clean, kept)
    assert task.problems == ("skipped task.Containers[0] (task.Containers[0].Name: missing)",)
    warnings = [r.getMessage() for r in caplog.records if "task.Containers[0]" in r.getMessage()]
    assert len(warnings) <= 1  # one per process: an earlier parametrisation may already have said it
    assert "MetadataMalformed" not in caplog.text


@pytest.mark.parametrize("name", TASK_FILES)
def test_a_task_arn_that_does_not_parse_costs_only_the_arn(name: str) -> None:
    doc = load(name)
    clean = parse_task(doc)
    broken = dict(doc, TaskARN=doc["TaskARN"].split(":task/", 1)[1])  # "default/158d…"
    task = parse_task(broken)
    expected = task_attributes(clean)
    del expected[AWS_ECS_TASK_ARN]
    if not any(c.get("ContainerARN") for c in doc["Containers"]) and not doc["Cluster"].startswith("arn:"):
        # Region and account live only in ARNs: without the task's, the cluster's or a container's, unknown.
        for key in (CLOUD_REGION, CLOUD_ACCOUNT_ID, AWS_ECS_CLUSTER_ARN):
            del expected[key]
    assert task_attributes(task) == expected
    assert task.task_id == clean.task_id  # the last segment still names the task
    assert task.containers == clean.containers
    assert [p for p in task.problems if "TaskARN" in p] == [f"task.TaskARN: not an ECS ARN: {broken['TaskARN']!r}"]


def test_the_pause_fixture_keeps_region_and_account_from_its_container_arn() -> None:
    doc = load("ec2-task-metadata-awsvpc-pause.json")
    task = parse_task(dict(doc, TaskARN="default/158d1c8083dd49d6b527399fd6414f5c"))
    attrs = task_attributes(task)
    assert attrs[CLOUD_REGION] == "us-west-2" and attrs[CLOUD_ACCOUNT_ID] == "111122223333"
    assert attrs["aws.ecs.task.id"] == "158d1c8083dd49d6b527399fd6414f5c"
    assert attrs[AWS_ECS_CLUSTER_ARN] == "arn:aws:ecs:us-west-2:111122223333:cluster/default"
    assert AWS_ECS_TASK_ARN not in attrs


def test_a_container_document_without_a_name_keeps_the_rest() -> None:
    from ecs_otel.metadata import parse_container

    doc = load("fargate-container-metadata.json")
    del doc["Name"]
    attrs = container_attributes(parse_container(doc))
    assert "container.name" not in attrs
    assert attrs["container.id"] == doc["DockerId"]


RESOURCE_APP = """
import ecs_otel.auto
import json
from ecs_otel._setup import current
print("RESOURCE", json.dumps(dict(current().resource.attributes), default=list), flush=True)
"""


def test_the_app_keeps_its_resource_when_the_task_document_is_odd(tmp_path: Path) -> None:
    doc = load("ec2-task-metadata-service-multi-container.json")
    own = next(c for c in doc["Containers"] if c.get("Type") != "CNI_PAUSE")
    odd = copy.deepcopy(doc)
    odd["TaskARN"] = odd["TaskARN"].split(":task/", 1)[1]
    other = next(c for c in odd["Containers"] if c["Name"] != own["Name"])
    del other["Name"]
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps(odd))
    container_file = tmp_path / "container.json"
    container_file.write_text(json.dumps(own))
    with EmulatorProcess(tmp_path, "--task", str(task_file), "--container", str(container_file)) as emu:
        # A generous metadata budget: on a loaded machine the default 1 s could lose the documents.
        env = base_env(None, emu, OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none",
                       ECS_OTEL_INSTRUMENTATION="false", ECS_OTEL_LOGGING="false", ECS_OTEL_METADATA_TIMEOUT="10")
        proc = run([sys.executable, str(write_script(tmp_path, RESOURCE_APP))], env)
    assert proc.returncode == 0, proc.stderr
    attrs = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESOURCE "))[9:])
    expected = resource_attributes(parse_task(doc), parse_task(doc).container_by_name(own["Name"]))
    del expected[AWS_ECS_TASK_ARN]
    expected = {k: list(v) if isinstance(v, tuple) else v for k, v in expected.items()}
    assert {k: attrs.get(k) for k in expected} == expected
    assert AWS_ECS_TASK_ARN not in attrs
    assert attrs["service.name"] == doc["Family"]
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("ECS task metadata: skipped what could not be read") == 1, proc.stderr
    assert "metadata incomplete" not in proc.stderr
