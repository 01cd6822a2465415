"""Our wire encoder yields exactly the message the stock OTLP encoder builds."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as stock_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from ecs_otel.otlp.spans import encode_spans


def _spans():
    exporter = InMemorySpanExporter()
    providers = [
        TracerProvider(resource=Resource({"service.name": "a", "n": 1, "f": 0.5, "b": False, "l": ["x", "y"]},
                                         "https://opentelemetry.io/schemas/1.26.0"), shutdown_on_exit=False),
        TracerProvider(resource=Resource({"service.name": "b"}), shutdown_on_exit=False),
    ]
    remote = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, is_remote=True,
                         trace_flags=TraceFlags(1), trace_state=TraceState([("vendor", "v1"), ("x", "y")]))
    for i, provider in enumerate(providers):
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer(f"scope{i}", "1.0", schema_url="https://example/schema" if i else None)
        other = provider.get_tracer("other")
        ctx = trace.set_span_in_context(trace.NonRecordingSpan(remote))
        with tracer.start_as_current_span("server", context=ctx, kind=SpanKind.SERVER, attributes={
            "s": "ünïcode", "i": -42, "big": 2**62, "d": 3.25, "t": True, "f": False, "empty": "",
            "ints": [1, 2, 3], "floats": [1.5], "bools": [True, False], "strs": ["a", ""],
        }) as span:
            span.add_event("evt", {"k": "v"})
            span.add_event("bare")
            with other.start_as_current_span("child", kind=SpanKind.CLIENT,
                                             links=[Link(remote, {"why": "batch"})]) as child:
                child.set_status(Status(StatusCode.ERROR, "boom"))
            with tracer.start_as_current_span("ok") as ok:
                ok.set_status(Status(StatusCode.OK))
        with tracer.start_as_current_span("producer", kind=SpanKind.PRODUCER):
            pass
    return exporter.get_finished_spans()


def test_same_message_as_the_stock_encoder():
    spans = _spans()
    ours = ExportTraceServiceRequest()
    ours.ParseFromString(encode_spans(spans))
    assert ours == stock_encode(spans)
    assert sum(len(ss.spans) for rs in ours.resource_spans for ss in rs.scope_spans) == len(spans) == 8


def test_repeated_encoding_is_stable_with_caches_warm():
    spans = _spans()
    assert encode_spans(spans) == encode_spans(spans)
