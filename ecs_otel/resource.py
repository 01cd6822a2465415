"""ECS resource detection for the OpenTelemetry SDK.

:class:`EcsResourceDetector` reads the task metadata endpoint v4 and describes the task and this
container with semantic-convention attributes. It never hurts the host application: outside ECS it
returns an empty resource without touching the network; when the endpoint is slow, broken or
answers garbage it gives up within the metadata time budget, logs one warning on the ``ecs_otel``
logger and returns what it could learn (often nothing).

Unlike opentelemetry-sdk-extension-aws's ``AwsEcsResourceDetector``, ``container.name`` is the ECS
container name from the metadata (not the hostname, which is a random id under awsvpc) and
``container.id`` is the metadata's Docker id (not a guess from ``/proc/self/cgroup``, which holds
no id under cgroup v2).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.resources import Resource, ResourceDetector
from opentelemetry.util.types import AttributeValue

from ecs_otel.metadata import (
    ContainerMetadata,
    MetadataClient,
    MetadataError,
    TaskMetadata,
    parse_arn,
)
from ecs_otel.metadata.image import parse_image

logger = logging.getLogger("ecs_otel")

CLOUD_PROVIDER = "cloud.provider"
CLOUD_PLATFORM = "cloud.platform"
CLOUD_REGION = "cloud.region"
CLOUD_ACCOUNT_ID = "cloud.account.id"
CLOUD_AVAILABILITY_ZONE = "cloud.availability_zone"
CLOUD_RESOURCE_ID = "cloud.resource_id"
AWS_ECS_CLUSTER_ARN = "aws.ecs.cluster.arn"
AWS_ECS_CLUSTER_NAME = "aws.ecs.cluster.name"
AWS_ECS_SERVICE_NAME = "aws.ecs.service.name"
AWS_ECS_TASK_ARN = "aws.ecs.task.arn"
AWS_ECS_TASK_ID = "aws.ecs.task.id"
AWS_ECS_TASK_FAMILY = "aws.ecs.task.family"
AWS_ECS_TASK_REVISION = "aws.ecs.task.revision"
AWS_ECS_LAUNCHTYPE = "aws.ecs.launchtype"
AWS_ECS_CONTAINER_ARN = "aws.ecs.container.arn"
CONTAINER_ID = "container.id"
CONTAINER_NAME = "container.name"
CONTAINER_IMAGE_NAME = "container.image.name"
CONTAINER_IMAGE_TAGS = "container.image.tags"
CONTAINER_IMAGE_ID = "container.image.id"
CONTAINER_IMAGE_REPO_DIGESTS = "container.image.repo_digests"
AWS_LOG_GROUP_NAMES = "aws.log.group.names"
AWS_LOG_GROUP_ARNS = "aws.log.group.arns"
AWS_LOG_STREAM_NAMES = "aws.log.stream.names"
AWS_LOG_STREAM_ARNS = "aws.log.stream.arns"

#: Attributes :func:`task_attributes` may produce: the same for every container of the task.
TASK_ATTRIBUTE_KEYS = frozenset(
    {
        CLOUD_PROVIDER,
        CLOUD_PLATFORM,
        CLOUD_REGION,
        CLOUD_ACCOUNT_ID,
        CLOUD_AVAILABILITY_ZONE,
        AWS_ECS_CLUSTER_ARN,
        AWS_ECS_CLUSTER_NAME,
        AWS_ECS_SERVICE_NAME,
        AWS_ECS_TASK_ARN,
        AWS_ECS_TASK_ID,
        AWS_ECS_TASK_FAMILY,
        AWS_ECS_TASK_REVISION,
        AWS_ECS_LAUNCHTYPE,
    }
)

_outside_ecs_logged = False


def task_attributes(task: TaskMetadata) -> dict[str, AttributeValue]:
    """Task-level attributes only (safe to stamp on another container's data)."""
    candidates: dict[str, str | None] = {
        CLOUD_PROVIDER: "aws",
        CLOUD_PLATFORM: "aws_ecs",
        CLOUD_REGION: task.region,
        CLOUD_ACCOUNT_ID: task.account_id,
        CLOUD_AVAILABILITY_ZONE: task.availability_zone,
        AWS_ECS_CLUSTER_ARN: task.cluster_arn,
        AWS_ECS_CLUSTER_NAME: task.cluster_name,
        AWS_ECS_SERVICE_NAME: task.service_name,
        AWS_ECS_TASK_ARN: task.task_arn,
        AWS_ECS_TASK_ID: task.task_id,
        AWS_ECS_TASK_FAMILY: task.family,
        AWS_ECS_TASK_REVISION: task.revision,
        AWS_ECS_LAUNCHTYPE: task.launch_type.lower() if task.launch_type else None,
    }
    return {k: v for k, v in candidates.items() if v}


def container_attributes(container: ContainerMetadata, task: TaskMetadata | None = None) -> dict[str, AttributeValue]:
    """Attributes of one container: identity, image and its ``awslogs`` destination."""
    attrs: dict[str, AttributeValue] = {}
    if container.name:  # "" when the container's own document had no usable Name
        attrs[CONTAINER_NAME] = container.name
    if container.docker_id:
        attrs[CONTAINER_ID] = container.docker_id
    if container.arn:
        attrs[AWS_ECS_CONTAINER_ARN] = container.arn
        attrs[CLOUD_RESOURCE_ID] = container.arn  # as the Java, Go and JavaScript ECS detectors set it
    if container.image:
        image = parse_image(container.image)
        attrs[CONTAINER_IMAGE_NAME] = image.name
        if image.tag:
            attrs[CONTAINER_IMAGE_TAGS] = [image.tag]
        if image.repo_digest:
            attrs[CONTAINER_IMAGE_REPO_DIGESTS] = [image.repo_digest]
    if container.image_id:
        attrs[CONTAINER_IMAGE_ID] = container.image_id
    attrs.update(_log_attributes(container, task))
    return attrs


def resource_attributes(task: TaskMetadata, container: ContainerMetadata | None) -> dict[str, AttributeValue]:
    """Everything the detector reports for ``container`` running in ``task``."""
    attrs = task_attributes(task)
    if container is not None:
        attrs.update(container_attributes(container, task))
    return attrs


def default_service_version(task: TaskMetadata | None, container: ContainerMetadata | None) -> str | None:
    """What was deployed: the image tag, or ``<revision>`` of the task definition when the tag says nothing.

    A tag is the user's own version label (``1.4.2``, a git sha) and survives re-registering the task
    definition, so it wins. ``latest`` (or no tag, or a digest-only reference) names no version; the
    task definition revision then does, since every ECS deployment of a new image goes through a new
    revision. ``None`` when neither is known (off ECS), so nothing is invented.
    """
    if container is not None and container.image:
        tag = parse_image(container.image).tag
        if tag and tag != "latest":
            return tag
    if task is not None and task.revision:
        return str(task.revision)
    return None


def _log_attributes(container: ContainerMetadata, task: TaskMetadata | None) -> dict[str, AttributeValue]:
    logs = container.awslogs
    if logs is None or not logs.group:
        return {}
    # The log group lives in the account and (unless awslogs-region says otherwise) the region of the task.
    source = parse_arn(container.arn) or (parse_arn(task.task_arn) if task else None)
    region = logs.region or (source.region if source else None)
    attrs: dict[str, AttributeValue] = {AWS_LOG_GROUP_NAMES: [logs.group]}
    if logs.stream:
        attrs[AWS_LOG_STREAM_NAMES] = [logs.stream]
    if source and region and source.account_id:
        group_arn = f"arn:{source.partition}:logs:{region}:{source.account_id}:log-group:{logs.group}"
        attrs[AWS_LOG_GROUP_ARNS] = [group_arn]
        if logs.stream:
            attrs[AWS_LOG_STREAM_ARNS] = [f"{group_arn}:log-stream:{logs.stream}"]
    return attrs


@dataclass(frozen=True)
class Detection:
    """What the metadata endpoint said about this process, within one budget.

    ``on_ecs`` is true whenever the endpoint is configured, even when a document did not arrive in
    time (``errors`` says why); ``task``/``container`` are whatever did arrive.
    """

    on_ecs: bool = False
    task: TaskMetadata | None = None
    container: ContainerMetadata | None = None
    errors: tuple[str, ...] = ()

    @property
    def resource_attributes(self) -> dict[str, AttributeValue]:
        return resource_attributes(self.task, self.container) if self.task is not None else {}


def detect(
    env: Mapping[str, str] = os.environ,
    timeout_s: float | None = None,
    client: MetadataClient | None = None,
    task_first: bool = False,
) -> Detection:
    """The one ECS detection every caller uses: the resource detector, ``configure()``, the sidecar.

    Both documents are fetched under one total budget (``timeout_s``, else the client's), in a
    daemon thread joined for that budget: the client bounds itself, the join is the belt to its
    braces, so a hanging endpoint can never hold the caller past its budget. Never raises.
    """
    try:
        client = client or MetadataClient.from_environment(env, timeout_s)
    except Exception as exc:  # the caller is the host application: nothing may escape
        return Detection(on_ecs=True, errors=(repr(exc),))
    if client is None:
        return Detection(on_ecs=False)
    budget = timeout_s if timeout_s is not None else client.timeout_s
    deadline = time.monotonic() + budget
    got: dict[str, Any] = {}
    errors: list[str] = []

    def fetch() -> None:
        # Sequential under one deadline, so the order says what survives a slow endpoint: the set-up
        # wants the container document first (it names the service), the resource detector the task's.
        for what in (("task", "container") if task_first else ("container", "task")):
            try:
                got[what] = getattr(client, what)(deadline=deadline)
            except MetadataError as exc:
                errors.append(f"{what}: {exc}")
            except Exception as exc:  # a bug of ours must not reach the app either
                errors.append(f"{what}: {exc!r}")

    worker = threading.Thread(target=fetch, name="ecs-otel-metadata", daemon=True)
    worker.start()
    worker.join(budget + 0.1)
    if worker.is_alive():
        errors.append(f"timed out after {budget:g} s")
    return Detection(on_ecs=True, task=got.get("task"), container=got.get("container"), errors=tuple(errors))


class EcsResourceDetector(ResourceDetector):
    """Resource of this ECS task and container, from the task metadata endpoint v4.

    ``client`` defaults to :meth:`MetadataClient.from_environment`; ``timeout_s`` is the total
    budget for both documents (default: the client's, i.e. ``ECS_OTEL_METADATA_TIMEOUT`` or 1 s).
    """

    def __init__(self, client: MetadataClient | None = None, timeout_s: float | None = None) -> None:
        super().__init__(raise_on_error=False)
        self._client = client
        self._timeout_s = timeout_s

    def detect(self) -> Resource:
        try:
            return self._detect()
        except Exception as exc:  # the host application must never see our failure
            logger.warning("ECS resource detection failed unexpectedly: %r", exc)
            return Resource.get_empty()

    def _detect(self) -> Resource:
        found = detect(timeout_s=self._timeout_s, client=self._client, task_first=True)
        if not found.on_ecs:
            _log_outside_ecs()
            return Resource.get_empty()
        if found.task is None:
            logger.warning("ECS task metadata unavailable, no ECS resource attributes: %s", "; ".join(found.errors))
            return Resource.get_empty()
        if found.container is None:
            logger.warning("ECS container metadata unavailable, task attributes only: %s", "; ".join(found.errors))
        return Resource(found.resource_attributes)


def _log_outside_ecs() -> None:
    global _outside_ecs_logged
    if not _outside_ecs_logged:
        _outside_ecs_logged = True
        logger.debug("not on ECS (no ECS_CONTAINER_METADATA_URI_V4): no ECS resource attributes")
