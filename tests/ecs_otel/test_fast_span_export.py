"""The fast span encoder engages on the lowest OpenTelemetry release pyproject.toml allows and on the newest.

The OTLP/HTTP span exporter keeps the stock exporter's sending and swaps only its encoder; which one ran is
recorded by ``ecs_otel.exporting.span_encoding()``. Each case runs a real process (the lowest release in a
cached venv, see :mod:`tests.support.sdk_venvs`; the newest is this environment's) that exports spans to
the recording sink, prints which encoder was used, and the test checks the sink decoded every span intact.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.ecs_otel.conftest import base_env, resource_spans, run, write_script
from tests.support.otlp_sink import SinkProcess
from tests.support.sdk_venvs import lowest_allowed, sdk_venv

pytestmark = pytest.mark.integration

EXPORT_SPANS = """
    import json, logging, sys
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    from importlib.metadata import version
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    from ecs_otel.exporting import LazyExporter, resolve_target, span_encoding

    import os
    exporter = LazyExporter(resolve_target("traces", os.environ))
    provider = TracerProvider(resource=Resource.create({"service.name": "fast-path"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("probe", "1.0")
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER, attributes={"http.route": "/x", "n": 3}):
        with tracer.start_as_current_span("child", attributes={"ok": True, "ratio": 0.5, "tags": ["a", "b"]}) as s:
            s.add_event("step", {"k": "v"})
            s.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    print(json.dumps({"sdk": version("opentelemetry-sdk"), **span_encoding()}))
"""


def _check(python: str, tmp_path: Path, sink: SinkProcess, expected_sdk: str) -> None:
    script = write_script(tmp_path, EXPORT_SPANS, "export_spans.py")
    env = base_env(sink, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"{sink.url}/v1/traces")
    out = run([python, str(script)], env, timeout=60)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["sdk"].startswith(expected_sdk), report
    assert report["path"] == "fast", report  # the stock encoder ran: the fast path is off on this release
    assert "fast path" in out.stderr  # the debug line saying which path is active
    spans = {span["name"]: (res, span) for res, span in resource_spans(sink.received("traces"))}
    assert set(spans) == {"parent", "child"}
    res, child = spans["child"]
    assert res["service.name"] == "fast-path"
    assert child["parentSpanId"] == spans["parent"][1]["spanId"]
    assert child["status"] == {"message": "boom", "code": "STATUS_CODE_ERROR"}
    assert [e["name"] for e in child["events"]] == ["step"]
    values = {kv["key"]: kv["value"] for kv in child["attributes"]}
    assert values["ok"] == {"boolValue": True}
    assert values["ratio"] == {"doubleValue": 0.5}
    assert values["tags"] == {"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}}
    assert spans["parent"][1]["kind"] == "SPAN_KIND_SERVER"


def test_fast_path_engages_on_the_newest_sdk(tmp_path: Path, sink: SinkProcess) -> None:
    from importlib.metadata import version

    _check(sys.executable, tmp_path, sink, version("opentelemetry-sdk"))


def test_fast_path_engages_on_the_lowest_allowed_sdk(tmp_path: Path, sink: SinkProcess) -> None:
    lowest = lowest_allowed("opentelemetry-sdk")
    assert lowest_allowed("opentelemetry-exporter-otlp") == lowest  # one release line for both
    python, why = sdk_venv(lowest)
    if python is None:
        pytest.skip(f"no venv with OpenTelemetry {lowest}: {why}")
    _check(str(python), tmp_path, sink, lowest)


def test_other_exporters_keep_the_stock_encoder() -> None:
    """The hook is scoped to our exporter's thread and call: an app's own stock exporter is unaffected."""
    from opentelemetry.exporter.otlp.proto.http import trace_exporter

    from ecs_otel.exporting import _fast_http_span_exporter_class

    _fast_http_span_exporter_class()
    hooked = trace_exporter.encode_spans
    assert getattr(hooked, "_ecs_otel_hook", False)
    message = hooked([])
    assert type(message).__name__ == "ExportTraceServiceRequest"
