"""``X-Amzn-Trace-Id`` propagation that keeps the trace ids an Application Load Balancer starts.

An ALB adds ``Root=1-…`` with no ``Parent`` (and sometimes ``Sampled=?`` or a trailing ``;``) to
requests that arrive without one. A strict parser drops such headers, so the trace the ALB logged
is lost. Here those forms continue the ALB's trace id:

- no ``Parent``: the span gets a synthetic remote parent id (the ALB recorded no span of its own);
- no ``Sampled`` or ``Sampled=?``: the sampling decision is left to this service's root sampler
  (the context carries :data:`UNDECIDED_KEY`, which :class:`~ecs_otel.tracing.sampling.EcsParentBased`
  reads), instead of being treated as "not sampled".
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context, create_key, get_value, set_value
from opentelemetry.propagators.textmap import (
    CarrierT,
    DefaultGetter,
    DefaultSetter,
    Getter,
    Setter,
    TextMapPropagator,
)

HEADER = "X-Amzn-Trace-Id"
UNDECIDED_KEY = create_key("ecs_otel.xray.sampling_undecided")
_ROOT = re.compile(r"^1-([0-9a-fA-F]{8})-([0-9a-fA-F]{24})$")
_PARENT = re.compile(r"^[0-9a-fA-F]{16}$")
_default_getter: Getter[Any] = DefaultGetter()
_default_setter: Setter[Any] = DefaultSetter()


def _header_value(carrier: CarrierT, getter: Getter[CarrierT]) -> str | None:
    values = getter.get(carrier, HEADER)
    if not values:
        values = getter.get(carrier, HEADER.lower())
    if not values:
        return None
    return values[0] if isinstance(values, list | tuple) else str(values)


def parse_header(value: str) -> tuple[int, int | None, bool | None] | None:
    """``(trace_id, parent_span_id or None, sampled or None-for-undecided)``; None when unusable."""
    fields: dict[str, str] = {}
    for part in value.split(";"):
        key, sep, val = part.strip().partition("=")
        if sep:
            fields.setdefault(key.strip().lower(), val.strip())
    root = _ROOT.match(fields.get("root", ""))
    if root is None:
        return None
    trace_id = int(root.group(1) + root.group(2), 16)
    if trace_id == 0:
        return None
    parent_raw = fields.get("parent")
    parent = int(parent_raw, 16) if parent_raw and _PARENT.match(parent_raw) else None
    if parent == 0:
        parent = None
    sampled = {"1": True, "0": False}.get(fields.get("sampled", "?"))
    return trace_id, parent, sampled


def format_header(span_context: trace.SpanContext) -> str:
    tid = f"{span_context.trace_id:032x}"
    sampled = "1" if span_context.trace_flags.sampled else "0"
    return f"Root=1-{tid[:8]}-{tid[8:]};Parent={span_context.span_id:016x};Sampled={sampled}"


def is_sampling_undecided(context: Context | None) -> bool:
    return bool(get_value(UNDECIDED_KEY, context))


class XRayPropagator(TextMapPropagator):
    """Extracts and injects ``X-Amzn-Trace-Id``, tolerant of the forms ALB produces."""

    def extract(
        self, carrier: CarrierT, context: Context | None = None, getter: Getter[CarrierT] = _default_getter
    ) -> Context:
        ctx = context if context is not None else Context()
        try:
            raw = _header_value(carrier, getter)
            parsed = parse_header(raw) if raw else None
        except Exception:
            parsed = None
        if parsed is None:
            return ctx
        trace_id, parent, sampled = parsed
        current = trace.get_current_span(ctx).get_span_context()
        if parent is None and current.is_valid and current.is_remote:
            # A real parent already came in (e.g. traceparent); ALB's Root-only header adds nothing.
            return ctx
        span_context = trace.SpanContext(
            trace_id=trace_id,
            span_id=parent if parent is not None else random.getrandbits(64) or 1,
            is_remote=True,
            trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED if sampled else trace.TraceFlags.DEFAULT),
        )
        ctx = trace.set_span_in_context(trace.NonRecordingSpan(span_context), ctx)
        if sampled is None:
            ctx = set_value(UNDECIDED_KEY, True, ctx)
        return ctx

    def inject(
        self, carrier: CarrierT, context: Context | None = None, setter: Setter[CarrierT] = _default_setter
    ) -> None:
        span_context = trace.get_current_span(context).get_span_context()
        if not span_context.is_valid:
            return
        setter.set(carrier, HEADER, format_header(span_context))

    @property
    def fields(self) -> set[str]:
        return {HEADER}


def build_propagator(names: Iterable[str]) -> TextMapPropagator:
    """Composite propagator from OTEL_PROPAGATORS names; unknown names are looked up as entry points."""
    from opentelemetry.propagators.composite import CompositePropagator

    props: list[TextMapPropagator] = []
    for name in names:
        if name == "none":
            return CompositePropagator([])
        if name == "tracecontext":
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

            props.append(TraceContextTextMapPropagator())
        elif name == "baggage":
            from opentelemetry.baggage.propagation import W3CBaggagePropagator

            props.append(W3CBaggagePropagator())
        elif name == "xray":
            props.append(XRayPropagator())
        else:
            prop = _entry_point_propagator(name)
            if prop is not None:
                props.append(prop)
    return CompositePropagator(props)


def _entry_point_propagator(name: str) -> TextMapPropagator | None:
    import logging
    from importlib.metadata import entry_points

    for ep in entry_points(group="opentelemetry_propagator", name=name):
        try:
            return ep.load()()  # type: ignore[no-any-return,unused-ignore]
        except Exception as exc:
            logging.getLogger("ecs_otel").warning("ecs_otel: propagator %r failed to load: %s", name, exc)
            return None
    logging.getLogger("ecs_otel").warning("ecs_otel: unknown propagator %r ignored", name)
    return None
