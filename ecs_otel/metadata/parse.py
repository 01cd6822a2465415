"""Pure parsers from decoded v4 JSON to the models.

They take already-decoded documents so that the in-app client (urllib) and the sidecar's scraper
(aiohttp) share one definition of what a valid document is.

Forgiving by design: a document that is not a JSON object is :class:`MetadataMalformed`, but inside
one, a field of the wrong type is skipped (``None`` or empty), a container entry without a usable
``Name`` is left out of the task, and a task ARN that does not parse costs only what is derived from
it (ARN, region, account). One odd field used to fail the whole document and with it every resource
attribute of the task. What was skipped is listed in the model's ``problems`` (paths of the fields)
and warned about once per distinct problem on the ``ecs_otel`` logger.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ecs_otel.metadata.arn import Arn, parse_arn
from ecs_otel.metadata.errors import MetadataMalformed
from ecs_otel.metadata.models import ContainerMetadata, Network, TagError, TaskMetadata

_logger = logging.getLogger("ecs_otel")

#: Distinct problems already warned about (bounded: a document that changes on every read cannot grow it).
_warned: set[str] = set()
_MAX_WARNED = 256


def _warn_once(what: str, problems: list[str]) -> None:
    new = [p for p in problems if p not in _warned]
    if not new:
        return
    if len(_warned) < _MAX_WARNED:
        _warned.update(new)
    _logger.warning("ecs_otel: ECS %s metadata: skipped what could not be read, kept the rest: %s",
                    what, "; ".join(new))


class _Fields:
    """Typed access to one JSON object; a field of the wrong type is recorded in ``problems`` and skipped."""

    def __init__(self, doc: dict[str, Any], path: str, problems: list[str]) -> None:
        self.doc = doc
        self.path = path
        self.problems = problems

    @classmethod
    def of(cls, doc: Any, path: str, problems: list[str]) -> _Fields | None:
        """Fields of ``doc``, or ``None`` (recorded) when it is not a JSON object."""
        if not isinstance(doc, dict):
            problems.append(f"{path}: expected a JSON object, got {type(doc).__name__}")
            return None
        return cls(doc, path, problems)

    def _bad(self, key: str, expected: str) -> None:
        self.problems.append(f"{self.path}.{key}: expected {expected}, got {type(self.doc[key]).__name__}")

    def text(self, key: str, *, required: bool = False) -> str | None:
        value = self.doc.get(key)
        if value is None:
            if required:
                self.problems.append(f"{self.path}.{key}: missing")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self._bad(key, "a string")
            return None
        text = str(value)
        if required and not text:
            self.problems.append(f"{self.path}.{key}: empty")
            return None
        return text

    def number(self, key: str) -> float | None:
        value = self.doc.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._bad(key, "a number")
            return None
        return float(value)

    def integer(self, key: str) -> int | None:
        value = self.number(key)
        if value is None:
            return None
        try:
            return int(value)
        except (OverflowError, ValueError):  # inf, nan
            self.problems.append(f"{self.path}.{key}: not a finite number")
            return None

    def obj(self, key: str) -> _Fields | None:
        value = self.doc.get(key)
        return None if value is None else _Fields.of(value, f"{self.path}.{key}", self.problems)

    def items(self, key: str) -> list[Any]:
        value = self.doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self._bad(key, "a list")
            return []
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        return tuple(str(v) for v in self.items(key) if isinstance(v, str | int | float))

    def mapping(self, key: str) -> Mapping[str, str]:
        value = self.doc.get(key)
        if value is None:
            return MappingProxyType({})
        if not isinstance(value, dict):
            self._bad(key, "an object")
            return MappingProxyType({})
        return MappingProxyType({str(k): str(v) for k, v in value.items() if v is not None})


def _network(doc: Any, path: str, problems: list[str]) -> Network | None:
    f = _Fields.of(doc, path, problems)
    if f is None:
        return None
    return Network(
        network_mode=f.text("NetworkMode"),
        ipv4_addresses=f.strings("IPv4Addresses"),
        ipv6_addresses=f.strings("IPv6Addresses"),
        mac_address=f.text("MACAddress"),
        private_dns_name=f.text("PrivateDNSName"),
        ipv4_subnet_cidr_block=f.text("IPv4SubnetCIDRBlock"),
        attachment_index=f.integer("AttachmentIndex"),
    )


def _container(doc: Any, path: str, problems: list[str], *, name_required: bool) -> ContainerMetadata | None:
    """One container; ``None`` when it is not an object, or lacks its name where the name is its identity.

    In a task's ``Containers`` the name is what every container-level attribute and metric is keyed
    by, so an entry without one is skipped. The container's own document keeps its other fields
    (``name`` is then ``""``, and no ``container.name`` attribute is produced).
    """
    f = _Fields.of(doc, path, problems)
    if f is None:
        return None
    if name_required:
        before = len(problems)
        name = f.text("Name", required=True)
        if name is None:
            problems[before:] = [f"skipped {path} ({'; '.join(problems[before:])})"]
            return None
    else:
        name = f.text("Name", required=True) or ""
    limits = f.obj("Limits")
    memory = limits.integer("Memory") if limits else None
    return ContainerMetadata(
        name=name,
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
        networks=_each(f.items("Networks"), f"{path}.Networks", problems, _network),
        created_at=f.text("CreatedAt"),
        started_at=f.text("StartedAt"),
        finished_at=f.text("FinishedAt"),
    )


def _tag_error(doc: Any, path: str, problems: list[str]) -> TagError | None:
    f = _Fields.of(doc, path, problems)
    if f is None:
        return None
    return TagError(
        field=f.text("ErrorField"),
        code=f.text("ErrorCode"),
        message=f.text("ErrorMessage"),
        resource_arn=f.text("ResourceARN"),
    )


def _each(items: list[Any], path: str, problems: list[str], parse: Any) -> tuple[Any, ...]:
    """Parse every entry of a JSON list, leaving out the entries ``parse`` could not read (``None``)."""
    out = []
    for i, item in enumerate(items):
        parsed = parse(item, f"{path}[{i}]", problems)
        if parsed is not None:
            out.append(parsed)
    return tuple(out)


def _task_container(doc: Any, path: str, problems: list[str]) -> ContainerMetadata | None:
    return _container(doc, path, problems, name_required=True)


def parse_container(doc: Any) -> ContainerMetadata:
    """Parse the container document (``${ECS_CONTAINER_METADATA_URI_V4}``)."""
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise MetadataMalformed(f"container: expected a JSON object, got {type(doc).__name__}")
    container = _container(doc, "container", problems, name_required=False)
    assert container is not None  # a dict, and the name is optional here
    if problems:
        _warn_once("container", problems)
    return container


def parse_task(doc: Any) -> TaskMetadata:
    """Parse the task document (``/task`` or ``/taskWithTags``)."""
    return _task(doc, "task")


def parse_tasks(doc: Any) -> tuple[TaskMetadata, ...]:
    """Parse a JSON array of task documents (the ``/tasks`` route of ECS Managed Instances daemons).

    An entry that is not a JSON object is left out (and warned about); the other tasks are kept.
    """
    if not isinstance(doc, list):
        raise MetadataMalformed(f"tasks: expected a JSON array, got {type(doc).__name__}")
    out = []
    for i, entry in enumerate(doc):
        if not isinstance(entry, dict):
            _warn_once("task", [f"skipped tasks[{i}]: expected a JSON object, got {type(entry).__name__}"])
            continue
        out.append(_task(entry, f"tasks[{i}]"))
    return tuple(out)


def _ecs_arn(value: str | None) -> Arn | None:
    arn = parse_arn(value)
    return arn if arn is not None and arn.service == "ecs" and arn.region and arn.account_id else None


def _task_id(raw_arn: str | None, arn: Arn | None, path: str, problems: list[str]) -> str | None:
    """The task id from its ARN; from a bare ``cluster/<id>`` path too, with the problem noted."""
    if arn is not None:
        return arn.resource_id
    if not raw_arn:
        return None
    problems.append(f"{path}.TaskARN: not an ECS ARN: {raw_arn!r}")
    last = raw_arn.rsplit("/", 1)[-1]
    return last if last and ":" not in raw_arn else None


def _cluster(
    cluster: str | None, parsed: Arn | None, source: Arn | None, path: str, problems: list[str]
) -> tuple[str | None, str | None]:
    """The cluster as given (``None`` when it is a broken ARN) and its ARN, built from a bare name if needed."""
    if not cluster:
        return None, None
    if parsed is not None:
        return cluster, cluster
    if cluster.startswith("arn:"):
        problems.append(f"{path}.Cluster: not an ECS ARN: {cluster!r}")
        return None, None
    if source is None:
        return cluster, None
    return cluster, f"arn:{source.partition}:ecs:{source.region}:{source.account_id}:cluster/{cluster}"


def _task(doc: Any, path: str) -> TaskMetadata:
    if not isinstance(doc, dict):
        raise MetadataMalformed(f"{path}: expected a JSON object, got {type(doc).__name__}")
    problems: list[str] = []
    f = _Fields(doc, path, problems)
    raw_arn = f.text("TaskARN", required=True)
    arn = _ecs_arn(raw_arn)
    task_id = _task_id(raw_arn, arn, path, problems)
    containers = _each(f.items("Containers"), f"{path}.Containers", problems, _task_container)
    cluster = f.text("Cluster") or None
    cluster_parsed = _ecs_arn(cluster)
    # Region, account and partition come from ARNs only: the task's, else the cluster's or a container's.
    source = arn or cluster_parsed or next((a for a in (_ecs_arn(c.arn) for c in containers) if a), None)
    cluster, cluster_arn = _cluster(cluster, cluster_parsed, source, path, problems)
    limits = f.obj("Limits")
    memory = limits.integer("Memory") if limits else None
    task = TaskMetadata(
        task_arn=raw_arn if arn is not None else None,
        task_id=task_id,
        cluster=cluster,
        cluster_arn=cluster_arn,
        cluster_name=cluster_parsed.resource_id if cluster_parsed else cluster,
        family=f.text("Family"),
        revision=f.text("Revision"),
        launch_type=f.text("LaunchType"),
        availability_zone=f.text("AvailabilityZone") or None,
        region=source.region if source else None,
        account_id=source.account_id if source else None,
        partition=source.partition if source else None,
        service_name=f.text("ServiceName") or None,
        vpc_id=f.text("VPCID") or None,
        group=f.text("Group") or None,
        known_status=f.text("KnownStatus"),
        desired_status=f.text("DesiredStatus"),
        cpu_vcpu=limits.number("CPU") if limits else None,
        memory_limit_mib=memory or None,
        containers=containers,
        task_tags=f.mapping("TaskTags"),
        container_instance_tags=f.mapping("ContainerInstanceTags"),
        errors=_each(f.items("Errors"), f"{path}.Errors", problems, _tag_error),
        problems=tuple(problems),
    )
    if problems:
        _warn_once("task", problems)
    return task
