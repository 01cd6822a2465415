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

Cheap, because it runs for every span of every request, sampled or not: a repeated attribute set is
remembered rather than rebuilt and re-checked against the operation limit, and, with exemplars off
(ecs_otel's default), its three values go straight into the series the SDK found for it the first time
(:mod:`ecs_otel.metrics.direct`) instead of through three full ``record`` calls. The points collected are
the same as the plain way's (``tests/ecs_otel/app_signals/test_metrics_fast_path.py`` compares them).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from ecs_otel.memo import Memo
from ecs_otel.metrics.direct import Bound, DirectFeed
from ecs_otel.tracing.app_signals_attributes import (
    AWS_LOCAL_OPERATION,
    AWS_LOCAL_SERVICE,
    AWS_REMOTE_OPERATION,
    AWS_REMOTE_SERVICE,
    AWS_SPAN_KIND,
    INTERNAL_OPERATION,
    LOCAL_ROOT,
    METADATA_ADDRESS,
    UNKNOWN_OPERATION,
    UNKNOWN_SERVICE,
    dependency_attributes,
    is_local_root,
    local_service,
    produces_metrics,
    service_attributes,
)

METER_NAME = "ecs_otel.application_signals"
LATENCY, ERROR, FAULT = "Latency", "Error", "Fault"
OTHER_OPERATIONS = "AllOtherOperations"
OTHER_REMOTE_OPERATIONS = "AllOtherRemoteOperations"
DEFAULT_MAX_OPERATIONS = 500
#: Attribute sets remembered per kind (service entries, dependency calls) before the cache is emptied.
DEFAULT_CACHE_SIZE = 2048
_LAMBDA_FUNCTION = "AWS_LAMBDA_FUNCTION_NAME"

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
    return _error_and_fault(span, span.attributes or {})


def _error_and_fault(span: ReadableSpan, attrs: Any) -> tuple[int, int]:
    code = _status_code(attrs)
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


class _Series:
    """One attribute set as it is recorded: before and after the operation limit, and its direct binding."""

    __slots__ = ("attributes", "before", "bound", "folded")

    def __init__(self, before: dict[str, Any], attributes: dict[str, Any]) -> None:
        self.before = before
        self.attributes = attributes
        #: The limiter folded it: it always will (its operations are never forgotten), and each call is counted.
        self.folded = attributes is not before
        self.bound: Bound | None = None


#: A span's attribute set: a remembered series (or a plain set, not cacheable), and whether it was made just
#: now (then the operation limit has already been applied, and counted, for this call).
_Found = tuple["_Series | dict[str, Any]", bool]

#: Latency varies; Error and Fault are 0 or 1 (see :meth:`ecs_otel.metrics.direct.DirectFeed.feed`).
_CONSTANT = (False, True, True)


def _content_key(attrs: dict[str, Any]) -> Any:
    """A hashable key equal for two sets exactly when the SDK keys them alike (``True``, ``1`` and ``1.0`` differ)."""
    items = tuple(attrs.items())
    for value in attrs.values():
        if type(value) is not str:
            key = (items, tuple(type(v) for v in attrs.values()))
            try:
                hash(key)
            except TypeError:
                return None
            return key
    return items


class ApplicationSignalsMetrics(SpanProcessor):
    """Records Latency/Error/Fault at span end for service entries and dependency calls.

    Kept cheap because it runs for every span, sampled or not. Attribute sets are remembered
    (``cache_size`` per kind, then the cache is emptied and the sets counted in :attr:`cache_evicted`):
    a service entry's set by its service, operation and kind, so a repeated one is neither rebuilt nor
    re-checked against the operation limit (an admitted operation stays admitted, a folded one stays
    folded and is counted on every call); a dependency call's set by its content, after it is built. With
    ``exemplar_filter`` the provider's ``AlwaysOffExemplarFilter``, a remembered set's values go straight
    into the series the SDK found for it the first time (:mod:`ecs_otel.metrics.direct`; counted in
    :attr:`direct_records`); otherwise, and whenever that cannot be exact, through the SDK's ``record``.
    """

    def __init__(self, meter_provider: Any, resource: Any = None, max_operations: int = DEFAULT_MAX_OPERATIONS,
                 *, exemplar_filter: Any = None, cache_size: int = DEFAULT_CACHE_SIZE) -> None:  # fmt: skip
        meter = meter_provider.get_meter(METER_NAME)
        self._latency = meter.create_histogram(LATENCY, unit="ms", description="Duration of calls served and made.")
        self._error = meter.create_histogram(ERROR, unit="1", description="1 for a call that ended in a 4xx.")
        self._fault = meter.create_histogram(
            FAULT, unit="1", description="1 for a call that ended in a 5xx or an error status."
        )
        self._resource = resource
        self.limiter = OperationLimiter(max_operations)
        self._feed = DirectFeed.create((self._latency, self._error, self._fault), _CONSTANT, exemplar_filter)
        self._services: Memo[tuple[str, str, str], _Series] = Memo("library.app_signals_services", cache_size)
        self._dependencies: Memo[Any, _Series] = Memo("library.app_signals_dependencies", cache_size)
        self._service_of: tuple[Any, str] = (object(), UNKNOWN_SERVICE)
        # Lambda names the operation after the function (see ingress_operation); its runtime sets this variable
        # before the process starts, so it is read once here rather than for every span.
        self._in_lambda = _LAMBDA_FUNCTION in os.environ
        #: Attribute sets whose values went straight into their series (not through the SDK's ``record``).
        #: A plain counter: a diagnostic, may miss a count under threads.
        self.direct_records = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._record(span)
        except Exception:  # a metric is never worth an exception in the app
            pass

    def _record(self, span: ReadableSpan) -> None:
        end, start = span.end_time, span.start_time
        if end is None or start is None:
            return
        resource = span.resource
        if resource is None:
            resource = self._resource
        attrs = span.attributes  # a new read-only view per access: taken once
        if attrs is None:
            attrs = {}
        found = self._series(span, resource, attrs)
        if not found:
            return
        error, fault = _error_and_fault(span, attrs)
        values = ((end - start) / 1_000_000, error, fault)
        feed = self._feed
        for series, fresh in found:
            if isinstance(series, dict):  # not cacheable: the plain way
                kept = self.limiter.apply(series)
                self._latency.record(values[0], kept)
                self._error.record(error, kept)
                self._fault.record(fault, kept)
                continue
            if series.folded and not fresh:
                self.limiter.apply(series.before)  # counts this call, as the limiter counts every folded one
            bound = series.bound
            if bound is not None and feed is not None and feed.feed(bound, values):
                self.direct_records += 1
            elif feed is not None:
                series.bound = feed.record(values, series.attributes)
            else:
                kept = series.attributes
                self._latency.record(values[0], kept)
                self._error.record(error, kept)
                self._fault.record(fault, kept)

    def _series(self, span: ReadableSpan, resource: Any, attrs: Any) -> list[_Found]:
        """The span's attribute sets (see :func:`metric_attributes`), as remembered series where possible."""
        found: list[_Found] = []
        service, dependency = produces_metrics(span)
        if service:
            found.append(self._service_series(span, resource, attrs))
        if dependency:
            called = dependency_attributes(span, resource)
            if not _is_metadata_call(called):
                found.append(self._dependency_series(called))
        return found

    def _service_name(self, resource: Any) -> str:
        last = self._service_of  # one tuple, so that threads never see a name paired with another resource
        if last[0] is resource:
            return last[1]
        name = local_service(resource)
        self._service_of = (resource, name)
        return name

    def _service_series(self, span: ReadableSpan, resource: Any, attrs: Any) -> _Found:
        key = self._service_key(span, resource, attrs)
        series = self._services.get(key) if key is not None else None
        if series is not None:
            return series, False
        before = service_attributes(span, resource)
        if key is None or key != (before[AWS_LOCAL_SERVICE], before[AWS_LOCAL_OPERATION], before[AWS_SPAN_KIND]):
            return before, True
        series = _Series(before, self.limiter.apply(before))
        self._services.put(key, series)
        return series, True

    def _service_key(self, span: ReadableSpan, resource: Any, attrs: Any) -> tuple[str, str, str] | None:
        """(service, operation, kind) as :func:`service_attributes` gives them, where that is cheap; else None.

        The operation is the span's name unless the name is missing or only the HTTP method (then it
        comes from the path, which may hold ids: not cached), or the span is a local root that serves no
        request (``InternalOperation``). Inside Lambda it is the function's: not cached. A key that turns
        out to differ from the set built on a miss is never stored (see :meth:`_service_series`).
        """
        if self._in_lambda:
            return None
        local_root = is_local_root(span)
        kind = span.kind
        if local_root and kind != SpanKind.SERVER:
            operation = INTERNAL_OPERATION
        else:
            name = span.name
            method = attrs.get("http.request.method")
            if method is None:
                method = attrs.get("http.method")
            if type(name) is not str or name == UNKNOWN_OPERATION or (method and name == method):
                return None
            operation = name
        return self._service_name(resource), operation, LOCAL_ROOT if local_root else kind.name

    def _dependency_series(self, before: dict[str, Any]) -> _Found:
        key = _content_key(before)
        if key is None:
            return before, True
        series = self._dependencies.get(key)
        if series is not None:
            return series, False
        series = _Series(before, self.limiter.apply(before))
        self._dependencies.put(key, series)
        return series, True

    @property
    def cache_evicted(self) -> int:
        """Attribute sets dropped from the caches when they were full (each is rebuilt when seen again)."""
        return self._services.evicted + self._dependencies.evicted

    @property
    def cached(self) -> int:
        """Attribute sets remembered now (at most ``cache_size`` of each kind)."""
        return len(self._services) + len(self._dependencies)

    @property
    def folded(self) -> int:
        """Calls whose operation was folded into ``AllOther*Operations`` (the 'dropped' counter)."""
        return self.limiter.folded

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
