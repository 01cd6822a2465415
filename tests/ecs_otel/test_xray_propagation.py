"""X-Amzn-Trace-Id: the ALB forms the upstream propagator rejects are continued here."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from ecs_otel.tracing.ids import XRayIdGenerator
from ecs_otel.tracing.propagator import XRayPropagator, format_header, parse_header
from ecs_otel.tracing.sampling import EcsParentBased

TRACE = "5759e988bd862e3fe1be46a994272793"
ROOT = "Root=1-5759e988-bd862e3fe1be46a994272793"

ALB_CASES = {
    "root-only": ROOT,
    "sampled-undecided": f"{ROOT};Parent=53995c3f42cd8ad8;Sampled=?",
    "trailing-semicolon": f"{ROOT};Parent=53995c3f42cd8ad8;Sampled=1;",
}


@pytest.mark.parametrize("case", sorted(ALB_CASES))
def test_upstream_propagator_loses_alb_trace_ids(case):
    ctx = AwsXRayPropagator().extract({"X-Amzn-Trace-Id": ALB_CASES[case]})
    assert not trace.get_current_span(ctx).get_span_context().is_valid  # the ALB trace id is dropped


@pytest.mark.parametrize("case", sorted(ALB_CASES))
def test_ours_continues_the_alb_trace(case):
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=EcsParentBased(ALWAYS_ON), id_generator=XRayIdGenerator(),
                              shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ctx = XRayPropagator().extract({"X-Amzn-Trace-Id": ALB_CASES[case]})
    with provider.get_tracer("t").start_as_current_span("server", context=ctx, kind=trace.SpanKind.SERVER):
        pass
    (span,) = exporter.get_finished_spans()
    assert f"{span.context.trace_id:032x}" == TRACE
    assert span.context.trace_flags.sampled  # undecided → our root sampler decided (always_on)
    if case != "root-only":
        assert f"{span.parent.span_id:016x}" == "53995c3f42cd8ad8"


def test_sampled_zero_is_respected():
    ctx = XRayPropagator().extract({"x-amzn-trace-id": f"{ROOT};Parent=53995c3f42cd8ad8;Sampled=0"})
    sampler = EcsParentBased(ALWAYS_ON)
    result = sampler.should_sample(ctx, int(TRACE, 16), "s")
    assert not result.decision.is_sampled()


def test_root_only_does_not_override_traceparent():
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "X-Amzn-Trace-Id": ROOT}
    ctx = TraceContextTextMapPropagator().extract(carrier)
    ctx = XRayPropagator().extract(carrier, ctx)
    assert f"{trace.get_current_span(ctx).get_span_context().trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"


def test_inject_round_trip():
    sc = trace.SpanContext(int(TRACE, 16), 0x53995C3F42CD8AD8, is_remote=False,
                           trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED))
    carrier: dict[str, str] = {}
    XRayPropagator().inject(carrier, trace.set_span_in_context(trace.NonRecordingSpan(sc), Context()))
    assert carrier["X-Amzn-Trace-Id"] == f"{ROOT};Parent=53995c3f42cd8ad8;Sampled=1"
    assert parse_header(carrier["X-Amzn-Trace-Id"]) == (int(TRACE, 16), 0x53995C3F42CD8AD8, True)
    assert format_header(sc) == carrier["X-Amzn-Trace-Id"]


@pytest.mark.parametrize("bad", ["", "Root=", "Root=2-5759e988-bd862e3fe1be46a994272793", "Parent=53995c3f42cd8ad8",
                                 "Root=1-5759e988-bd862e3f", "garbage;;;"])
def test_malformed_headers_are_ignored(bad):
    ctx = XRayPropagator().extract({"X-Amzn-Trace-Id": bad})
    assert not trace.get_current_span(ctx).get_span_context().is_valid


def test_otel_propagators_naming_xray_works_without_the_upstream_package(tmp_path):
    """A name opentelemetry.propagate cannot resolve (as `xray` is when opentelemetry-propagator-aws-xray is
    not installed) would make every import of opentelemetry.propagate raise; here it is one warning."""
    import subprocess
    import sys

    from tests.ecs_otel.conftest import base_env, write_script

    app = ("import ecs_otel.auto\nfrom opentelemetry.propagate import get_global_textmap\n"
           "print(sorted(get_global_textmap().fields))\n")
    env = base_env(None, OTEL_PROPAGATORS="tracecontext,xray,notinstalled", OTEL_TRACES_EXPORTER="none",
                   OTEL_METRICS_EXPORTER="none")
    proc = subprocess.run([sys.executable, str(write_script(tmp_path, app))], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "x-amzn-trace-id" in proc.stdout.lower() and "traceparent" in proc.stdout
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("notinstalled") == 1
