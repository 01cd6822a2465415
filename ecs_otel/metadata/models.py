"""Immutable models of the task metadata v4 documents.

Only the fields that matter for telemetry are modelled; unknown fields are ignored and missing
optional ones are ``None`` (or empty), because the agent adds and omits fields between versions,
launch types and container states. Mappings are read-only views so a cached document cannot be
changed by one caller under another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

_EMPTY: Mapping[str, str] = MappingProxyType({})

#: Container ``Type`` of the networking pause container on EC2 awsvpc tasks; never the user's app.
PAUSE_CONTAINER_TYPE = "CNI_PAUSE"


@dataclass(frozen=True, slots=True)
class Network:
    """One network attachment of a container (shared by every container of an awsvpc task)."""

    network_mode: str | None = None
    ipv4_addresses: tuple[str, ...] = ()
    ipv6_addresses: tuple[str, ...] = ()
    mac_address: str | None = None
    private_dns_name: str | None = None
    ipv4_subnet_cidr_block: str | None = None
    attachment_index: int | None = None


@dataclass(frozen=True, slots=True)
class AwsLogsConfig:
    """The ``awslogs`` log driver's destination, when the container uses it."""

    group: str | None
    stream: str | None
    region: str | None


@dataclass(frozen=True, slots=True)
class ContainerMetadata:
    """``${ECS_CONTAINER_METADATA_URI_V4}`` or one entry of the task's ``Containers``."""

    #: The ECS container name; ``""`` only for a container document whose ``Name`` was unusable
    #: (task entries without one are left out of the task).
    name: str
    docker_id: str | None = None
    docker_name: str | None = None
    arn: str | None = None
    image: str | None = None
    #: ``ImageID``: the local image id (``sha256:…``); empty on the pause container, hence optional.
    image_id: str | None = None
    type: str | None = None
    known_status: str | None = None
    desired_status: str | None = None
    #: CPU units (1024 = one vCPU); ``0`` or ``None`` means no container-level reservation.
    cpu_units: float | None = None
    memory_limit_mib: int | None = None
    log_driver: str | None = None
    log_options: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    #: Present only when the container restart policy is enabled.
    restart_count: int | None = None
    exit_code: int | None = None
    networks: tuple[Network, ...] = ()
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def is_pause(self) -> bool:
        return self.type == PAUSE_CONTAINER_TYPE

    @property
    def awslogs(self) -> AwsLogsConfig | None:
        """Where the container's logs go in CloudWatch Logs: the ``awslogs`` driver's options, or the FireLens
        (``awsfirelens``) route's when its output is CloudWatch (the ``cloudwatch_logs`` or ``cloudwatch`` plugin).

        A FireLens stream given only as ``log_stream_prefix`` is left out (the router appends a tag we cannot
        know), and so is a group name with a plugin template such as ``$(ecs_task_id)``.
        """
        options = self.log_options
        if not options:
            return None
        if self.log_driver == "awslogs":
            return AwsLogsConfig(
                group=options.get("awslogs-group"),
                stream=options.get("awslogs-stream"),
                region=options.get("awslogs-region"),
            )
        if self.log_driver == "awsfirelens":
            output = {k.lower(): v for k, v in options.items()}
            group = output.get("log_group_name")
            if output.get("name", "").lower() not in ("cloudwatch_logs", "cloudwatch") or not group or "$(" in group:
                return None
            stream = output.get("log_stream_name")
            return AwsLogsConfig(
                group=group, stream=stream if stream and "$(" not in stream else None, region=output.get("region")
            )
        return None


@dataclass(frozen=True, slots=True)
class TagError:
    """One entry of ``Errors`` in ``/taskWithTags``: tags the agent could not read (often IAM)."""

    field: str | None
    code: str | None
    message: str | None
    resource_arn: str | None


@dataclass(frozen=True, slots=True)
class TaskMetadata:
    """``${ECS_CONTAINER_METADATA_URI_V4}/task`` (or ``/taskWithTags``)."""

    #: ``None`` when the document's ``TaskARN`` is missing or is not an ECS ARN (see ``problems``).
    task_arn: str | None
    #: Last segment of the task ARN (kept when only the ARN's prefix is broken, e.g. ``default/<id>``).
    task_id: str | None
    #: ``Cluster`` as the agent wrote it: a short name on EC2, an ARN on Fargate.
    cluster: str | None = None
    cluster_arn: str | None = None
    cluster_name: str | None = None
    family: str | None = None
    revision: str | None = None
    launch_type: str | None = None
    availability_zone: str | None = None
    #: Derived from the task ARN (the metadata has no region or account field of its own).
    region: str | None = None
    account_id: str | None = None
    partition: str | None = None
    service_name: str | None = None
    vpc_id: str | None = None
    group: str | None = None
    known_status: str | None = None
    desired_status: str | None = None
    #: Task-level vCPU (``Limits.CPU``, e.g. ``0.25``); absent on EC2 tasks without task-level size.
    cpu_vcpu: float | None = None
    memory_limit_mib: int | None = None
    containers: tuple[ContainerMetadata, ...] = ()
    task_tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    container_instance_tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    errors: tuple[TagError, ...] = ()
    #: What the parser skipped: paths of fields of the wrong type, container entries left out (empty when clean).
    problems: tuple[str, ...] = ()

    def container_by_docker_id(self, docker_id: str) -> ContainerMetadata | None:
        return next((c for c in self.containers if c.docker_id == docker_id), None)

    def container_by_name(self, name: str) -> ContainerMetadata | None:
        return next((c for c in self.containers if c.name == name), None)
