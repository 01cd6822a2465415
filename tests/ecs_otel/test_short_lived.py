"""A process that lives half a second delivers everything, over OTLP/HTTP and OTLP/gRPC alike.

ECS scheduled tasks and batch jobs exit well within the 5 s span batch delay, so everything they
produce is exported at interpreter exit. The exporters are built lazily (off the import path), and
a build that first happens inside ``atexit`` used to fail for gRPC: the SDK module it imports
creates a ``Resource`` through a thread pool, and Python refuses new futures once its exit has
begun. Real processes throughout: the app, the sidecar (both receivers) and the backend it
forwards to.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from tests.ecs_otel.conftest import (
    base_env,
    log_records,
    metric_names,
    resource_spans,
    run_timed,
    write_script,
)
from tests.support.otlp_sink import SinkProcess
from tests.support.sidecar import SidecarProcess, sidecar_factory  # noqa: F401  (fixture)

N_SPANS = 25

SHORT_APP = f"""
import ecs_otel.auto
import logging, time
from opentelemetry import metrics, trace
started = time.monotonic()
tracer = trace.get_tracer("batch-job")
metrics.get_meter("batch-job").create_counter("job.items").add({N_SPANS})
for i in range({N_SPANS}):
    with tracer.start_as_current_span(f"item-{{i}}"):
        pass
logging.getLogger("job").warning("job finished")
time.sleep(max(0.0, 0.5 - (time.monotonic() - started)))
print("EXITING", flush=True)
"""


@pytest.fixture
def relay(otlp_sink: SinkProcess, sidecar_factory) -> Iterator[SidecarProcess]:  # type: ignore[no-untyped-def]  # noqa: F811
    """The sidecar forwarding all three signals to the recording backend with short batches."""
    yield sidecar_factory({
        "ECS_OTEL_OTLP_ENDPOINT": otlp_sink.url,
        "ECS_OTEL_OTLP_COMPRESSION": "none",
        "ECS_OTEL_TRACES_EXPORTERS": "otlp",
        "ECS_OTEL_METRICS_EXPORTERS": "otlp",
        "ECS_OTEL_LOGS_EXPORTERS": "otlp",
        "ECS_OTEL_BATCH_TIMEOUT": "0.1",
    })


@pytest.mark.parametrize("logs_exporter", ["none", "otlp"])  # the default, and log export opted in
@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_a_process_that_lives_half_a_second_delivers_everything(tmp_path, otlp_sink, relay, protocol,
                                                                 logs_exporter):
    endpoint = relay.http_url if protocol == "http/protobuf" else f"http://{relay.grpc_target}"
    env = base_env(
        None,
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_LOGS_EXPORTER=logs_exporter,
        # The SDK's defaults: nothing is exported on a timer during the process's life.
        OTEL_BSP_SCHEDULE_DELAY="5000",
        OTEL_BLRP_SCHEDULE_DELAY="5000",
        OTEL_METRIC_EXPORT_INTERVAL="60000",
        ECS_OTEL_INSTRUMENTATION="false",
    )
    proc, lived = run_timed([sys.executable, str(write_script(tmp_path, SHORT_APP))], env)
    assert proc.returncode == 0, proc.stderr
    assert "EXITING" in proc.stdout
    assert "cannot build" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert lived < 5 + 5, lived  # exited on its own, well before a batch delay would have passed plus budget

    spans = resource_spans(otlp_sink.wait_for("traces", lambda r: len(resource_spans(r)) >= N_SPANS,
                                              timeout_s=15))
    assert sorted(s["name"] for _, s in spans) == sorted(f"item-{i}" for i in range(N_SPANS))
    otlp_sink.wait_for("metrics", lambda r: "job.items" in metric_names(r), timeout_s=15)
    if logs_exporter == "none":
        return
    logs = otlp_sink.wait_for("logs", lambda r: len(log_records(r)) >= 1, timeout_s=15)
    assert any("job finished" in str(rec) for _, rec in log_records(logs))
