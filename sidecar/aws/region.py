"""Which AWS region the sidecar talks to.

DESIGN.md fixes the order: explicit configuration, then ``AWS_REGION``, then
``AWS_DEFAULT_REGION``, then the region inside the ECS task ARN (always present on ECS,
so a task needs no region variable at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def region_from_arn(arn: str | None) -> str | None:
    """``arn:aws:ecs:eu-west-1:123456789012:task/…`` → ``eu-west-1`` (``None`` when not an ARN)."""
    if not arn or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 5)
    if len(parts) < 6 or not parts[3]:
        return None
    return parts[3]


def resolve_region(
    configured: str | None = None,
    env: Mapping[str, str] | None = None,
    task_attributes: Mapping[str, Any] | None = None,
) -> str | None:
    """The region by the DESIGN.md order, or ``None`` when nothing names one.

    ``task_attributes`` are the sidecar's task-level resource attributes: ``aws.ecs.task.arn``
    carries the region; ``cloud.region`` is used when the ARN is absent.
    """
    if configured:
        return configured
    env = env or {}
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if env.get(name):
            return env[name]
    attrs = task_attributes or {}
    from_arn = region_from_arn(str(attrs.get("aws.ecs.task.arn") or ""))
    if from_arn:
        return from_arn
    region = attrs.get("cloud.region")
    return str(region) if region else None
