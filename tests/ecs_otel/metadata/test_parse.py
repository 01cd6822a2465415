"""Every public ECS fixture parses into the models, with the values the documents hold."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from ecs_otel.metadata import (
    MetadataMalformed,
    parse_arn,
    parse_container,
    parse_task,
    parse_tasks,
    stats_cgroup_version,
)
from ecs_otel.metadata.image import parse_image
from tests.conftest import FIXTURES

TASK_FILES = sorted(
    p.name for p in FIXTURES.glob("*task-metadata*.json") if not p.name.startswith("managed-instances")
)
CONTAINER_FILES = sorted(p.name for p in FIXTURES.glob("*container-metadata*.json"))
STATS_FILES = sorted(p.name for p in FIXTURES.glob("*stats*.json"))


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_fixture_set_is_the_expected_one() -> None:
    # Guards against a fixture being added without a parser test looking at it.
    assert len(TASK_FILES) == 8
    assert len(CONTAINER_FILES) == 2
    assert len(STATS_FILES) == 6  # managed-instances-daemon-tasks-stats: tests/sidecar/scrapers/ecs_stats/test_fixtures.py


@pytest.mark.parametrize("name", TASK_FILES)
def test_every_task_fixture_parses(name: str) -> None:
    doc = load(name)
    task = parse_task(doc)
    assert task.task_arn == doc["TaskARN"]
    assert task.task_id == doc["TaskARN"].rsplit("/", 1)[1]
    assert task.family == doc["Family"]
    assert task.revision == doc["Revision"]
    assert task.launch_type == doc["LaunchType"]
    assert task.availability_zone == doc["AvailabilityZone"]
    arn = parse_arn(doc["TaskARN"])
    assert arn is not None
    assert (task.region, task.account_id) == (arn.region, arn.account_id)
    assert task.cluster_arn is not None and task.cluster_arn.startswith(f"arn:aws:ecs:{arn.region}:{arn.account_id}:cluster/")
    assert task.cluster_arn.endswith("/" + task.cluster_name)
    assert [c.name for c in task.containers] == [c["Name"] for c in doc["Containers"]]
    for parsed, raw in zip(task.containers, doc["Containers"], strict=True):
        assert parsed.docker_id == raw["DockerId"]
        assert parsed.known_status == raw["KnownStatus"]
        assert parsed.arn == raw.get("ContainerARN")
        assert parsed.image == raw["Image"]
        assert len(parsed.networks) == len(raw.get("Networks", []))
    # Frozen: a cached task cannot be changed by one caller under another.
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.family = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        task.containers[0].labels["x"] = "y"  # type: ignore[index]


@pytest.mark.parametrize("name", CONTAINER_FILES)
def test_every_container_fixture_parses(name: str) -> None:
    doc = load(name)
    c = parse_container(doc)
    assert c.name == "curl"
    assert c.docker_id == doc["DockerId"]
    assert c.arn == doc["ContainerARN"]
    assert c.cpu_units == 10 and c.memory_limit_mib == 128
    assert c.log_driver == "awslogs"
    assert c.awslogs is not None and c.awslogs.group == doc["LogOptions"]["awslogs-group"]
    assert c.awslogs.stream == doc["LogOptions"]["awslogs-stream"]
    assert c.networks[0].network_mode == "awsvpc"
    assert c.networks[0].ipv4_addresses == tuple(doc["Networks"][0]["IPv4Addresses"])
    assert c.restart_count is None  # no public fixture has it (see test_restart_count_is_read)


def test_fargate_task_limits_and_cluster_arn() -> None:
    task = parse_task(load("fargate-task-metadata-multi-container.json"))
    assert task.cpu_vcpu == 0.25 and task.memory_limit_mib == 512
    assert task.cluster == task.cluster_arn == "arn:aws:ecs:us-east-1:829490980523:cluster/prom-ecs-exporter-sandbox"
    assert task.cluster_name == "prom-ecs-exporter-sandbox"
    assert task.service_name is None
    exporter = task.container_by_name("ecs-exporter")
    assert exporter is not None and exporter.cpu_units == 2 and exporter.memory_limit_mib is None
    assert exporter.networks[0].ipv6_addresses == ("2600:1f18:4ae8:400:7ca9:f2:a4c:8285",)


def test_ec2_short_cluster_name_becomes_an_arn() -> None:
    task = parse_task(load("ec2-task-metadata-awsvpc-pause.json"))
    assert task.cluster == "default"
    assert task.cluster_arn == "arn:aws:ecs:us-west-2:111122223333:cluster/default"
    assert task.cpu_vcpu is None and task.memory_limit_mib is None  # EC2 task without task-level size
    pause, curl = task.containers
    assert pause.is_pause and not curl.is_pause
    assert pause.image_id is None  # "" in the document: no image id, not an empty one
    assert pause.arn is None and pause.log_driver is None
    assert pause.memory_limit_mib is None  # Memory: 0 means no limit


@pytest.mark.parametrize(
    ("name", "stopped", "exit_code"),
    [
        ("fargate-task-metadata-stopped-container.json", "non", 42),
        ("fargate-task-metadata-multi-container.json", "nonessential", 0),
        ("ec2-task-metadata-service-multi-container.json", "nonessential", 0),
    ],
)
def test_stopped_container(name: str, stopped: str, exit_code: int) -> None:
    task = parse_task(load(name))
    c = task.container_by_name(stopped)
    assert c is not None
    assert c.known_status == "STOPPED"
    assert c.exit_code == exit_code
    assert c.finished_at is not None
    running = [x for x in task.containers if x.known_status == "RUNNING"]
    assert running and all(x.exit_code is None for x in running)


def test_service_name_and_vpc() -> None:
    task = parse_task(load("ec2-task-metadata-service-docs.json"))
    assert task.service_name == "MyService"
    assert task.vpc_id == "vpc-1234567890abcdef0"
    real = parse_task(load("ec2-task-metadata-service-multi-container.json"))
    assert real.service_name is not None and real.launch_type == "EC2"


def test_tags() -> None:
    task = parse_task(load("ec2-task-metadata-with-tags-docs.json"))
    assert dict(task.task_tags) == {"tag-use": "task-metadata-endpoint-test"}
    assert dict(task.container_instance_tags) == {"tag_key": "tag_value"}
    assert task.errors == ()


def test_tags_with_errors() -> None:
    task = parse_task(load("ec2-task-metadata-with-tags-error-docs.json"))
    assert dict(task.task_tags) == {}
    assert [e.field for e in task.errors] == ["ContainerInstanceTags", "TaskTags"]
    assert all(e.code == "AccessDeniedException" for e in task.errors)
    assert task.errors[1].resource_arn is not None and ":task/default/" in task.errors[1].resource_arn


def test_managed_instances_array() -> None:
    tasks = parse_tasks(load("managed-instances-daemon-tasks-metadata.json"))
    assert [t.family for t in tasks] == ["daemon-app-monitor", "web-frontend"]
    assert all(t.launch_type == "MANAGED_INSTANCES" for t in tasks)
    assert [t.group for t in tasks] == ["daemon:app-monitor", tasks[1].group]
    assert tasks[1].service_name is not None and tasks[0].service_name is None
    assert tasks[0].region == "eu-west-1" and tasks[0].account_id == "111222333444"
    arn = parse_arn(tasks[0].containers[0].arn)
    assert arn is not None and arn.resource.startswith("container/mi-cluster/")
    with pytest.raises(MetadataMalformed):
        parse_tasks({"not": "a list"})


def test_restart_count_is_read() -> None:
    # No public capture has RestartCount (the agent adds it only with a restart policy); shape from
    # amazon-ecs-agent's v4 response: an integer beside the other container fields.
    doc = load("fargate-container-metadata.json") | {"RestartCount": 3}
    assert parse_container(doc).restart_count == 3
    task = load("fargate-task-metadata-2020.json")
    task["Containers"][0]["RestartCount"] = 0
    assert parse_task(task).containers[0].restart_count == 0


def test_unknown_fields_are_ignored_and_optional_ones_missing() -> None:
    doc = {"TaskARN": "arn:aws:ecs:eu-north-1:000000000001:task/c/abc", "SomethingNew": {"x": 1}}
    task = parse_task(doc)
    assert task.task_id == "abc" and task.region == "eu-north-1"
    assert task.cluster is None and task.cluster_arn is None and task.family is None
    assert task.containers == ()


def test_a_document_that_is_not_an_object_is_malformed() -> None:
    with pytest.raises(MetadataMalformed, match=re.escape("task: expected a JSON object")):
        parse_task([])
    with pytest.raises(MetadataMalformed):
        parse_container("garbage")


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({}, "task.TaskARN: missing"),
        ({"TaskARN": "not-an-arn"}, "not an ECS ARN"),
        ({"TaskARN": "arn:aws:ecs:r:1:task/c/t", "Containers": {"a": 1}}, "task.Containers: expected a list"),
        ({"TaskARN": "arn:aws:ecs:r:1:task/c/t", "Containers": [{"DockerId": "x"}]}, "task.Containers[0].Name"),
        ({"TaskARN": "arn:aws:ecs:r:1:task/c/t", "Limits": {"CPU": "lots"}}, "task.Limits.CPU"),
        ({"TaskARN": "arn:aws:ecs:r:1:task/c/t", "Family": {"a": 1}}, "task.Family"),
    ],
)
def test_a_bad_field_is_skipped_and_named(doc: Any, fragment: str) -> None:
    task = parse_task(doc)
    assert any(fragment in problem for problem in task.problems), task.problems
    if doc.get("TaskARN", "").startswith("arn:"):
        assert (task.task_id, task.region, task.account_id) == ("t", "r", "1")  # the rest is kept


def test_a_bad_container_field_is_skipped_and_named(caplog: pytest.LogCaptureFixture) -> None:
    c = parse_container({"Name": "a", "Networks": "eth0", "Image": "alpine"})
    assert (c.name, c.networks, c.image) == ("a", (), "alpine")
    assert "container.Networks: expected a list" in caplog.text


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("fargate-task-stats-cgroupv1.json", 1),
        ("ec2-task-stats-cgroupv2.json", 2),
        ("ec2-task-stats-docs.json", 1),
        ("fargate-task-stats-stopped-empty-object.json", 1),
    ],
)
def test_stats_cgroup_version(name: str, version: int) -> None:
    stats = load(name)
    versions = {stats_cgroup_version(v) for v in stats.values()}
    # Stopped containers (null or {}) give no hint; every other container agrees.
    assert versions - {None} == {version}


def test_task_stats_pairs_match_task_containers() -> None:
    for task_file, stats_file in [
        ("fargate-task-metadata-multi-container.json", "fargate-task-stats-cgroupv1.json"),
        ("ec2-task-metadata-service-multi-container.json", "ec2-task-stats-cgroupv2.json"),
        ("fargate-task-metadata-stopped-container.json", "fargate-task-stats-stopped-empty-object.json"),
    ]:
        task = parse_task(load(task_file))
        stats = load(stats_file)
        assert {c.docker_id for c in task.containers} == set(stats)
        for c in task.containers:
            if c.known_status == "STOPPED":
                assert stats[c.docker_id] in (None, {})


@pytest.mark.parametrize(
    ("ref", "name", "tag", "digest"),
    [
        ("alpine", "alpine", None, None),
        ("prom/prometheus:v3.1.0", "prom/prometheus", "v3.1.0", None),
        ("localhost:5000/app", "localhost:5000/app", None, None),
        ("localhost:5000/app:1.2", "localhost:5000/app", "1.2", None),
        ("repo/app@sha256:abc", "repo/app", None, "sha256:abc"),
        ("repo/app:1@sha256:abc", "repo/app", "1", "sha256:abc"),
    ],
)
def test_image_reference(ref: str, name: str, tag: str | None, digest: str | None) -> None:
    image = parse_image(ref)
    assert (image.name, image.tag, image.digest) == (name, tag, digest)
    assert image.repo_digest == (f"{name}@{digest}" if digest else None)


def test_arn_parts() -> None:
    arn = parse_arn("arn:aws-cn:ecs:cn-north-1:123:task/cluster/abc")
    assert arn is not None
    assert (arn.partition, arn.region, arn.account_id, arn.resource_id) == ("aws-cn", "cn-north-1", "123", "abc")
    assert str(arn) == "arn:aws-cn:ecs:cn-north-1:123:task/cluster/abc"
    assert parse_arn("default") is None and parse_arn(None) is None and parse_arn("arn:aws") is None


def test_fixture_path_is_the_repo_copy() -> None:
    assert Path(FIXTURES).name == "ecs" and (FIXTURES / "PROVENANCE.md").exists()
