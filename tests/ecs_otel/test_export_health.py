"""Sidecar down, from the app's side: one rate-limited ``ecs_otel`` warning, one recovery line, no SDK noise.

The main test is a real app process exporting to a closed port, then the project's OTLP sink started on
that port. The others cover what must stay as it was (a sidecar that answers with an error) and the rate
limit, in process.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ecs_otel.export_health import WARN_INTERVAL_S, EndpointHealth, probe, unreachable_reason
from tests.support.otlp_sink import SinkProcess
from tests.support.paths import REPO_ROOT
from tests.support.process import stop_process, wait_for_port_file

ROOT = REPO_ROOT

APP = textwrap.dedent("""
    import ecs_otel.auto
    import os, sys, time
    from opentelemetry import trace
    from ecs_otel.export_health import health_for

    endpoint, stop_file = sys.argv[1], sys.argv[2]
    health = health_for(endpoint, "http/protobuf")
    tracer = trace.get_tracer("app")
    reported = -1
    while not os.path.exists(stop_file):
        with tracer.start_as_current_span("tick"):
            pass
        counts = health.while_down.get("traces")
        batches = counts.batches if counts else 0
        if batches != reported:  # lets the test wait for a condition instead of sleeping
            print(f"FAILED-BATCHES {batches}", file=sys.stderr, flush=True)
            reported = batches
        time.sleep(0.05)  # the app's own pace of work
""")


class Lines:
    """A child's output stream read into a list by a thread, with waiting on a condition."""

    def __init__(self, stream) -> None:  # type: ignore[no-untyped-def]
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait(self, predicate: Callable[[list[str]], bool], timeout_s: float, what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self.lines), timeout_s):
                raise AssertionError(f"timed out waiting for {what}; saw:\n" + "\n".join(self.lines[-30:]))


def _closed_port() -> socket.socket:
    """A socket bound to a loopback port and not listening: connecting to it is refused."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def _failed_batches(lines: list[str]) -> int:
    counts = [int(ln.split()[1]) for ln in lines if ln.startswith("FAILED-BATCHES ")]
    return counts[-1] if counts else 0


def test_app_warns_once_while_the_sidecar_is_down_and_says_when_it_is_back(tmp_path: Path) -> None:
    holder = _closed_port()
    port = holder.getsockname()[1]
    endpoint = f"http://127.0.0.1:{port}"
    stop_file = tmp_path / "stop"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_", "ECS_CONTAINER"))}
    env.update({"PYTHONPATH": str(ROOT), "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100",
                "OTEL_EXPORTER_OTLP_TIMEOUT": "1000", "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none", "ECS_OTEL_LOGGING": "true", "ECS_OTEL_LOG_FORMAT": "json"})
    app = subprocess.Popen([sys.executable, "-c", APP, endpoint + "/v1/traces", str(stop_file)], cwd=tmp_path,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sink: subprocess.Popen[bytes] | None = None
    try:
        out, err = Lines(app.stdout), Lines(app.stderr)
        # Several batches fail while the port is closed: still one warning.
        err.wait(lambda lines: _failed_batches(lines) >= 3, 90, "three failed span batches")
        warnings = [json.loads(ln) for ln in out.lines if "cannot reach the OTLP endpoint" in ln]
        assert len(warnings) == 1, out.lines
        warning = warnings[0]
        assert (warning["logger"], warning["level"]) == ("ecs_otel", "WARNING")
        for part in (f"{endpoint}/v1/traces", "connection refused", "span", "sidecar container running",
                     "ECS_OTEL_OTLP_HTTP_PORT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
            assert part in warning["message"], part

        # The sidecar comes up on that port: one INFO line saying so, and the spans arrive.
        holder.close()
        port_file = tmp_path / "sink.port"
        sink = subprocess.Popen([sys.executable, "-m", "tests.support.otlp_sink", "--port", str(port),
                                 "--port-file", str(port_file)], cwd=ROOT)
        wait_for_port_file(sink, port_file, "otlp sink", 30)
        out.wait(lambda lines: any("answers again" in ln for ln in lines), 90, "the recovery line")
        [recovery] = [json.loads(ln) for ln in out.lines if "answers again" in ln]
        assert (recovery["logger"], recovery["level"]) == ("ecs_otel", "INFO")
        assert endpoint in recovery["message"] and "spans (" in recovery["message"]
        stop_file.write_text("")
        app.wait(60)
    finally:
        holder.close()
        stop_file.write_text("")
        stop_process(app)  # type: ignore[arg-type]
        if sink is not None:
            stop_process(sink)
    records = [json.loads(ln) for ln in out.lines if ln.startswith("{")]
    assert {r["logger"] for r in records} <= {"ecs_otel"}, records  # no urllib3 / exporter records
    assert sum("cannot reach" in r["message"] for r in records) == 1
    noise = [ln for ln in err.lines if not ln.startswith("FAILED-BATCHES ")]
    assert noise == [], noise


# -- in process ------------------------------------------------------------------------------------------


def _span_batch() -> list:  # type: ignore[type-arg]
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    got: list = []  # type: ignore[type-arg]

    class Keep(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            got.extend(spans)
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Keep()))
    with provider.get_tracer("t").start_as_current_span("s"):
        pass
    return got


def test_a_sidecar_that_answers_with_an_error_keeps_the_exporters_own_words(
        otlp_sink: SinkProcess, caplog: pytest.LogCaptureFixture) -> None:
    """A 401 is not "unreachable": the SDK's error is logged as it was, and no ecs_otel warning."""
    from ecs_otel.exporting import LazyExporter, resolve_target

    otlp_sink.script([401])
    exporter = LazyExporter(resolve_target("traces", {"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_sink.url}))
    with caplog.at_level(logging.INFO):
        result = exporter.export(_span_batch())
    exporter.shutdown()
    assert result.name == "FAILURE"
    assert any("401" in r.getMessage() and r.name.startswith("opentelemetry.") for r in caplog.records), \
        caplog.records
    assert not any("cannot reach" in r.getMessage() for r in caplog.records)


def test_warnings_are_rate_limited_per_endpoint_with_counts_since_the_last(
        caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    health = EndpointHealth("http://127.0.0.1:1", "http/protobuf", clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="ecs_otel"):
        for _ in range(5):
            health.failed("traces", "http://127.0.0.1:1/v1/traces", 10, "connection refused")
            now[0] += 1
        health.failed("metrics", "http://127.0.0.1:1/v1/metrics", 1, "connection refused")
        now[0] += WARN_INTERVAL_S
        health.failed("traces", "http://127.0.0.1:1/v1/traces", 10, "connection refused")
        health.succeeded()
        health.succeeded()  # once up, nothing more
    messages = [r.getMessage() for r in caplog.records if r.name == "ecs_otel"]
    assert len(messages) == 3, messages
    assert "dropping 10 spans (1 batch) so far" in messages[0]
    assert "dropping 50 spans (5 batches), 1 metric export so far" in messages[1]
    assert "answers again" in messages[2] and "60 spans (6 batches), 1 metric export" in messages[2]


def test_probe_and_reasons() -> None:
    holder = _closed_port()
    try:
        assert probe(f"http://127.0.0.1:{holder.getsockname()[1]}/v1/traces") == "connection refused"
    finally:
        holder.close()
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        assert probe(f"http://127.0.0.1:{listening.getsockname()[1]}") is None
    assert unreachable_reason("Transient error StatusCode.UNAVAILABLE encountered") == "gRPC UNAVAILABLE"
    assert unreachable_reason("Failed to export span batch code: 401, reason: Unauthorized") is None
