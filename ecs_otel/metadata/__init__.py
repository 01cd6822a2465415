"""ECS task metadata endpoint v4: a stdlib-only client, immutable models and pure parsers.

>>> client = MetadataClient.from_environment()   # None outside ECS
>>> task = client.task() if client else None

Everything here may run inside a user application at import time: no third-party imports, and
every network call is bounded by one total budget (``ECS_OTEL_METADATA_TIMEOUT``, default 1 s).
"""

from ecs_otel.metadata.arn import Arn, parse_arn
from ecs_otel.metadata.cgroup import local_cgroup_version, local_memory_limit_bytes, stats_cgroup_version
from ecs_otel.metadata.client import (
    DEFAULT_TIMEOUT_S,
    ENV_TIMEOUT,
    ENV_URI_V3,
    ENV_URI_V4,
    MetadataClient,
    on_ecs,
    timeout_from_environment,
)
from ecs_otel.metadata.errors import MetadataError, MetadataMalformed, MetadataUnavailable
from ecs_otel.metadata.models import AwsLogsConfig, ContainerMetadata, Network, TagError, TaskMetadata
from ecs_otel.metadata.parse import parse_container, parse_task, parse_tasks

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "ENV_TIMEOUT",
    "ENV_URI_V3",
    "ENV_URI_V4",
    "Arn",
    "AwsLogsConfig",
    "ContainerMetadata",
    "MetadataClient",
    "MetadataError",
    "MetadataMalformed",
    "MetadataUnavailable",
    "Network",
    "TagError",
    "TaskMetadata",
    "local_cgroup_version",
    "local_memory_limit_bytes",
    "on_ecs",
    "parse_arn",
    "parse_container",
    "parse_task",
    "parse_tasks",
    "stats_cgroup_version",
    "timeout_from_environment",
]
