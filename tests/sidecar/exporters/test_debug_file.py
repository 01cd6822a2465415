"""The ``debug`` and ``file`` exporters."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sidecar.config import ConfigError, load_settings
from sidecar.context import SidecarContext
from sidecar.exporters.debug import DebugExporter
from sidecar.exporters.file import FileExporter
from sidecar.otlp import json_codec
from sidecar.otlp.signals import Signal
from tests.sidecar.exporters import spans


async def export_all(exporter, items):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        await exporter.start()
        try:
            return [await exporter.export(sig, batch) for sig, batch in items]
        finally:
            await exporter.shutdown(0)

    return await go()


async def test_debug_basic_is_one_line_per_batch() -> None:
    out = io.StringIO()
    exp = DebugExporter(DebugExporter.Settings(), SidecarContext(), stream=out)
    outcomes = await export_all(exp, [(Signal.TRACES, spans.traces(7)), (Signal.METRICS, spans.metrics())])
    assert all(o.ok for o in outcomes)
    lines = out.getvalue().splitlines()
    assert lines == [
        "otel-debug traces: 7 items, 1 resources, services=checkout",
        "otel-debug metrics: 3 items, 1 resources, services=checkout",
    ]


async def test_debug_detailed_is_one_line_per_item() -> None:
    out = io.StringIO()
    settings = load_settings(DebugExporter.Settings, {"verbosity": "detailed"}, {}, "exporters.debug")
    exp = DebugExporter(settings, SidecarContext(), stream=out)
    batch = spans.traces(3)
    await export_all(exp, [(Signal.TRACES, batch), (Signal.LOGS, spans.logs()), (Signal.METRICS, spans.metrics())])
    lines = out.getvalue().splitlines()
    span_lines = [line for line in lines if line.startswith("otel-debug span ")]
    assert len(span_lines) == 3
    first = batch.resource_spans[0].scope_spans[0].spans[0]
    assert f"trace={first.trace_id.hex()}" in span_lines[0]
    assert "kind=SERVER" in span_lines[0] and "status=ERROR" in span_lines[0]
    assert "http.response.status_code=200" in span_lines[0]
    (log_line,) = [line for line in lines if line.startswith("otel-debug log ")]
    assert "severity=INFO" in log_line and "body='hello'" in log_line
    metric_lines = [line for line in lines if line.startswith("otel-debug metric ")]
    assert [m.split(" name=")[1].split()[0] for m in metric_lines] == ["requests", "latency", "ratio"]
    assert "count=3 sum=3.5" in metric_lines[1]


async def test_debug_lines_are_capped() -> None:
    out = io.StringIO()
    exp = DebugExporter(
        DebugExporter.Settings(verbosity="detailed", max_line_chars=80), SidecarContext(), out
    )
    await export_all(exp, [(Signal.TRACES, spans.traces(2))])
    assert all(len(line) <= 80 for line in out.getvalue().splitlines())
    assert out.getvalue().splitlines()[1].endswith("…")


async def test_file_lines_parse_back_to_the_same_messages(tmp_path: Path) -> None:
    exp = FileExporter(FileExporter.Settings(path=str(tmp_path / "out")), SidecarContext())
    batches = [
        (Signal.TRACES, spans.traces(5, seed=1)),
        (Signal.TRACES, spans.traces(5, seed=2)),
        (Signal.METRICS, spans.metrics()),
        (Signal.LOGS, spans.logs()),
    ]
    assert all(o.ok for o in await export_all(exp, batches))
    types = {
        Signal.TRACES: ExportTraceServiceRequest,
        Signal.METRICS: ExportMetricsServiceRequest,
        Signal.LOGS: ExportLogsServiceRequest,
    }
    for signal in Signal:
        lines = (tmp_path / "out" / f"{signal.value}.jsonl").read_bytes().splitlines()
        want = [b for s, b in batches if s is signal]
        got = [json_codec.decode(types[signal], line) for line in lines]
        assert [g.SerializeToString() for g in got] == [w.SerializeToString() for w in want]
    first = orjson.loads((tmp_path / "out" / "traces.jsonl").read_bytes().splitlines()[0])
    span = first["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert len(span["traceId"]) == 32 and isinstance(span["startTimeUnixNano"], str)


async def test_file_rotates_and_stays_bounded(tmp_path: Path) -> None:
    line_len = len(json_codec.encode(spans.traces(5))) + 1
    settings = FileExporter.Settings(path=str(tmp_path), max_bytes=line_len * 3, keep=2)
    exp = FileExporter(settings, SidecarContext())
    await export_all(exp, [(Signal.TRACES, spans.traces(5, seed=i)) for i in range(20)])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["traces.jsonl", "traces.jsonl.1", "traces.jsonl.2"]
    total = 0
    for name in names:
        data = (tmp_path / name).read_bytes()
        assert len(data) <= settings.max_bytes
        total += len(data.splitlines())
        for line in data.splitlines():
            json_codec.decode(ExportTraceServiceRequest, line)  # every kept line is whole
    # 20 batches, 3 per file: the live file holds 2 (20 = 6×3 + 2), the two kept ones 3 each.
    assert total == 8
    newest = json_codec.decode(
        ExportTraceServiceRequest, (tmp_path / "traces.jsonl").read_bytes().splitlines()[-1]
    )
    assert newest == spans.traces(5, seed=19)
    assert exp.files[Signal.TRACES].rotations == 6


def test_file_settings_from_env_and_validation(tmp_path: Path) -> None:
    env = {"ECS_OTEL_FILE_PATH": str(tmp_path / "demo-output"), "ECS_OTEL_FILE_MAX_BYTES": "1000"}
    settings = load_settings(FileExporter.Settings, {}, env, "exporters.file")
    assert settings.path.endswith("demo-output") and settings.max_bytes == 1000 and settings.keep == 3
    with pytest.raises(ConfigError, match="max_bytes"):
        FileExporter(FileExporter.Settings(max_bytes=0), SidecarContext())


async def test_file_write_error_that_would_repeat_is_not_retried(tmp_path: Path) -> None:
    # A file where the directory should be fails every attempt alike (ENOTDIR): retrying would only
    # hold the batch until it expires. (Start-up refuses such a path; this one appears later.)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    exp = FileExporter(FileExporter.Settings(path=str(blocker / "sub")), SidecarContext())

    async def go():  # type: ignore[no-untyped-def]
        return await exp.export(Signal.TRACES, spans.traces(1))

    outcome = await go()
    assert not outcome.ok and not outcome.retryable and "traces.jsonl" in outcome.reason


async def test_debug_names_the_task_for_data_without_a_service() -> None:
    """Task stats describe the task, not an app: the summary names it instead of ``services=?``."""
    from opentelemetry.proto.metrics.v1.metrics_pb2 import ResourceMetrics

    from ecs_otel.emulator import SyntheticSource
    from ecs_otel.metadata import parse_task
    from ecs_otel.resource import task_attributes
    from sidecar.otlp.attributes import key_value

    task = parse_task(SyntheticSource().task())
    batch = ExportMetricsServiceRequest()
    rm: ResourceMetrics = batch.resource_metrics.add()
    rm.resource.attributes.extend(key_value(k, v) for k, v in task_attributes(task).items())
    rm.resource.attributes.append(key_value("container.name", "app"))
    rm.scope_metrics.add().metrics.add(name="ecs.task.memory.utilized").gauge.data_points.add(as_int=3)
    out = io.StringIO()
    await export_all(DebugExporter(DebugExporter.Settings(), SidecarContext(), stream=out), [(Signal.METRICS, batch)])
    assert out.getvalue().splitlines() == [
        "otel-debug metrics: 1 items, 1 resources, services=task:ecs-otel-demo:1"
    ]
