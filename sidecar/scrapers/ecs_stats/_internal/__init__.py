"""ECS task stats: a typed model of ``/task/stats``, derived values (rates, vCPU), OTLP building.

Split in three so each part can be tested against the fixtures on its own:
:mod:`.model` parses documents (cgroup v1 and v2), :mod:`.derive` turns one or two samples
into values with units, :mod:`.otlp` writes those values as OTLP protobuf metrics.
"""

from sidecar.scrapers.ecs_stats._internal.derive import ContainerValues, StatsCalculator, TaskValues
from sidecar.scrapers.ecs_stats._internal.model import (
    NO_LIMIT_THRESHOLD,
    ContainerStats,
    MemoryStats,
    NetworkCounters,
    StatsFormatError,
    parse_container_stats,
    parse_task_stats,
)

__all__ = [
    "NO_LIMIT_THRESHOLD",
    "ContainerStats",
    "ContainerValues",
    "MemoryStats",
    "NetworkCounters",
    "StatsCalculator",
    "StatsFormatError",
    "TaskValues",
    "parse_container_stats",
    "parse_task_stats",
]
