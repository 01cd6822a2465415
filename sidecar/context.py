"""What every component may need from the running sidecar, passed explicitly at construction."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar.pipeline.telemetry import Registry

#: Seconds without data after which a metric series is forgotten. One value for every component
#: that keeps series (the cardinality processor's limit, the prometheus endpoint), so they forget a
#: series at the same moment; the wiring puts the configured value in the context.
DEFAULT_SERIES_EXPIRY_S = 300.0


@dataclass
class SidecarContext:
    #: Self-telemetry shared by every component (``/metrics``, status page).
    telemetry: Registry = field(default_factory=Registry)
    #: Environment the sidecar was started with (tests pass their own).
    env: Mapping[str, str] = field(default_factory=dict)
    #: Task-level resource attributes from the metadata endpoint (empty outside ECS).
    task_attributes: dict[str, Any] = field(default_factory=dict)
    #: AWS region, resolved as DESIGN.md says (config, AWS_REGION, AWS_DEFAULT_REGION, task ARN).
    region: str | None = None
    #: Components publish live state for the status page here (``/cardinality`` and the like).
    status: dict[str, Any] = field(default_factory=dict)
    #: Address the receivers listen on (``[sidecar] receiver_host`` or ``ECS_OTEL_RECEIVER_HOST``); endpoints
    #: that follow the receivers (Prometheus) read it here, so a value from the TOML file reaches them too.
    receiver_host: str = "127.0.0.1"
    #: Series expiry shared by the stages that keep series (see :data:`DEFAULT_SERIES_EXPIRY_S`).
    series_expiry_s: float = DEFAULT_SERIES_EXPIRY_S
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("ecs_otel.sidecar"))
