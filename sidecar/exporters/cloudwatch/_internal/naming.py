"""Log group and stream names from templates filled with the task's identity.

Placeholders: ``{family}``, ``{task_id}``, ``{cluster}``, ``{service}`` (the ECS service) and
``{container}``. Outside ECS they fall back to ``ecs-otel`` and the host name, so a local run
still writes somewhere sensible.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Mapping
from typing import Any

from sidecar.config import ConfigError

_INVALID_GROUP = re.compile(r"[^A-Za-z0-9_\-/.#]")
_INVALID_STREAM = re.compile(r"[:*]")


def placeholders(task: Mapping[str, Any]) -> dict[str, str]:
    arn = str(task.get("aws.ecs.task.arn") or "")
    task_id = str(task.get("aws.ecs.task.id") or (arn.rsplit("/", 1)[-1] if "/" in arn else ""))
    cluster = str(
        task.get("aws.ecs.cluster.name") or str(task.get("aws.ecs.cluster.arn") or "").rsplit("/", 1)[-1]
    )
    return {
        "family": str(task.get("aws.ecs.task.family") or "ecs-otel"),
        "task_id": task_id or socket.gethostname(),
        "cluster": cluster or "local",
        "service": str(task.get("aws.ecs.service.name") or "default"),
        "container": str(task.get("container.name") or "sidecar"),
    }


def render(template: str, task: Mapping[str, Any], key: str, *, group: bool) -> str:
    try:
        name = template.format(**placeholders(task))
    except (KeyError, IndexError, ValueError):
        raise ConfigError(
            key, "a name with {family}, {task_id}, {cluster}, {service} or {container}", template
        ) from None
    name = (_INVALID_GROUP if group else _INVALID_STREAM).sub("_", name)[:512]
    if not name:
        raise ConfigError(key, "a non-empty name", template)
    return name
