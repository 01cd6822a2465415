"""Pure parsers from decoded v4 JSON to the models.

They take already-decoded documents so that the in-app client (urllib) and the sidecar's scraper
(aiohttp) share one definition of what a valid document is. A wrong type where the contract fixes
one is :class:`MetadataMalformed` naming the field; a missing optional field is ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ecs_otel.metadata.arn import parse_arn
from ecs_otel.metadata.errors import MetadataMalformed
from ecs_otel.metadata.models import ContainerMetadata, Network, TagError, TaskMetadata


class _Fields:
    """Typed access to one JSON object; every error names the path of the offending field."""

    def __init__(self, doc: Any, path: str) -> None:
        if not isinstance(doc, dict):
            raise MetadataMalformed(f"{path}: expected a JSON object, got {type(doc).__name__}")
        self.doc = doc
        self.path = path

    def _bad(self, key: str, expected: str) -> MetadataMalformed:
        return MetadataMalformed(f"{self.path}.{key}: expected {expected}, got {type(self.doc[key]).__name__}")

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.doc.get(key)
        if value is None:
            if required:
                raise MetadataMalformed(f"{self.path}.{key}: missing")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise self._bad(key, "a string")
        text = str(value)
        if required and not text:
            raise MetadataMalformed(f"{self.path}.{key}: empty")
        return text

    def number(self, key: str) -> float | None:
        value = self.doc.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(key, "a number")
        return float(value)

    def integer(self, key: str) -> int | None:
        value = self.number(key)
        return None if value is None else int(value)

    def obj(self, key: str) -> _Fields | None:
        value = self.doc.get(key)
        return None if value is None else _Fields(value, f"{self.path}.{key}")

    def items(self, key: str) -> list[Any]:
        value = self.doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._bad(key, "a list")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        return tuple(str(v) for v in self.items(key) if isinstance(v, str | int | float))

    def mapping(self, key: str) -> Mapping[str, str]:
        value = self.doc.get(key)
        if value is None:
            return MappingProxyType({})
        if not isinstance(value, dict):
            raise self._bad(key, "an object")
        return MappingProxyType({str(k): str(v) for k, v in value.items() if v is not None})


def _network(doc: Any, path: str) -> Network:
    f = _Fields(doc, path)
    return Network(
        network_mode=f.text("NetworkMode"),
        ipv4_addresses=f.strings("IPv4Addresses"),
        ipv6_addresses=f.strings("IPv6Addresses"),
        mac_address=f.text("MACAddress"),
        private_dns_name=f.text("PrivateDNSName"),
        ipv4_subnet_cidr_block=f.text("IPv4SubnetCIDRBlock"),
        attachment_index=f.integer("AttachmentIndex"),
    )


def _container(doc: Any, path: str) -> ContainerMetadata:
    f = _Fields(doc, path)
    limits = f.obj("Limits")
    memory = limits.integer("Memory") if limits else None
    return ContainerMetadata(
        name=f.text("Name", required=True) or "",
        docker_id=f.text("DockerId") or None,
        docker_name=f.text("DockerName"),
        arn=f.text("ContainerARN") or None,
        image=f.text("Image") or None,
        image_id=f.text("ImageID") or None,
        type=f.text("Type"),
        known_status=f.text("KnownStatus"),
        desired_status=f.text("DesiredStatus"),
        cpu_units=limits.number("CPU") if limits else None,
        memory_limit_mib=memory or None,
        log_driver=f.text("LogDriver"),
        log_options=f.mapping("LogOptions"),
        labels=f.mapping("Labels"),
        restart_count=f.integer("RestartCount"),
        exit_code=f.integer("ExitCode"),
        networks=tuple(_network(n, f"{path}.Networks[{i}]") for i, n in enumerate(f.items("Networks"))),
        created_at=f.text("CreatedAt"),
        started_at=f.text("StartedAt"),
        finished_at=f.text("FinishedAt"),
    )


def _tag_error(doc: Any, path: str) -> TagError:
    f = _Fields(doc, path)
    return TagError(
        field=f.text("ErrorField"),
        code=f.text("ErrorCode"),
        message=f.text("ErrorMessage"),
        resource_arn=f.text("ResourceARN"),
    )


def parse_container(doc: Any) -> ContainerMetadata:
    """Parse the container document (``${ECS_CONTAINER_METADATA_URI_V4}``)."""
    return _container(doc, "container")


def parse_task(doc: Any) -> TaskMetadata:
    """Parse the task document (``/task`` or ``/taskWithTags``)."""
    return _task(doc, "task")


def parse_tasks(doc: Any) -> tuple[TaskMetadata, ...]:
    """Parse a JSON array of task documents (the ``/tasks`` route of ECS Managed Instances daemons)."""
    if not isinstance(doc, list):
        raise MetadataMalformed(f"tasks: expected a JSON array, got {type(doc).__name__}")
    return tuple(_task(t, f"tasks[{i}]") for i, t in enumerate(doc))


def _task(doc: Any, path: str) -> TaskMetadata:
    f = _Fields(doc, path)
    task_arn = f.text("TaskARN", required=True) or ""
    arn = parse_arn(task_arn)
    if arn is None or arn.service != "ecs":
        raise MetadataMalformed(f"{path}.TaskARN: not an ECS ARN: {task_arn!r}")
    cluster = f.text("Cluster") or None
    cluster_arn: str | None = None
    if cluster:
        cluster_arn = cluster if cluster.startswith("arn:") else (
            f"arn:{arn.partition}:ecs:{arn.region}:{arn.account_id}:cluster/{cluster}"
        )
    parsed_cluster = parse_arn(cluster_arn)
    limits = f.obj("Limits")
    memory = limits.integer("Memory") if limits else None
    return TaskMetadata(
        task_arn=task_arn,
        task_id=arn.resource_id,
        cluster=cluster,
        cluster_arn=cluster_arn,
        cluster_name=parsed_cluster.resource_id if parsed_cluster else cluster,
        family=f.text("Family"),
        revision=f.text("Revision"),
        launch_type=f.text("LaunchType"),
        availability_zone=f.text("AvailabilityZone") or None,
        region=arn.region or None,
        account_id=arn.account_id or None,
        partition=arn.partition,
        service_name=f.text("ServiceName") or None,
        vpc_id=f.text("VPCID") or None,
        group=f.text("Group") or None,
        known_status=f.text("KnownStatus"),
        desired_status=f.text("DesiredStatus"),
        cpu_vcpu=limits.number("CPU") if limits else None,
        memory_limit_mib=memory or None,
        containers=tuple(_container(c, f"{path}.Containers[{i}]") for i, c in enumerate(f.items("Containers"))),
        task_tags=f.mapping("TaskTags"),
        container_instance_tags=f.mapping("ContainerInstanceTags"),
        errors=tuple(_tag_error(e, f"{path}.Errors[{i}]") for i, e in enumerate(f.items("Errors"))),
    )
