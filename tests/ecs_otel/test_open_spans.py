"""The open-span tracker with the real SDK: bounded, weak, and ending what is still open as errors."""

from __future__ import annotations

import gc
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from ecs_otel.tracing.open_spans import ENDED_ATTRIBUTE, REASON_ATTRIBUTE, OpenSpanTracker


def _provider(limit: int) -> tuple[TracerProvider, OpenSpanTracker, InMemorySpanExporter]:
    provider = TracerProvider(shutdown_on_exit=False)
    tracker = OpenSpanTracker(limit=limit)
    exported = InMemorySpanExporter()
    provider.add_span_processor(tracker)
    provider.add_span_processor(SimpleSpanProcessor(exported))
    return provider, tracker, exported


def test_open_spans_are_ended_as_errors_with_the_reason():
    provider, tracker, exported = _provider(limit=100)
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("done"):
        pass
    parent = tracer.start_span("request")
    child = tracer.start_span("query")
    assert tracker.open_count() == 2
    assert tracker.end_open_spans("SIGTERM") == 2
    by_name = {s.name: s for s in exported.get_finished_spans()}
    assert set(by_name) == {"done", "request", "query"}
    for name in ("request", "query"):
        span = by_name[name]
        assert span.status.status_code is StatusCode.ERROR
        assert "SIGTERM" in (span.status.description or "")
        assert span.attributes == {ENDED_ATTRIBUTE: True, REASON_ATTRIBUTE: "SIGTERM"}
    assert by_name["done"].status.status_code is StatusCode.UNSET
    assert tracker.end_open_spans("exit") == 0  # nothing twice
    del parent, child


def test_the_bound_counts_what_it_could_not_track():
    provider, tracker, exported = _provider(limit=2)
    tracer = provider.get_tracer("t")
    spans = [tracer.start_span(f"s{i}") for i in range(5)]
    assert tracker.open_count() == 2
    assert tracker.untracked == 3
    spans[0].end()  # a slot frees up
    spans.append(tracer.start_span("late"))
    assert tracker.open_count() == 2 and tracker.untracked == 3
    assert tracker.end_open_spans("exit") == 2
    assert {s.name for s in exported.get_finished_spans()} == {"s0", "s1", "late"}


def test_ended_and_abandoned_spans_are_forgotten():
    provider, tracker, _exported = _provider(limit=10)
    tracer = provider.get_tracer("t")
    for i in range(1000):
        with tracer.start_as_current_span(f"s{i}"):
            pass
    assert tracker.open_count() == 0
    abandoned = tracer.start_span("never ended")
    assert tracker.open_count() == 1
    del abandoned
    gc.collect()
    assert tracker.open_count() == 0  # weak: the tracker never keeps a span alive


def test_a_passed_deadline_ends_nothing_more():
    provider, tracker, exported = _provider(limit=10)
    tracer = provider.get_tracer("t")
    spans = [tracer.start_span(f"s{i}") for i in range(3)]
    assert tracker.end_open_spans("SIGTERM", deadline=time.monotonic() - 1) == 0
    assert exported.get_finished_spans() == ()
    del spans
