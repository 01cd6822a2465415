"""Application Signals RED metrics from every span: ``Latency`` (ms), ``Error`` (4xx), ``Fault`` (5xx / error status).

A span processor, so it sees every span that is *recorded*; with the record-only sampler
(:class:`ecs_otel.tracing.app_signals.RecordOnlySampler`) that is every span, sampled or not. Each
service entry and each dependency call (see :mod:`ecs_otel.tracing.app_signals_attributes`) records
one ``Latency`` value and one ``Error`` and one ``Fault`` value (0 or 1) with its ``aws.*``
attributes, so that in CloudWatch ``Latency``'s sample count is the number of calls and the sums of
``Error``/``Fault`` are the numbers of errors and faults (their averages the rates).

Metric names, units and attributes are ADOT's, so the sidecar (or a CloudWatch agent) publishes
them as Application Signals. Histograms use fixed explicit buckets (views installed with the
provider): a fixed bucket layout keeps a cumulative series' shape stable, which the sidecar's
cumulative-to-delta conversion relies on.

Bounded: per service, at most ``max_operations`` distinct operations are kept; later ones are
folded into ``AllOtherOperations`` (and dependency operations into ``AllOtherRemoteOperations``),
the names the CloudWatch agent uses for the same purpose, and counted (:attr:`folded`).
"""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import StatusCode

from ecs_otel.tracing.app_signals_attributes import (
    AWS_LOCAL_OPERATION,
    AWS_LOCAL_SERVICE,
    AWS_REMOTE_OPERATION,
    AWS_REMOTE_SERVICE,
    METADATA_ADDRESS,
    metric_attributes,
)

METER_NAME = "ecs_otel.application_signals"
LATENCY, ERROR, FAULT = "Latency", "Error", "Fault"
OTHER_OPERATIONS = "AllOtherOperations"
OTHER_REMOTE_OPERATIONS = "AllOtherRemoteOperations"
DEFAULT_MAX_OPERATIONS = 500

#: Latency bucket bounds (ms): dense where web requests live, reaching one minute.
LATENCY_BOUNDS_MS: tuple[float, ...] = (
    1, 2, 3, 5, 7.5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 100, 125, 150, 200, 250, 300, 400, 500,
    750, 1000, 1500, 2000, 3000, 5000, 7500, 10000, 20000, 30000, 60000,
)  # fmt: skip
#: Error/Fault are 0 or 1 per call: two buckets are all they need.
FLAG_BOUNDS: tuple[float, ...] = (0.0,)

#: Link-local metadata endpoints (EC2 IMDS; ECS task metadata and credentials): plumbing, not dependencies.
_METADATA_HOSTS = (METADATA_ADDRESS, "169.254.170.2")


def views() -> list[Any]:
    """SDK views giving the three instruments their bucket layouts (pass to the MeterProvider)."""
    from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View

    return [
        View(instrument_name=LATENCY, meter_name=METER_NAME,
             aggregation=ExplicitBucketHistogramAggregation(LATENCY_BOUNDS_MS)),
        View(instrument_name=ERROR, meter_name=METER_NAME, aggregation=ExplicitBucketHistogramAggregation(FLAG_BOUNDS)),
        View(instrument_name=FAULT, meter_name=METER_NAME, aggregation=ExplicitBucketHistogramAggregation(FLAG_BOUNDS)),
    ]  # fmt: skip


def _status_code(attrs: Any) -> int | None:
    """The HTTP status, stable attribute first (``http.response.status_code``), then the old one."""
    for key in ("http.response.status_code", "http.status_code"):
        value = attrs.get(key)
        if value is None:
            continue
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    return None


def error_and_fault(span: ReadableSpan) -> tuple[int, int]:
    """(error, fault): 4xx is the caller's error, 5xx or an error status without a 4xx is a fault."""
    code = _status_code(span.attributes or {})
    if code is not None and 400 <= code <= 499:
        return 1, 0
    if code is not None and 500 <= code <= 599:
        return 0, 1
    return 0, int(span.status.status_code == StatusCode.ERROR)


def _is_metadata_call(attrs: dict[str, Any]) -> bool:
    remote = str(attrs.get(AWS_REMOTE_SERVICE, ""))
    return remote.split(":")[0] in _METADATA_HOSTS


class OperationLimiter:
    """First ``limit`` operations of each service are kept as they are; the rest are folded and counted."""

    def __init__(self, limit: int = DEFAULT_MAX_OPERATIONS) -> None:
        self.limit = max(int(limit), 1)
        self.folded = 0
        self._seen: dict[tuple[str, str], set[str]] = {}
        self._lock = threading.Lock()

    def admit(self, service: str, kind: str, operation: str) -> bool:
        key = (service, kind)
        with self._lock:
            seen = self._seen.setdefault(key, set())
            if operation in seen:
                return True
            if len(seen) < self.limit:
                seen.add(operation)
                return True
            self.folded += 1
            return False

    def apply(self, attrs: dict[str, Any]) -> dict[str, Any]:
        service = str(attrs.get(AWS_LOCAL_SERVICE, ""))
        if AWS_REMOTE_SERVICE in attrs:
            # A dependency is one (local operation, remote service, remote operation) triple.
            triple = f"{attrs.get(AWS_LOCAL_OPERATION)}\x00{attrs[AWS_REMOTE_SERVICE]}\x00{attrs.get(AWS_REMOTE_OPERATION)}"
            if not self.admit(service, "dependency", triple):
                attrs = {**attrs, AWS_LOCAL_OPERATION: OTHER_OPERATIONS, AWS_REMOTE_OPERATION: OTHER_REMOTE_OPERATIONS}
        elif not self.admit(service, "service", str(attrs.get(AWS_LOCAL_OPERATION))):
            attrs = {**attrs, AWS_LOCAL_OPERATION: OTHER_OPERATIONS}
        return attrs


class ApplicationSignalsMetrics(SpanProcessor):
    """Records Latency/Error/Fault at span end for service entries and dependency calls."""

    def __init__(self, meter_provider: Any, resource: Any = None, max_operations: int = DEFAULT_MAX_OPERATIONS) -> None:
        meter = meter_provider.get_meter(METER_NAME)
        self._latency = meter.create_histogram(LATENCY, unit="ms", description="Duration of calls served and made.")
        self._error = meter.create_histogram(ERROR, unit="1", description="1 for a call that ended in a 4xx.")
        self._fault = meter.create_histogram(
            FAULT, unit="1", description="1 for a call that ended in a 5xx or an error status."
        )
        self._resource = resource
        self.limiter = OperationLimiter(max_operations)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._record(span)
        except Exception:  # a metric is never worth an exception in the app
            pass

    def _record(self, span: ReadableSpan) -> None:
        if span.end_time is None or span.start_time is None:
            return
        sets = metric_attributes(span, span.resource if span.resource is not None else self._resource)
        if not sets:
            return
        millis = (span.end_time - span.start_time) / 1_000_000
        error, fault = error_and_fault(span)
        for attrs in sets.values():
            if _is_metadata_call(attrs):
                continue
            attrs = self.limiter.apply(attrs)
            self._latency.record(millis, attrs)
            self._error.record(error, attrs)
            self._fault.record(fault, attrs)

    @property
    def folded(self) -> int:
        """Calls whose operation was folded into ``AllOther*Operations`` (the 'dropped' counter)."""
        return self.limiter.folded

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
