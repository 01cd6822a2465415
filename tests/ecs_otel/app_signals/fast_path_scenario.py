"""A span mix played through the Application Signals processor and a straightforward reference, side by side.

The reference does what :mod:`ecs_otel.metrics.app_signals` says in the plainest way (attributes from
scratch, the operation limit, three ``record`` calls per attribute set). Both get the same spans, each on
its own MeterProvider with a cumulative and a delta reader, and :func:`compare` asserts that every
collection holds the same points, value for value. The mix covers service entries and dependency calls,
4xx, 5xx, an error status, a metadata call, two resources, equal values of different types, a negative
duration and more operations than the limit. Imports only the SDK and ecs_otel (no pytest), so a test can
run it in another process and on another SDK release.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.metrics import Histogram, MeterProvider, TraceBasedExemplarFilter
from opentelemetry.sdk.metrics.export import AggregationTemporality, InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

from ecs_otel.metrics import app_signals, cardinality
from ecs_otel.metrics.app_signals import ApplicationSignalsMetrics, OperationLimiter, error_and_fault
from ecs_otel.tracing.app_signals import AttributePropagator, RecordOnlySampler
from ecs_otel.tracing.app_signals_attributes import metric_attributes

MAX_OPERATIONS = 3


class Reference(SpanProcessor):
    """The straightforward path: attributes from scratch, the limiter, three SDK calls per attribute set."""

    def __init__(self, meter_provider: Any, resource: Any) -> None:
        meter = meter_provider.get_meter(app_signals.METER_NAME)
        self.latency = meter.create_histogram(app_signals.LATENCY, unit="ms",
                                              description="Duration of calls served and made.")  # fmt: skip
        self.error = meter.create_histogram(app_signals.ERROR, unit="1", description="1 for a call that ended in a 4xx.")
        self.fault = meter.create_histogram(app_signals.FAULT, unit="1",
                                            description="1 for a call that ended in a 5xx or an error status.")  # fmt: skip
        self.resource = resource
        self.limiter = OperationLimiter(MAX_OPERATIONS)

    def on_end(self, span: ReadableSpan) -> None:
        assert span.end_time is not None and span.start_time is not None
        sets = metric_attributes(span, span.resource if span.resource is not None else self.resource)
        millis = (span.end_time - span.start_time) / 1_000_000
        error, fault = error_and_fault(span)
        for attrs in sets.values():
            if str(attrs.get("aws.remote.service", "")).split(":")[0] in ("169.254.169.254", "169.254.170.2"):
                continue
            attrs = self.limiter.apply(attrs)
            self.latency.record(millis, attrs)
            self.error.record(error, attrs)
            self.fault.record(fault, attrs)


def _readers() -> list[InMemoryMetricReader]:
    return [InMemoryMetricReader(), InMemoryMetricReader(preferred_temporality={Histogram: AggregationTemporality.DELTA})]


def _points(reader: InMemoryMetricReader) -> list[tuple[Any, ...]]:
    """Every point of every metric, timestamps left out, sorted."""
    data = reader.get_metrics_data()
    out = []
    for rm in data.resource_metrics if data else ():
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for p in m.data.data_points:
                    out.append((sm.scope.name, m.name, m.unit, m.description, str(m.data.aggregation_temporality),
                                sorted((k, repr(v)) for k, v in p.attributes.items()), p.count, p.sum,
                                tuple(p.bucket_counts), tuple(p.explicit_bounds), p.min, p.max,
                                len(p.exemplars)))  # fmt: skip
    return sorted(out, key=repr)


def play(providers: list[TracerProvider], rounds_index: int) -> int:
    """One round of the span mix through every tracer provider; returns how many spans were ended."""
    ended = 0
    t0 = 1_000_000_000 * (10 + rounds_index)

    def finish(span: Span, millis: float, **attrs: Any) -> None:
        nonlocal ended
        for key, value in attrs.items():
            span.set_attribute(key, value)
        span.end(end_time=span.start_time + int(millis * 1_000_000))  # type: ignore[operator]
        ended += 1

    for n, provider in enumerate(providers):
        tracer = provider.get_tracer("opentelemetry.instrumentation.aiohttp_server")
        for i in range(2 * MAX_OPERATIONS + 1):  # more operations than the limit: the rest are folded
            for code in (200, 200, 404, 503):
                server = tracer.start_span(f"GET /op{i}", kind=SpanKind.SERVER, start_time=t0,
                                           attributes={"http.request.method": "GET", "url.path": f"/op{i}/7"})
                client = tracer.start_span("GET", kind=SpanKind.CLIENT, context=set_span_in_context(server),
                                           start_time=t0 + 1000,
                                           attributes={"http.request.method": "GET",
                                                       "url.full": f"http://backend-{i}:81/items/{code}",
                                                       "server.address": f"backend-{i}", "server.port": 81})
                finish(client, 1.5 * (i + 1), **{"http.response.status_code": code})
                finish(server, 7.25 * (i + 1) + n, **{"http.response.status_code": code})
        # a name that is only the method: the operation comes from the path
        finish(tracer.start_span("GET", kind=SpanKind.SERVER, start_time=t0,
                                 attributes={"http.request.method": "GET", "url.path": "/items/42"}), 3.0,
               **{"http.response.status_code": 200})
        # an error status without a status code is a fault
        span = tracer.start_span("POST /pay", kind=SpanKind.SERVER, start_time=t0,
                                 attributes={"http.request.method": "POST"})
        span.set_status(Status(StatusCode.ERROR, "boom"))
        finish(span, 12.0)
        # the metadata endpoint is plumbing: no dependency metrics
        finish(tracer.start_span("GET", kind=SpanKind.CLIENT, start_time=t0,
                                 attributes={"http.request.method": "GET", "server.address": "169.254.169.254",
                                             "url.full": "http://169.254.169.254/latest"}), 1.0)
        # equal database users of different types are different series
        for user in (1, "1", True, 1.0):
            finish(tracer.start_span("SELECT orders", kind=SpanKind.CLIENT, start_time=t0,
                                     attributes={"db.system": "postgresql", "db.user": user,
                                                 "db.statement": "SELECT * FROM orders", "server.address": "db"}), 2.0)
        # a local root that serves no request, a producer, a consumer
        job = tracer.start_span("nightly", kind=SpanKind.INTERNAL, start_time=t0)
        finish(tracer.start_span("send", kind=SpanKind.PRODUCER, context=set_span_in_context(job), start_time=t0,
                                 attributes={"messaging.system": "rabbitmq", "messaging.operation": "publish"}), 0.5)
        finish(job, 40.0)
        finish(tracer.start_span("receive", kind=SpanKind.CONSUMER, start_time=t0,
                                 attributes={"messaging.system": "rabbitmq", "messaging.operation": "receive"}), 0.25)
        # a negative duration: the SDK drops the latency, error and fault are still counted
        span = tracer.start_span("GET /clock", kind=SpanKind.SERVER, start_time=t0,
                                 attributes={"http.request.method": "GET"})
        finish(span, -1.0, **{"http.response.status_code": 500})
    return ended


def compare(exemplar_filter: Any, rounds: int = 3) -> ApplicationSignalsMetrics:
    assert cardinality.install(2000)
    ours_readers, ref_readers = _readers(), _readers()
    ours_meters = MeterProvider(metric_readers=ours_readers, views=app_signals.views(), shutdown_on_exit=False,
                                exemplar_filter=exemplar_filter or TraceBasedExemplarFilter())
    ref_meters = MeterProvider(metric_readers=ref_readers, views=app_signals.views(), shutdown_on_exit=False,
                               exemplar_filter=exemplar_filter or TraceBasedExemplarFilter())
    resources = [Resource({"service.name": "shop"}), Resource({"service.name": "billing"})]
    ours = ApplicationSignalsMetrics(ours_meters, resources[0], max_operations=MAX_OPERATIONS,
                                     exemplar_filter=exemplar_filter)
    reference = Reference(ref_meters, resources[0])
    tracers = []
    for resource in resources:
        provider = TracerProvider(resource=resource, sampler=RecordOnlySampler(ParentBased(ALWAYS_OFF)),
                                  shutdown_on_exit=False)
        provider.add_span_processor(AttributePropagator())
        provider.add_span_processor(ours)
        provider.add_span_processor(reference)
        tracers.append(provider)
    for index in range(rounds):
        assert play(tracers, index) > 0
        for mine, theirs in zip(ours_readers, ref_readers, strict=True):
            expected = _points(theirs)
            assert expected and _points(mine) == expected
    assert ours.folded == reference.limiter.folded > 0, (ours.folded, reference.limiter.folded)
    return ours
