"""The pure attribute mapping: what a task and a container turn into."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ecs_otel.metadata import (
    local_cgroup_version,
    local_memory_limit_bytes,
    parse_container,
    parse_task,
)
from ecs_otel.resource import TASK_ATTRIBUTE_KEYS, container_attributes, resource_attributes, task_attributes
from tests.conftest import FIXTURES

TASK_FILES = sorted(p.name for p in FIXTURES.glob("*task-metadata*.json") if not p.name.startswith("managed"))


@pytest.mark.parametrize("name", TASK_FILES)
def test_task_attributes_never_carry_container_identity(name: str) -> None:
    task = parse_task(json.loads((FIXTURES / name).read_text()))
    attrs = task_attributes(task)
    assert set(attrs) <= TASK_ATTRIBUTE_KEYS
    assert not any(k.startswith(("container.", "aws.log.")) or k == "aws.ecs.container.arn" for k in attrs)
    for key in ("cloud.region", "cloud.account.id", "aws.ecs.task.arn", "aws.ecs.task.id", "aws.ecs.cluster.arn",
                "aws.ecs.task.family", "aws.ecs.task.revision", "aws.ecs.launchtype", "cloud.availability_zone"):
        assert key in attrs, key
    assert attrs["aws.ecs.launchtype"] == attrs["aws.ecs.launchtype"].lower()
    # The container's attributes extend, never override, the task's.
    for container in task.containers:
        full = resource_attributes(task, container)
        assert {k: full[k] for k in attrs} == attrs
        assert full["container.name"] == container.name


def test_no_container_means_task_attributes_only() -> None:
    task = parse_task(json.loads((FIXTURES / "fargate-task-metadata-2020.json").read_text()))
    assert resource_attributes(task, None) == task_attributes(task)


def test_service_name_only_when_present() -> None:
    with_service = parse_task(json.loads((FIXTURES / "ec2-task-metadata-service-docs.json").read_text()))
    without = parse_task(json.loads((FIXTURES / "ec2-task-metadata-awsvpc-pause.json").read_text()))
    assert task_attributes(with_service)["aws.ecs.service.name"] == "MyService"
    assert "aws.ecs.service.name" not in task_attributes(without)
    assert task_attributes(with_service)["aws.ecs.cluster.name"] == "default"


def test_image_digest_and_log_region_fallback() -> None:
    doc = json.loads((FIXTURES / "ec2-container-metadata-awsvpc.json").read_text())
    doc["Image"] = "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest:2.1@sha256:" + "a" * 64
    del doc["LogOptions"]["awslogs-region"]
    attrs = container_attributes(parse_container(doc))
    assert attrs["container.image.name"] == "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest"
    assert attrs["container.image.tags"] == ["2.1"]
    assert attrs["container.image.repo_digests"] == [
        "111122223333.dkr.ecr.us-west-2.amazonaws.com/curltest@sha256:" + "a" * 64
    ]
    # Without awslogs-region the group is in the container's region (from its ARN).
    assert attrs["aws.log.group.arns"] == ["arn:aws:logs:us-west-2:111122223333:log-group:/ecs/metadata"]


def test_untagged_image_and_non_awslogs_driver() -> None:
    c = parse_container({"Name": "x", "Image": "alpine", "LogDriver": "json-file", "LogOptions": {"max-size": "1m"}})
    attrs = container_attributes(c)
    assert attrs == {"container.name": "x", "container.image.name": "alpine"}


def test_log_group_without_arn_context() -> None:
    # No container ARN and no task: the names are known, the ARNs cannot be built.
    c = parse_container({"Name": "x", "LogDriver": "awslogs", "LogOptions": {"awslogs-group": "g", "awslogs-stream": "s"}})
    attrs = container_attributes(c)
    assert attrs["aws.log.group.names"] == ["g"] and attrs["aws.log.stream.names"] == ["s"]
    assert "aws.log.group.arns" not in attrs and "aws.log.stream.arns" not in attrs


def test_cgroup_hints(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("cpu memory")
    (v2 / "memory.max").write_text("536870912\n")
    assert local_cgroup_version(v2) == 2 and local_memory_limit_bytes(v2) == 536870912
    (v2 / "memory.max").write_text("max\n")
    assert local_memory_limit_bytes(v2) is None
    v1 = tmp_path / "v1"
    (v1 / "memory").mkdir(parents=True)
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    assert local_cgroup_version(v1) == 1 and local_memory_limit_bytes(v1) is None
    (v1 / "memory" / "memory.limit_in_bytes").write_text("268435456\n")
    assert local_memory_limit_bytes(v1) == 268435456
    assert local_cgroup_version(tmp_path / "none") is None and local_memory_limit_bytes(tmp_path / "none") is None


def test_cloud_resource_id_is_the_container_arn() -> None:
    """Issue 15, ECS item 6: the Java, Go and JS detectors set it; it was absent."""
    doc = json.loads((FIXTURES / "ec2-container-metadata-awsvpc.json").read_text())
    attrs = container_attributes(parse_container(doc))
    assert attrs["cloud.resource_id"] == doc["ContainerARN"] == attrs["aws.ecs.container.arn"]
    assert "cloud.resource_id" not in TASK_ATTRIBUTE_KEYS  # container identity, never stamped on others' data


@pytest.mark.parametrize("plugin", ["cloudwatch_logs", "cloudwatch"])
def test_firelens_cloudwatch_output_gives_the_log_group(plugin: str) -> None:
    """Issue 15, ECS item 7: an app logging through FireLens to CloudWatch has its group and stream too."""
    arn = "arn:aws:ecs:us-west-2:111122223333:container/default/abc/def"
    c = parse_container({"Name": "app", "ContainerARN": arn, "LogDriver": "awsfirelens", "LogOptions": {
        "Name": plugin, "region": "eu-west-1", "log_group_name": "/ecs/app", "log_stream_name": "app-stream",
        "auto_create_group": "true"}})  # fmt: skip
    attrs = container_attributes(c)
    assert attrs["aws.log.group.names"] == ["/ecs/app"] and attrs["aws.log.stream.names"] == ["app-stream"]
    assert attrs["aws.log.group.arns"] == ["arn:aws:logs:eu-west-1:111122223333:log-group:/ecs/app"]


def test_firelens_to_elsewhere_or_templated_names_give_no_log_group() -> None:
    def names(options: dict[str, str]) -> object:
        c = parse_container({"Name": "app", "LogDriver": "awsfirelens", "LogOptions": options})
        return container_attributes(c).get("aws.log.group.names")

    assert names({"Name": "es", "Host": "search.local"}) is None
    assert names({"Name": "cloudwatch", "log_group_name": "/ecs/$(ecs_task_id)", "region": "us-east-1"}) is None
    c = parse_container({"Name": "app", "LogDriver": "awsfirelens", "LogOptions": {
        "Name": "cloudwatch_logs", "log_group_name": "/g", "log_stream_prefix": "app-"}})  # fmt: skip
    assert "aws.log.stream.names" not in container_attributes(c)  # the router appends a tag to the prefix


@pytest.mark.parametrize(
    ("launch_type", "expected"),
    [("FARGATE", "fargate"), ("EC2", "ec2"), ("EXTERNAL", "external"), ("MANAGED_INSTANCES", "managed_instances")],
)
def test_launch_type_follows_the_convention_enum_or_the_metadata_value(launch_type: str, expected: str) -> None:
    """ECS Anywhere and Managed Instances have no value in the semantic conventions' enum (ec2, fargate):
    the metadata's value is emitted in the enum's lower case, so queries need not guess."""
    doc = json.loads((FIXTURES / "fargate-task-metadata-2020.json").read_text())
    doc["LaunchType"] = launch_type
    assert task_attributes(parse_task(doc))["aws.ecs.launchtype"] == expected
