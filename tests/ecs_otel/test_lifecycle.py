"""Exit paths with real processes: SIGTERM, no receiver, a hanging receiver, a hanging metadata endpoint."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

from tests.ecs_otel.conftest import (
    attrs,
    base_env,
    log_records,
    metric_names,
    read_until,
    resource_spans,
    run,
    run_timed,
    started_app,
    terminate_timed,
    write_script,
)

SIGTERM_APP = """
import ecs_otel.auto
import sys, time
from opentelemetry import trace
with trace.get_tracer("t").start_as_current_span("before-sigterm"):
    pass
print("SPAN_ENDED", flush=True)
time.sleep(60)
"""

SIGTERM_APP_WITH_HANDLER = """
import signal, sys, time
def on_term(signum, frame):
    print("APP_HANDLER", flush=True)
    sys.exit(3)
signal.signal(signal.SIGTERM, on_term)
import ecs_otel.auto
from opentelemetry import trace
with trace.get_tracer("t").start_as_current_span("before-sigterm"):
    pass
print("SPAN_ENDED", flush=True)
time.sleep(60)
"""


def _start_and_term(script: Path, env: dict[str, str]) -> tuple[int, float, str, str]:
    with started_app(script, env) as proc:
        read_until(proc, "SPAN_ENDED")
        time.sleep(0.5)
        out, err, took = terminate_timed(proc, timeout=15)
    return proc.returncode, took, out, err


def test_sigterm_flushes_the_span_then_dies_by_the_signal(tmp_path, sink):
    script = write_script(tmp_path, SIGTERM_APP)
    env = base_env(sink, OTEL_BSP_SCHEDULE_DELAY="30000", OTEL_METRIC_EXPORT_INTERVAL="60000")
    code, took, _out, err = _start_and_term(script, env)
    assert code == -signal.SIGTERM  # the default action is kept: killed by SIGTERM
    assert took < 10, err  # bounded (generous): never waits for the 30 s batch delay
    assert "Traceback" not in err
    spans = resource_spans(sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1, timeout_s=5))
    assert [s["name"] for _, s in spans] == ["before-sigterm"]


def test_sigterm_chains_the_apps_handler(tmp_path, sink):
    script = write_script(tmp_path, SIGTERM_APP_WITH_HANDLER)
    env = base_env(sink, OTEL_BSP_SCHEDULE_DELAY="30000", OTEL_METRIC_EXPORT_INTERVAL="60000")
    code, _took, out, err = _start_and_term(script, env)
    assert code == 3, err  # the app's own handler ran and decided the exit status
    assert "APP_HANDLER" in out
    spans = resource_spans(sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1, timeout_s=5))
    assert [s["name"] for _, s in spans] == ["before-sigterm"]


SIGTERM_APP_THAT_DRAINS = """
import signal, sys, time
def on_term(signum, frame):
    print("APP_HANDLER", flush=True)  # a graceful drain: the app keeps running after SIGTERM
signal.signal(signal.SIGTERM, on_term)
import ecs_otel.auto
import logging
from opentelemetry import metrics, trace
metrics.get_meter("m").create_counter("drain.requests").add(1)
with trace.get_tracer("t").start_as_current_span("before-sigterm"):
    logging.getLogger("app").warning("queued log record")
print("SPAN_ENDED", flush=True)
time.sleep(60)
"""


def test_sigterm_with_an_app_handler_flushes_every_signal_while_the_app_keeps_running(tmp_path, sink):
    script = write_script(tmp_path, SIGTERM_APP_THAT_DRAINS)
    env = base_env(sink, OTEL_BSP_SCHEDULE_DELAY="30000", OTEL_BLRP_SCHEDULE_DELAY="30000",
                   OTEL_METRIC_EXPORT_INTERVAL="60000", OTEL_LOGS_EXPORTER="otlp")
    with started_app(script, env) as proc:
        read_until(proc, "SPAN_ENDED")
        proc.send_signal(signal.SIGTERM)
        # Nothing exits, so atexit cannot be what delivers these: only the SIGTERM flush can, well
        # before the 30 s batch delays and the 60 s metric interval.
        sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1, timeout_s=10)
        sink.wait_for("metrics", lambda r: "drain.requests" in metric_names(r), timeout_s=10)
        logs = sink.wait_for("logs", lambda r: len(log_records(r)) >= 1, timeout_s=10)
        assert proc.poll() is None  # the app's handler decided to keep running
        assert any("queued log record" in str(rec) for _, rec in log_records(logs))


EXIT_APP = """
import ecs_otel.auto
import logging
from opentelemetry import metrics, trace
metrics.get_meter("m").create_counter("c").add(1)
for i in range(50):
    with trace.get_tracer("t").start_as_current_span(f"s{i}"):
        pass
print("DONE", flush=True)
"""


def test_no_receiver_listening_exits_normally_within_budget(tmp_path):
    script = write_script(tmp_path, EXIT_APP)
    env = base_env(None, ECS_OTEL_SHUTDOWN_TIMEOUT="2", OTEL_LOGS_EXPORTER="otlp")
    proc, took = run_timed([sys.executable, str(script)], env)
    assert proc.returncode == 0, proc.stderr
    assert "DONE" in proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
    assert took < 2 + 5  # budget + generous start-up allowance (the stock exporters retry for 7-8 s)


def test_hanging_receiver_is_cut_at_the_budget(tmp_path, sink):
    sink.script([], delay_s=30.0)
    script = write_script(tmp_path, EXIT_APP)
    env = base_env(sink, ECS_OTEL_SHUTDOWN_TIMEOUT="1", OTEL_BSP_SCHEDULE_DELAY="30000")
    proc, took = run_timed([sys.executable, str(script)], env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert took < 1 + 5  # the stock exporters would wait their 10 s timeout per signal
    sink.proc.kill()  # its handler is still sleeping; a graceful stop would wait for it



BLOCKED_BUILD_APP = """
import ecs_otel.auto
import importlib.abc, importlib.machinery, sys, threading
from opentelemetry import trace

MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"  # the span exporter's build imports it
importing = threading.Event()


class NeverLoads(importlib.abc.Loader):
    def __init__(self, real):
        self.real = real

    def create_module(self, spec):
        return self.real.create_module(spec)

    def exec_module(self, module):
        importing.set()
        threading.Event().wait()  # MODULE's import lock stays held by this thread for good


class Hold(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != MODULE or threading.current_thread().name != "app-importer":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        spec.loader = NeverLoads(spec.loader)
        return spec


sys.meta_path.insert(0, Hold())
threading.Thread(target=lambda: __import__(MODULE), name="app-importer", daemon=True).start()
assert importing.wait(30)
with trace.get_tracer("t").start_as_current_span("never-exported"):
    pass
print("DONE", flush=True)
"""


def test_exporter_build_blocked_at_exit_is_cut_at_the_budget(tmp_path, sink):
    """An import lock held for good by another thread (or left held by a fork) blocks the exporter's build at exit.

    The build runs when the main thread finishes; it used to run there unbounded, so the process never exited.
    """
    script = write_script(tmp_path, BLOCKED_BUILD_APP)
    env = base_env(sink, ECS_OTEL_SHUTDOWN_TIMEOUT="2", OTEL_BSP_SCHEDULE_DELAY="30000",
                   OTEL_METRICS_EXPORTER="none")
    proc, took = run_timed([sys.executable, str(script)], env)
    assert proc.returncode == 0, proc.stderr
    assert "DONE" in proc.stdout
    assert "Traceback" not in proc.stderr + proc.stdout
    assert took < 2 + 10  # the budget and a generous start-up allowance; it used to hang for ever

HANG_APP = """
import time
# warm the modules (not what is measured: the bound is on waiting for the endpoint)
import opentelemetry.sdk.trace, opentelemetry.sdk.trace.export, opentelemetry.sdk.resources, opentelemetry.propagate
import ecs_otel.metadata, ecs_otel.resource, ecs_otel._setup, ecs_otel.lifecycle, ecs_otel.tracing.sampling
import ecs_otel.exporting, ecs_otel.tracing.propagator
t0 = time.monotonic()
import ecs_otel.auto
print("IMPORT_S", time.monotonic() - t0, flush=True)
from ecs_otel._setup import current
print("TASK", current().task is not None, flush=True)
print("METADATA_S", current().timings["metadata"], flush=True)
"""


def test_hanging_metadata_endpoint_bounds_import(tmp_path, sink, ecs_emulator):
    ecs_emulator.set_fault("hang")
    script = write_script(tmp_path, HANG_APP)
    env = base_env(sink, ecs_emulator, ECS_OTEL_METADATA_TIMEOUT="1.0", OTEL_METRICS_EXPORTER="none",
                   ECS_OTEL_INSTRUMENTATION="false", ECS_OTEL_LOGGING="false")
    proc = run([sys.executable, str(script)], env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    took = float(next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("IMPORT_S")))
    metadata_s = float(next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("METADATA_S")))
    assert 0.9 <= metadata_s < 1.0 + 0.15, proc.stdout  # waited for the endpoint, then gave up on time
    assert took < 1.0 + 0.3, proc.stdout
    assert "TASK False" in proc.stdout
    assert "Traceback" not in proc.stderr


PARTIAL_APP = """
import ecs_otel.auto
from ecs_otel._setup import current
attrs = current().resource.attributes
print("CONTAINER", attrs.get("container.name"), flush=True)
print("TASK_ARN", attrs.get("aws.ecs.task.arn"), flush=True)
print("SERVICE", attrs.get("service.name"), flush=True)
"""


def test_slow_metadata_keeps_what_arrived_in_time(tmp_path, sink, ecs_emulator):
    # Each document takes 0.7 s: the container document fits in the 1 s budget, the task document does not.
    ecs_emulator.set_fault("slow", delay_s=0.7)
    env = base_env(sink, ecs_emulator, ECS_OTEL_METADATA_TIMEOUT="1.0", OTEL_METRICS_EXPORTER="none",
                   OTEL_TRACES_EXPORTER="none", ECS_OTEL_INSTRUMENTATION="false", ECS_OTEL_LOGGING="false")
    proc = run([sys.executable, str(write_script(tmp_path, PARTIAL_APP))], env)
    assert proc.returncode == 0, proc.stderr
    container = next(line.split(maxsplit=1)[1] for line in proc.stdout.splitlines() if line.startswith("CONTAINER"))
    assert container != "None"  # kept
    assert "TASK_ARN None" in proc.stdout  # what did not arrive is simply absent
    assert f"SERVICE {container}" in proc.stdout  # no family: the container name names the service
    assert "Traceback" not in proc.stderr


SHUTDOWN_API_APP = """
import ecs_otel, ecs_otel.auto
from opentelemetry import trace
with trace.get_tracer("t").start_as_current_span("explicit"):
    pass
print("FIRST", ecs_otel.shutdown(timeout_s=3), flush=True)
print("SECOND", ecs_otel.shutdown(timeout_s=3), flush=True)
"""


def test_explicit_shutdown_flushes_and_is_idempotent(tmp_path, sink):
    env = base_env(sink, OTEL_BSP_SCHEDULE_DELAY="30000", OTEL_METRICS_EXPORTER="none")
    proc = run([sys.executable, str(write_script(tmp_path, SHUTDOWN_API_APP))], env)
    assert proc.returncode == 0, proc.stderr
    assert "FIRST True" in proc.stdout and "SECOND True" in proc.stdout
    spans = resource_spans(sink.received("traces"))
    assert [s["name"] for _, s in spans] == ["explicit"]  # already there when shutdown() returned


SLOW_SERVER_APP = """
import ecs_otel.auto
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from opentelemetry import trace
from opentelemetry.trace import SpanKind

tracer = trace.get_tracer("app")
never = threading.Event()

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        with tracer.start_as_current_span("GET " + self.path, kind=SpanKind.SERVER):
            if self.path == "/fast":
                self.send_response(204)
                self.end_headers()
                return
            with tracer.start_as_current_span("SELECT orders", kind=SpanKind.CLIENT):
                print("IN_REQUEST", flush=True)
                never.wait()  # the slow query ECS interrupts

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print("PORT", server.server_address[1], flush=True)
server.serve_forever()
"""


def test_spans_open_at_sigterm_are_ended_as_errors_and_delivered(tmp_path, sink):
    import threading
    import urllib.request

    script = write_script(tmp_path, SLOW_SERVER_APP)
    env = base_env(sink, OTEL_BSP_SCHEDULE_DELAY="30000", OTEL_METRICS_EXPORTER="none",
                   ECS_OTEL_INSTRUMENTATION="false", ECS_OTEL_SHUTDOWN_TIMEOUT="2")
    with started_app(script, env) as proc:
        port = int(read_until(proc, "PORT").split()[1])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/fast", timeout=10) as resp:
            assert resp.status == 204

        def slow_request() -> None:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/slow", timeout=30).read()
            except OSError:
                pass  # the server dies mid-request: that is the point

        client = threading.Thread(target=slow_request, daemon=True)
        client.start()
        read_until(proc, "IN_REQUEST")
        _out, err, took = terminate_timed(proc, timeout=30)
    assert proc.returncode == -signal.SIGTERM, err
    assert took < 2 + 5, err  # the budget, plus a generous allowance for a loaded machine
    assert "Traceback" not in err, err

    spans = {s["name"]: s for _, s in resource_spans(
        sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 3, timeout_s=10))}
    assert set(spans) == {"GET /fast", "GET /slow", "SELECT orders"}
    for name in ("GET /slow", "SELECT orders"):
        span = spans[name]
        assert span["status"]["code"] == "STATUS_CODE_ERROR", span
        assert "SIGTERM" in span["status"]["message"]
        assert attrs(span["attributes"]) == {"ecs_otel.shutdown.ended": True, "ecs_otel.shutdown.reason": "SIGTERM"}
        assert int(span["endTimeUnixNano"]) >= int(span["startTimeUnixNano"])
    # The request that finished is untouched, and the trace stays whole: the query is still the request's child.
    assert "ecs_otel.shutdown.ended" not in attrs(spans["GET /fast"].get("attributes"))
    assert spans["GET /fast"].get("status", {}).get("code") != "STATUS_CODE_ERROR"
    assert spans["SELECT orders"]["parentSpanId"] == spans["GET /slow"]["spanId"]


EXIT_WITH_OPEN_SPAN_APP = """
import ecs_otel.auto
import threading
from opentelemetry import trace
started = threading.Event()

def worker():
    with trace.get_tracer("app").start_as_current_span("background job"):
        started.set()
        threading.Event().wait()  # still running when the main thread returns

threading.Thread(target=worker, daemon=True).start()
started.wait()
print("EXITING", flush=True)
"""


def test_spans_open_at_interpreter_exit_are_ended_as_errors(tmp_path, sink):
    env = base_env(sink, OTEL_BSP_SCHEDULE_DELAY="30000", OTEL_METRICS_EXPORTER="none",
                   ECS_OTEL_INSTRUMENTATION="false")
    proc = run([sys.executable, str(write_script(tmp_path, EXIT_WITH_OPEN_SPAN_APP))], env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    spans = resource_spans(sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1, timeout_s=10))
    [(_, span)] = spans
    assert span["name"] == "background job"
    assert span["status"]["code"] == "STATUS_CODE_ERROR"
    assert attrs(span["attributes"]) == {"ecs_otel.shutdown.ended": True, "ecs_otel.shutdown.reason": "exit"}
