"""Tracing pieces: X-Ray trace ids, the ALB-tolerant X-Ray propagator and sampler selection."""

from ecs_otel.tracing.ids import XRayIdGenerator
from ecs_otel.tracing.propagator import XRayPropagator

__all__ = ["XRayIdGenerator", "XRayPropagator"]
