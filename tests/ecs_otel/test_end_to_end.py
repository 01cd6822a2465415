"""``import ecs_otel.auto`` alone: spans, metrics and OTLP logs reach a real receiver with the ECS resource."""

from __future__ import annotations

import json
import sys

from tests.ecs_otel.conftest import (
    base_env,
    hexid,
    log_records,
    metric_names,
    resource_spans,
    run,
    write_script,
)

APP = """
import ecs_otel.auto
import logging
from opentelemetry import metrics, trace

counter = metrics.get_meter("app").create_counter("app.orders", unit="{order}")
with trace.get_tracer("app").start_as_current_span("checkout") as span:
    counter.add(2, {"shop": "a"})
    logging.getLogger("app.checkout").warning("inside the span")
    print("TRACE", format(span.get_span_context().trace_id, "032x"), flush=True)
import sys, time
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)  # a metric interval, when metrics are checked
"""


def test_traces_metrics_logs_carry_the_task(tmp_path, sink, ecs_emulator):
    script = write_script(tmp_path, APP)
    env = base_env(sink, ecs_emulator, OTEL_LOGS_EXPORTER="otlp")
    proc = run([sys.executable, str(script), "1.2"], env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    trace_id = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("TRACE"))

    spans = resource_spans(sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1))
    res, span = next((r, s) for r, s in spans if s["name"] == "checkout")
    task_arn = res["aws.ecs.task.arn"]
    assert task_arn.startswith("arn:aws:ecs:")
    assert res["service.name"] == res["aws.ecs.task.family"]  # the documented default: the task family
    assert hexid(span["traceId"]) == trace_id
    # X-Ray compatible id: the first 32 bits are the start time in epoch seconds.
    assert abs(int(trace_id[:8], 16) - int(span["startTimeUnixNano"]) // 10**9) <= 2

    wanted = {"app.orders", "process.memory.usage", "process.cpu.utilization", "process.thread.count",
              "process.unix.file_descriptor.count", "cpython.gc.collections"}
    got = sink.wait_for("metrics", lambda r: wanted <= set(metric_names(r)))
    names = metric_names(got)
    assert all(names[n]["aws.ecs.task.arn"] == task_arn for n in wanted)

    logs = log_records(sink.wait_for("logs", lambda r: any(
        rec.get("body", {}).get("stringValue") == "inside the span" for _, rec in log_records(r))))
    res_log, rec = next((r, x) for r, x in logs if x.get("body", {}).get("stringValue") == "inside the span")
    assert sum(1 for _, x in logs if x.get("body", {}).get("stringValue") == "inside the span") == 1  # no duplicate
    assert res_log["aws.ecs.task.arn"] == task_arn
    assert hexid(rec["traceId"]) == trace_id
    assert rec["spanId"] == span["spanId"]


def test_otel_service_name_wins(tmp_path, sink, ecs_emulator):
    script = write_script(tmp_path, APP)
    env = base_env(sink, ecs_emulator, OTEL_SERVICE_NAME="checkout-api",
                   OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=test")
    proc = run([sys.executable, str(script)], env)
    assert proc.returncode == 0, proc.stderr
    res = resource_spans(sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1))[0][0]
    assert res["service.name"] == "checkout-api"
    assert res["deployment.environment.name"] == "test"


def test_logs_not_exported_unless_asked(tmp_path, sink, ecs_emulator):
    script = write_script(tmp_path, APP)
    proc = run([sys.executable, str(script)], base_env(sink, ecs_emulator))
    assert proc.returncode == 0, proc.stderr
    sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1)
    assert sink.received("logs") == []
    # ... but the warning is on stdout as a JSON line with the span's trace id (ECS default).
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if lines:  # JSON stdout logging comes from ecs_otel.logging
        rec = next(x for x in lines if x.get("message") == "inside the span")
        trace_line = next(line for line in proc.stdout.splitlines() if line.startswith("TRACE"))
        assert rec["trace_id"] == trace_line.split()[1]
