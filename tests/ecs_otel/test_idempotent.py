"""Configure once: repeated imports/configure calls and opentelemetry-instrument together set up one pipeline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.ecs_otel.conftest import BIN, base_env, resource_spans, run, write_script

TWICE_APP = """
import threading
import ecs_otel.auto
import ecs_otel, ecs_otel.auto
first = ecs_otel.configure()
assert ecs_otel.configure(service_name="other") is first
from opentelemetry import trace
with trace.get_tracer("t").start_as_current_span("once"):
    pass
names = [t.name for t in threading.enumerate()]
print("SPAN_THREADS", sum(1 for n in names if "Span" in n), flush=True)
"""


def test_second_import_and_configure_are_no_ops(tmp_path, sink):
    proc = run([sys.executable, str(write_script(tmp_path, TWICE_APP))], base_env(sink, OTEL_METRICS_EXPORTER="none"))
    assert proc.returncode == 0, proc.stderr
    assert "SPAN_THREADS 1" in proc.stdout
    spans = resource_spans(sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1))
    assert [s["name"] for _, s in spans] == ["once"]
    assert spans[0][0]["service.name"] != "other"


INSTRUMENT_APP = """
import threading
import ecs_otel.auto
from flask import Flask
from ecs_otel.instrumentation import status
app = Flask(__name__)

@app.get("/x")
def x():
    return "ok"

with app.test_client() as c:
    c.get("/x")
print("STATUS", status().get("flask"), flush=True)
print("SPAN_THREADS", sum(1 for t in threading.enumerate() if "Span" in t.name), flush=True)
"""


def test_with_opentelemetry_instrument_configures_once(tmp_path, sink):
    env = base_env(sink, OTEL_METRICS_EXPORTER="none", OTEL_PYTHON_DISTRO="ecs_otel",
                   OTEL_PYTHON_CONFIGURATOR="ecs_otel")
    proc = run([str(BIN / "opentelemetry-instrument"), sys.executable, str(write_script(tmp_path, INSTRUMENT_APP))],
               env)
    assert proc.returncode == 0, proc.stderr
    assert "STATUS instrumented" in proc.stdout
    assert "SPAN_THREADS 1" in proc.stdout
    for noise in ("already instrumented", "Overriding", "Traceback", "not loaded"):
        assert noise not in proc.stderr, proc.stderr
    spans = resource_spans(sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1))
    assert [s["name"] for _, s in spans] == ["GET /x"]


BROKEN_APP = """
import ecs_otel.auto
import sqlite3  # arms → runs the broken instrumentor
import sqlite3
from ecs_otel.instrumentation import status
print("BROKEN", status().get("sqlite3"), flush=True)
"""


def _fake_instrumentor(root: Path) -> None:
    (root / "broken_instrumentor.py").write_text(
        "from opentelemetry.instrumentation.instrumentor import BaseInstrumentor\n"
        "class BrokenInstrumentor(BaseInstrumentor):\n"
        "    def instrumentation_dependencies(self):\n"
        "        return []\n"
        "    def _instrument(self, **kw):\n"
        "        raise RuntimeError('boom')\n"
        "    def _uninstrument(self, **kw):\n"
        "        pass\n"
    )
    dist = root / "broken_instrumentor-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-instrumentor\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[opentelemetry_instrumentor]\nsqlite3 = broken_instrumentor:BrokenInstrumentor\n")


def test_failing_instrumentor_is_one_warning(tmp_path, sink):
    _fake_instrumentor(tmp_path)
    env = base_env(sink, OTEL_METRICS_EXPORTER="none")
    env["PYTHONPATH"] = f"{tmp_path}:{env['PYTHONPATH']}"
    proc = run([sys.executable, str(write_script(tmp_path, BROKEN_APP))], env)
    assert proc.returncode == 0, proc.stderr
    assert "BROKEN failed" in proc.stdout
    assert (proc.stderr + proc.stdout).count("instrumentation sqlite3 failed") == 1
    assert "Traceback" not in proc.stderr


UNCONFIGURED_APP = """
import ecs_otel.auto
import logging
logging.getLogger("payments").warning("card declined")
"""


def test_app_that_never_configured_logging_still_prints_warnings_as_json(tmp_path, sink, ecs_emulator):
    proc = run([sys.executable, str(write_script(tmp_path, UNCONFIGURED_APP))],
               base_env(sink, ecs_emulator, OTEL_LOGS_EXPORTER="otlp"))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    rec = next(x for x in lines if x.get("message") == "card declined")
    assert rec["level"] == "WARNING" and rec["logger"] == "payments"


def test_off_ecs_with_otlp_logs_warnings_still_reach_stderr(tmp_path, sink):
    proc = run([sys.executable, str(write_script(tmp_path, UNCONFIGURED_APP))],
               base_env(sink, OTEL_LOGS_EXPORTER="otlp", OTEL_METRICS_EXPORTER="none"))
    assert proc.returncode == 0, proc.stderr
    assert "card declined" in proc.stderr


def test_sdk_disabled_turns_everything_off(tmp_path, sink):
    app = "import ecs_otel.auto, sys\nfrom opentelemetry import trace\n" \
          "with trace.get_tracer('t').start_as_current_span('x'): pass\n" \
          "print('PROVIDER', type(trace.get_tracer_provider()).__name__)\n" \
          "print('PATCHED', any(type(f).__name__ == '_PostImportFinder' for f in sys.meta_path))\n"
    proc = run([sys.executable, str(write_script(tmp_path, app))], base_env(sink, OTEL_SDK_DISABLED="true"))
    assert proc.returncode == 0, proc.stderr
    assert "PROVIDER ProxyTracerProvider" in proc.stdout
    assert "PATCHED False" in proc.stdout
    assert sink.received("traces") == []


THREADS_APP = """
import threading
import ecs_otel
results = []
barrier = threading.Barrier(8)
def go():
    barrier.wait()
    results.append(ecs_otel.configure())
threads = [threading.Thread(target=go) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print("SAME", len({id(r) for r in results}) == 1 and len(results) == 8, flush=True)
print("SPAN_THREADS", sum(1 for t in threading.enumerate() if "Span" in t.name), flush=True)
"""


def test_concurrent_configure_sets_up_once(tmp_path, sink):
    proc = run([sys.executable, str(write_script(tmp_path, THREADS_APP))], base_env(sink, OTEL_METRICS_EXPORTER="none"))
    assert proc.returncode == 0, proc.stderr
    assert "SAME True" in proc.stdout and "SPAN_THREADS 1" in proc.stdout
    assert "Overriding" not in proc.stderr


PRECONFIGURED_APP = """
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
trace.set_tracer_provider(TracerProvider())
import ecs_otel.auto
from ecs_otel._setup import current
print("ENABLED", current().enabled, flush=True)
"""


def test_someone_elses_provider_is_left_alone(tmp_path, sink):
    proc = run([sys.executable, str(write_script(tmp_path, PRECONFIGURED_APP))], base_env(sink))
    assert proc.returncode == 0, proc.stderr
    assert "ENABLED False" in proc.stdout
    assert "already configured" in proc.stderr and "Overriding" not in proc.stderr
