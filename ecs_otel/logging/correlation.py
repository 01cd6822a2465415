"""Trace-correlation fields for the span that is current when a record is formatted.

Reads the OpenTelemetry *API* only (works with any SDK, or none: then there is never a valid span and
the cost is one context-variable lookup). Both id spellings are written because the X-Ray console
searches ``1-xxxxxxxx-yyyy…`` while Application Signals and most OTLP backends use the 32-hex form.
The last span's strings are memoised: consecutive records from one request reuse them.
"""

from __future__ import annotations

from opentelemetry.trace import INVALID_SPAN, get_current_span

from ecs_otel.logging.fields import SPAN_ID, TRACE_ID, TRACE_SAMPLED, XRAY_TRACE_ID

TraceFields = tuple[str, str, str, bool]
"""(trace_id, span_id, xray_trace_id, trace_sampled)."""


def xray_trace_id(trace_id_hex: str) -> str:
    """``5759e988bd862e3fe1be46a994272793`` → ``1-5759e988-bd862e3fe1be46a994272793``."""
    return f"1-{trace_id_hex[:8]}-{trace_id_hex[8:]}"


def trace_fields_for(trace_id: int, span_id: int, sampled: bool) -> TraceFields:
    tid = format(trace_id, "032x")
    return (tid, format(span_id, "016x"), xray_trace_id(tid), bool(sampled))


def as_dict(fields: TraceFields) -> dict[str, str | bool]:
    """The fields under their log keys."""
    return dict(zip((TRACE_ID, SPAN_ID, XRAY_TRACE_ID, TRACE_SAMPLED), fields, strict=True))


class TraceCorrelation:
    """Callable returning the current span's fields, or ``None`` outside a valid span context."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        # (span, fields) replaced as one tuple: threads racing on it at worst recompute the strings. Keyed on
        # the span object itself (immutable context), which skips the SpanContext property reads entirely.
        self._last: tuple[object, TraceFields | None] = (INVALID_SPAN, None)

    def __call__(self) -> TraceFields | None:
        span = get_current_span()
        last = self._last
        if span is last[0]:
            return last[1]
        ctx = span.get_span_context()
        fields = trace_fields_for(ctx.trace_id, ctx.span_id, ctx.trace_flags.sampled) if ctx.is_valid else None
        self._last = (span, fields)
        return fields
