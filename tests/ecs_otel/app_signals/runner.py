"""Plays a case of :mod:`tests.ecs_otel.app_signals.cases` through a real SDK tracer and collects generator output.

Imports only the OpenTelemetry SDK, so both the parity test and ``record_adot.py`` (in ADOT's own
environment) use the same code: spans are started with the real parent contexts, a propagating
span processor runs at start (ADOT's or ours), and the attribute generator runs on each finished
span.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from tests.ecs_otel.app_signals.cases import RESOURCE

Generate = Callable[[ReadableSpan, Resource], dict[str, Any]]


class _Collect(SpanProcessor):
    def __init__(self, generate: Generate, resource: Resource) -> None:
        self.generate, self.resource, self.out = generate, resource, {}

    def on_end(self, span: ReadableSpan) -> None:
        result = self.generate(span, self.resource)
        self.out[span.name + "#" + str(span.attributes.get("case.index"))] = {
            k: dict(sorted(dict(v).items())) for k, v in sorted(result.items())
        }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def run(case: dict[str, Any], propagator: SpanProcessor, generate: Generate) -> dict[str, Any]:
    """``{"<span name>#<index>": {"Service"|"Dependency": {attribute: value}}}`` for one case."""
    os.environ.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    resource = Resource(RESOURCE)
    provider = TracerProvider(resource=resource, sampler=ALWAYS_ON, shutdown_on_exit=False)
    collect = _Collect(generate, resource)
    provider.add_span_processor(propagator)
    provider.add_span_processor(collect)
    remote = SpanContext(0x5F0000000000000000000000000000AB, 0x00000000000000CD, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED))
    started: list[Any] = []
    for index, spec in enumerate(case["spans"]):
        tracer = provider.get_tracer(spec.get("scope", "tests.ecs_otel.app_signals"))
        parent = spec["parent"]
        if parent is None:
            context = Context()
        elif parent == "remote":
            context = trace.set_span_in_context(NonRecordingSpan(remote), Context())
        else:
            context = trace.set_span_in_context(started[parent], Context())
        attributes = {k: _plain(v) for k, v in spec["attributes"].items()}
        attributes["case.index"] = index
        started.append(tracer.start_span(spec["name"], context=context, kind=SpanKind[spec["kind"]],
                                         attributes=attributes, start_time=1_000_000_000 + index))
    for index, span in reversed(list(enumerate(started))):
        span.end(end_time=2_000_000_000 + (len(started) - index))
    provider.shutdown()
    return collect.out
