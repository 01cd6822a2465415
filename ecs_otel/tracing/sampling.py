"""Sampler selection from ``OTEL_TRACES_SAMPLER`` (spec names plus ``xray``), ALB-aware.

The parent-based samplers here treat a remote parent whose sampling flag is undecided
(``X-Amzn-Trace-Id`` with ``Sampled=?`` or no ``Sampled``) as a root, so the local root sampler
decides, instead of dropping every request an ALB forwards.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from ecs_otel import environment_variables as V
from ecs_otel._setting import Bounds, SettingError, coerce
from ecs_otel.tracing.propagator import is_sampling_undecided

_logger = logging.getLogger("ecs_otel")


class EcsParentBased(ParentBased):
    """ParentBased, except that an ``X-Amzn-Trace-Id`` without a sampling decision defers to ``root``."""

    def __init__(self, root: Sampler) -> None:
        super().__init__(root)
        self._root_sampler = root

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if parent_context is not None and is_sampling_undecided(parent_context):
            return self._root_sampler.should_sample(
                parent_context, trace_id, name, kind, attributes, links, trace_state
            )
        return super().should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)

    def start(self) -> None:
        """Start the root sampler's background work (X-Ray rule polling), if it has any."""
        getattr(self._root_sampler, "start", lambda: None)()

    def restart_after_fork(self) -> None:
        getattr(self._root_sampler, "restart_after_fork", lambda: None)()

    def stop(self) -> None:
        getattr(self._root_sampler, "stop", lambda: None)()

    def get_description(self) -> str:
        return f"EcsParentBased{{root:{self._root_sampler.get_description()}}}"


_RATIO = Bounds(ge=0.0, le=1.0)


def _ratio(arg: str) -> float:
    """``OTEL_TRACES_SAMPLER_ARG`` for the ratio samplers, with the settings' coercion (``nan`` and ``inf`` refused)."""
    if not arg:
        return 1.0
    try:
        return float(coerce(float, arg, V.OTEL_TRACES_SAMPLER_ARG, from_env=True, bounds=_RATIO))
    except SettingError:
        _logger.warning("ecs_otel: OTEL_TRACES_SAMPLER_ARG=%r is not a ratio in [0, 1]; using 1.0", arg)
        return 1.0


def build_sampler(settings: Any, resource: Any = None) -> Sampler:
    """Sampler named by ``settings.sampler`` (``OTEL_TRACES_SAMPLER``)."""
    name = settings.sampler
    if name == "always_on":
        return ALWAYS_ON
    if name == "always_off":
        return ALWAYS_OFF
    if name == "traceidratio":
        return TraceIdRatioBased(_ratio(settings.sampler_arg))
    if name == "parentbased_always_off":
        return EcsParentBased(ALWAYS_OFF)
    if name == "parentbased_traceidratio":
        return EcsParentBased(TraceIdRatioBased(_ratio(settings.sampler_arg)))
    if name in ("xray", "parentbased_xray"):
        from ecs_otel.tracing.xray_sampling import XRaySampler

        return EcsParentBased(XRaySampler.from_settings(settings, resource))
    if name != "parentbased_always_on":
        _logger.warning("ecs_otel: unknown OTEL_TRACES_SAMPLER=%r; using parentbased_always_on", name)
    return EcsParentBased(ALWAYS_ON)
