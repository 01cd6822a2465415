"""The per-span pieces of Application Signals give the same answers on their short paths as the rules they shortcut.

``produces_metrics`` (one pass) against ``produces_service_metrics``/``produces_dependency_metrics``; the
record-only sampler handing a DROP's attributes to the span without a copy, and merging when the wrapped
sampler added some; the propagator's early exit for local roots, against the recorded ADOT cases.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, Decision, Sampler, SamplingResult
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from ecs_otel.tracing.app_signals import RecordOnlySampler
from ecs_otel.tracing.app_signals_attributes import (
    produces_dependency_metrics,
    produces_metrics,
    produces_service_metrics,
)

_REMOTE = SpanContext(0x5F0000000000000000000000000000AB, 0xCD, is_remote=True, trace_flags=TraceFlags(1))


class _Ended(SpanProcessor):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def on_end(self, span: ReadableSpan) -> None:
        self.spans.append(span)


def test_one_pass_answers_as_the_two_rules_for_every_kind_parent_and_scope() -> None:
    ended = _Ended()
    provider = TracerProvider(resource=Resource({"service.name": "s"}), shutdown_on_exit=False)
    provider.add_span_processor(ended)
    for scope in ("tests.app", "opentelemetry.instrumentation.boto3sqs", "OpenTelemetry.Instrumentation.Boto3SQS"):
        tracer = provider.get_tracer(scope)
        local = tracer.start_span("local parent")
        for parent in (Context(), trace.set_span_in_context(NonRecordingSpan(_REMOTE)),
                       trace.set_span_in_context(local)):  # fmt: skip
            for kind in SpanKind:
                tracer.start_span(f"{kind.name}", context=parent, kind=kind).end()
        local.end()
    assert len(ended.spans) == 3 * (3 * len(SpanKind) + 1)
    answers = set()
    for span in ended.spans:
        expected = (produces_service_metrics(span), produces_dependency_metrics(span))
        assert produces_metrics(span) == expected, (span.name, span.instrumentation_scope, span.parent)
        answers.add(expected)
    assert answers == {(True, False), (False, True), (True, True), (False, False)}  # every branch seen


class _Adds(Sampler):
    """Drops, adding an attribute of its own (as some samplers do)."""

    def should_sample(self, parent_context: Any, trace_id: int, name: str, kind: Any = None,
                      attributes: Any = None, links: Any = None, trace_state: Any = None) -> SamplingResult:  # fmt: skip
        return SamplingResult(Decision.DROP, {"sampler.rule": "low"})

    def get_description(self) -> str:
        return "Adds"


class _Frozen(Mapping[str, Any]):
    """A read-only mapping that is not a dict (some instrumentations pass their own)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


@pytest.mark.parametrize("attributes", [None, {}, {"http.request.method": "GET", "url.path": "/a"},
                                        _Frozen({"http.request.method": "GET"})])  # fmt: skip
@pytest.mark.parametrize("root", [ALWAYS_OFF, _Adds()], ids=["drop", "drop-with-attributes"])
def test_a_drop_becomes_record_only_with_the_span_attributes_and_the_sampler_ones(attributes: Any,
                                                                                 root: Sampler) -> None:
    result = RecordOnlySampler(root).should_sample(None, 1, "GET /a", SpanKind.SERVER, attributes)
    own = {} if root is ALWAYS_OFF else {"sampler.rule": "low"}
    assert result.decision is Decision.RECORD_ONLY
    assert dict(result.attributes) == {**dict(attributes or {}), **own}
    assert isinstance(result.attributes, MappingProxyType)
    if type(attributes) is dict and root is ALWAYS_OFF:  # nothing to merge: a view of the span's dict, no copy
        attributes["late"] = 1
        assert result.attributes.get("late") == 1
        del attributes["late"]
    # and the span started with them records them
    ended = _Ended()
    provider = TracerProvider(sampler=RecordOnlySampler(root), shutdown_on_exit=False)
    provider.add_span_processor(ended)
    provider.get_tracer("t").start_span("GET /a", kind=SpanKind.SERVER, attributes=attributes).end()
    (span,) = ended.spans
    assert dict(span.attributes or {}) == {**dict(attributes or {}), **own}
    assert not span.context.trace_flags.sampled


def test_a_sampled_decision_passes_through_unchanged() -> None:
    class _Keeps(Sampler):
        def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
            return self.result

        def get_description(self) -> str:
            return "Keeps"

    keeps = _Keeps()
    keeps.result = SamplingResult(Decision.RECORD_AND_SAMPLE, {"a": 1})  # type: ignore[attr-defined]
    assert RecordOnlySampler(keeps).should_sample(None, 1, "n") is keeps.result  # type: ignore[attr-defined]

