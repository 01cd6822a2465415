"""A bad tuning variable costs that variable its value, never a signal (and is reported once).

The SDK's batch processors and metric reader raise in their constructors on values such as
``OTEL_BSP_MAX_QUEUE_SIZE=-1`` or ``OTEL_METRIC_EXPORT_INTERVAL=-5``, which used to switch tracing or
metrics off for the whole process. The table below is the SDK's own list of such variables.
"""

from __future__ import annotations

import logging
import re
import sys

import opentelemetry.sdk.environment_variables as sdk_env
import pytest
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, InMemoryLogRecordExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ecs_otel.exporting import resolve_target
from ecs_otel.metadata.client import MAX_TIMEOUT_S, timeout_from_environment
from ecs_otel.settings import OTLP_TIMEOUT_VARIABLES, TUNING_VARIABLES, Settings
from tests.ecs_otel.conftest import base_env, log_records, metric_names, resource_spans, run, write_script

SDK_DEFAULTS = {
    "OTEL_BSP_SCHEDULE_DELAY": 5000, "OTEL_BSP_EXPORT_TIMEOUT": 30000, "OTEL_BSP_MAX_QUEUE_SIZE": 2048,
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": 512, "OTEL_BLRP_SCHEDULE_DELAY": 1000, "OTEL_BLRP_EXPORT_TIMEOUT": 30000,
    "OTEL_BLRP_MAX_QUEUE_SIZE": 2048, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": 512,
    "OTEL_METRIC_EXPORT_INTERVAL": 60000, "OTEL_METRIC_EXPORT_TIMEOUT": 30000,
}
BAD_FOR_ALL = ["-1", "0", "-5", "soon", "nan", "inf", "1e400"]
BAD_FOR_COUNTS = ["1.5", "2e3"]


def test_the_table_covers_every_tuning_variable_the_sdk_reads():
    sdk = {v for k, v in vars(sdk_env).items() if k.isupper() and isinstance(v, str)
           and re.fullmatch(r"OTEL_(BSP|BLRP|METRIC_EXPORT)_\w+", v)}
    assert sdk == set(TUNING_VARIABLES)
    timeouts = {v for k, v in vars(sdk_env).items() if k.isupper() and isinstance(v, str)
                and re.fullmatch(r"OTEL_EXPORTER_OTLP_(\w+_)?TIMEOUT", v)}
    assert timeouts == set(OTLP_TIMEOUT_VARIABLES)
    assert {name: int(Settings.from_env({}).tuning[name]) for name in TUNING_VARIABLES} == SDK_DEFAULTS


def _cases() -> list[tuple[str, str]]:
    return [(name, raw) for name, count in TUNING_VARIABLES.items()
            for raw in BAD_FOR_ALL + (BAD_FOR_COUNTS if count else [])]


def _build_all(settings: Settings) -> None:
    """The SDK objects the library builds from these settings; any of them raising would lose a signal."""
    BatchSpanProcessor(InMemorySpanExporter(), **settings.batch_processor_args("traces")).shutdown()
    BatchLogRecordProcessor(InMemoryLogRecordExporter(), **settings.batch_processor_args("logs")).shutdown()
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(), **settings.metric_reader_args())
    MeterProvider(metric_readers=[reader], shutdown_on_exit=False).shutdown()


@pytest.mark.parametrize(("name", "raw"), _cases())
def test_a_bad_value_is_one_warning_and_that_variables_default(name, raw, monkeypatch, caplog):
    other = next(n for n in TUNING_VARIABLES if n != name and n.endswith("_SCHEDULE_DELAY"))
    env = {name: raw, other: "250"}
    monkeypatch.setenv(name, raw)  # the SDK would read it from os.environ if it were not given the value
    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        settings = Settings.from_env(env)
        _build_all(settings)
    assert settings.tuning[name] == SDK_DEFAULTS[name]
    assert settings.tuning[other] == 250  # only the bad variable lost its value
    assert name not in settings.environ
    assert [r.getMessage() for r in caplog.records].count(f"ecs_otel: ignoring {name}={raw!r} (invalid); "
                                                          f"using {SDK_DEFAULTS[name]}") == 1
    assert len(caplog.records) == 1


def test_good_values_reach_the_sdk_objects():
    settings = Settings.from_env({"OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_SCHEDULE_DELAY": "250.5",
                                  "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "7", "OTEL_METRIC_EXPORT_INTERVAL": "1500"})
    assert settings.batch_processor_args("traces") == {
        "schedule_delay_millis": 250.5, "export_timeout_millis": 30000, "max_queue_size": 100,
        # the default batch (512) would exceed the queue the user chose: it gives way, silently
        "max_export_batch_size": 100}
    assert settings.batch_processor_args("logs")["max_export_batch_size"] == 7
    assert settings.metric_reader_args() == {"export_interval_millis": 1500, "export_timeout_millis": 30000}
    _build_all(settings)


def test_a_batch_larger_than_the_queue_is_clamped_with_a_warning(caplog):
    settings = Settings.from_env({"OTEL_BSP_MAX_QUEUE_SIZE": "64", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "128"})
    assert settings.batch_processor_args("traces")["max_export_batch_size"] == 64
    assert "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=128 is larger than OTEL_BSP_MAX_QUEUE_SIZE=64" in caplog.text
    _build_all(settings)


@pytest.mark.parametrize("name", OTLP_TIMEOUT_VARIABLES)
@pytest.mark.parametrize("raw", ["-1", "0", "soon", "nan", "inf"])
def test_a_bad_otlp_timeout_is_one_warning_for_all_signals(name, raw, caplog):
    env = {name: raw}
    if name != "OTEL_EXPORTER_OTLP_TIMEOUT":
        env["OTEL_EXPORTER_OTLP_TIMEOUT"] = "2500"  # the per-signal variable's default
    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        settings = Settings.from_env(env)
        targets = [resolve_target(signal, settings.environ) for signal in ("traces", "metrics", "logs")]
    expected = 10.0 if name == "OTEL_EXPORTER_OTLP_TIMEOUT" else 2.5
    assert [t.timeout_s for t in targets] == [expected] * 3
    assert len(caplog.records) == 1 and name in caplog.records[0].getMessage()


@pytest.mark.parametrize(("raw", "expected"), [("1e9", MAX_TIMEOUT_S), ("31", MAX_TIMEOUT_S), ("30", 30.0),
                                               ("2.5", 2.5)])
def test_metadata_timeout_is_capped_at_30_seconds(raw, expected, caplog):
    assert Settings.from_env({"ECS_OTEL_METADATA_TIMEOUT": raw}).metadata_timeout_s == expected
    assert timeout_from_environment({"ECS_OTEL_METADATA_TIMEOUT": raw}) == expected  # EcsResourceDetector's path
    assert ("above the 30 s limit" in caplog.text) == (expected != float(raw))


EVERY_SIGNAL_APP = """
import ecs_otel.auto
import logging
from opentelemetry import metrics, trace
metrics.get_meter("m").create_counter("tuned.requests").add(1)
with trace.get_tracer("t").start_as_current_span("tuned-span"):
    logging.getLogger("app").warning("tuned log")
print("DONE", flush=True)
"""

#: One bad value for each variable, all at once, as a task definition with typos would have them.
ALL_BAD = {
    "OTEL_BSP_SCHEDULE_DELAY": "fast", "OTEL_BSP_EXPORT_TIMEOUT": "-1", "OTEL_BSP_MAX_QUEUE_SIZE": "-1",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "0", "OTEL_BLRP_SCHEDULE_DELAY": "nan", "OTEL_BLRP_EXPORT_TIMEOUT": "0",
    "OTEL_BLRP_MAX_QUEUE_SIZE": "1.5", "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "-2",
    "OTEL_METRIC_EXPORT_INTERVAL": "-5", "OTEL_METRIC_EXPORT_TIMEOUT": "inf",
    "OTEL_EXPORTER_OTLP_TIMEOUT": "-3", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "soon",
}


def test_every_signal_survives_every_bad_tuning_variable(tmp_path, sink):
    env = base_env(sink, OTEL_LOGS_EXPORTER="otlp", ECS_OTEL_INSTRUMENTATION="false", **ALL_BAD)
    proc = run([sys.executable, str(write_script(tmp_path, EVERY_SIGNAL_APP))], env)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    spans = resource_spans(sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1, timeout_s=15))
    assert [s["name"] for _, s in spans] == ["tuned-span"]
    sink.wait_for("metrics", lambda r: "tuned.requests" in metric_names(r), timeout_s=15)
    logs = sink.wait_for("logs", lambda r: len(log_records(r)) >= 1, timeout_s=15)
    assert any("tuned log" in str(rec) for _, rec in log_records(logs))
    for name, raw in ALL_BAD.items():
        assert proc.stderr.count(f"ignoring {name}={raw!r}") == 1, (name, proc.stderr)
