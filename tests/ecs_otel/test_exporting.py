"""OTLP exporter settings as the specification defines them (timeout in milliseconds, 127.0.0.1 default)."""

from __future__ import annotations

import logging
import sys

import pytest

from ecs_otel.exporting import build_otlp_exporter, parse_headers, resolve_target
from ecs_otel.settings import OTLP_TIMEOUT_VARIABLES
from tests.ecs_otel.conftest import base_env, resource_spans, run, write_script


def test_defaults_are_http_protobuf_to_ipv4_loopback():
    t = resolve_target("traces", {})
    assert (t.protocol, t.endpoint, t.timeout_s, t.compression) == (
        "http/protobuf", "http://127.0.0.1:4318/v1/traces", 10.0, "none")
    assert resolve_target("metrics", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}).endpoint == "http://127.0.0.1:4317"


def test_signal_specific_values_win_and_endpoint_is_used_as_is():
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://logs:9999/custom",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT": "750",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_HEADERS": "x-team=payments,api-key=a%20b",
    }
    assert resolve_target("traces", env).endpoint == "http://collector:4318/v1/traces"
    assert resolve_target("logs", env).endpoint == "http://logs:9999/custom"
    assert resolve_target("traces", env).timeout_s == 2.5
    assert resolve_target("metrics", env).timeout_s == 0.75
    assert resolve_target("traces", env).compression == "gzip"
    assert dict(resolve_target("traces", env).headers) == {"x-team": "payments", "api-key": "a b"}


def test_receiver_token_becomes_bearer_header_unless_authorization_given():
    assert ("authorization", "Bearer s3cret") in resolve_target("traces", {}, token="s3cret").headers
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Basic eA=="}
    assert dict(resolve_target("traces", env, token="s3cret").headers)["authorization"] == "Basic eA=="


def test_bad_headers_fall_back():
    assert parse_headers("novalue,k=v") == [("k", "v")]


@pytest.mark.parametrize("name", OTLP_TIMEOUT_VARIABLES)
@pytest.mark.parametrize("raw", ["inf", "nan", "-1", "abc", "0", "1e400"])
def test_a_bad_timeout_is_one_warning_naming_it_and_the_exporter_keeps_10_s(name, raw, caplog):
    """Read straight from an environment (not through Settings.from_env): ``inf`` used to become an
    infinite export timeout, and the other refusals a warning that did not say which variable."""
    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        target = resolve_target("traces" if name == "OTEL_EXPORTER_OTLP_TIMEOUT" else name.split("_")[3].lower(),
                                {name: raw})
    assert target.timeout_s == 10.0
    assert [r.getMessage() for r in caplog.records] == [
        f"ecs_otel: ignoring {name}={raw!r} (invalid); using "
        f"{'10000' if name == 'OTEL_EXPORTER_OTLP_TIMEOUT' else 'OTEL_EXPORTER_OTLP_TIMEOUT'}"]
    exporter = build_otlp_exporter(target)
    try:
        assert exporter._client._timeout == 10.0  # the stock exporter's own reading of its timeout
    finally:
        exporter.shutdown()


@pytest.mark.parametrize(("env", "expected"), [
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500"}, 2.5),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "1e3"}, 1.0),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "2500", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": "inf"}, 2.5),
    ({"OTEL_EXPORTER_OTLP_TIMEOUT": "inf", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT": " 0.5 "}, 0.0005),
])
def test_a_valid_timeout_is_used_and_a_bad_per_signal_one_gives_way_to_the_general_one(env, expected):
    target = resolve_target("traces", env)
    assert target.timeout_s == expected
    exporter = build_otlp_exporter(target)
    try:
        assert exporter._client._timeout == expected
    finally:
        exporter.shutdown()


FLUSH_APP = """
import time
import ecs_otel, ecs_otel.auto
from opentelemetry import trace
with trace.get_tracer("t").start_as_current_span("slow-receiver"):
    pass
t0 = time.monotonic()
trace.get_tracer_provider().force_flush()
print("FLUSH_S", round(time.monotonic() - t0, 3), flush=True)
"""


def test_timeout_is_milliseconds_and_token_is_sent(tmp_path, sink):
    # The receiver answers after 3 s. OTEL_EXPORTER_OTLP_TIMEOUT=300 means 0.3 s per the spec; the
    # stock exporters would read 300 s and this flush would hang for minutes.
    sink.script([], delay_s=3.0)
    script = write_script(tmp_path, FLUSH_APP)
    env = base_env(sink, OTEL_EXPORTER_OTLP_TIMEOUT="300", OTEL_METRICS_EXPORTER="none",
                   ECS_OTEL_RECEIVER_TOKEN="s3cret", ECS_OTEL_SHUTDOWN_TIMEOUT="1")
    proc = run([sys.executable, str(script)], env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    flush_s = float(next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("FLUSH_S")))
    assert flush_s < 2.9  # gave up before the receiver's 3 s answer: 300 was read as milliseconds

    sink.reset()
    proc = run([sys.executable, str(script)], base_env(sink, OTEL_METRICS_EXPORTER="none",
                                                       ECS_OTEL_RECEIVER_TOKEN="s3cret"))
    assert proc.returncode == 0, proc.stderr
    reqs = sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1)
    assert {k.lower(): v for k, v in reqs[0]["headers"].items()}["authorization"] == "Bearer s3cret"


LAZY_APP = """
import sys
import ecs_otel.auto
from opentelemetry import trace
with trace.get_tracer("t").start_as_current_span("x"):
    pass
trace.get_tracer_provider().force_flush()
print("GRPC", "grpc" in sys.modules, flush=True)
"""


def test_grpc_is_only_imported_for_protocol_grpc(tmp_path, sink):
    script = write_script(tmp_path, LAZY_APP)
    proc = run([sys.executable, str(script)], base_env(sink, OTEL_METRICS_EXPORTER="none"))
    assert proc.returncode == 0, proc.stderr
    assert "GRPC False" in proc.stdout
    sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1)


def test_grpc_exporter_is_built_for_protocol_grpc():
    from ecs_otel.exporting import build_otlp_exporter

    target = resolve_target("traces", {"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TIMEOUT": "1500"},
                            token="t")
    exporter = build_otlp_exporter(target)
    assert type(exporter).__module__.startswith("opentelemetry.exporter.otlp.proto.grpc")
    assert exporter._timeout == 1.5
    exporter.shutdown()


def test_stock_exporter_reads_the_timeout_as_seconds(monkeypatch):
    """What the specification-following reading above fixes: the stock exporter takes 300 as 300 s."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "300")
    stock = OTLPSpanExporter()
    try:
        assert stock._client._timeout == 300.0
    finally:
        stock.shutdown()
    assert resolve_target("traces", {"OTEL_EXPORTER_OTLP_TIMEOUT": "300"}).timeout_s == 0.3


@pytest.mark.parametrize(("raw", "counter", "warned"), [
    ("DELTA", "DELTA", False), (" lowmemory ", "DELTA", False), ("cumulative", "CUMULATIVE", False),
    ("deltas", "CUMULATIVE", True), ("1", "CUMULATIVE", True),
])
def test_temporality_preference_is_read_as_declared_and_a_typo_is_one_warning(raw, counter, warned, caplog):
    """A typo used to leave metrics cumulative in silence: the user asked for delta and never learned why not."""
    from opentelemetry.sdk.metrics import Counter, UpDownCounter
    from opentelemetry.sdk.metrics.export import AggregationTemporality

    from ecs_otel.exporting import metric_temporality

    name = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"
    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        table = metric_temporality({name: raw})
    assert table[Counter] == AggregationTemporality[counter]
    assert table[UpDownCounter] == AggregationTemporality.CUMULATIVE
    expected = [f"ecs_otel: ignoring {name}={raw!r} (invalid); using cumulative"] if warned else []
    assert [r.getMessage() for r in caplog.records] == expected


@pytest.mark.parametrize(("env", "expected", "warned"), [
    ({"OTEL_EXPORTER_OTLP_PROTOCOL": "GRPC "}, ("grpc", "none"), None),
    ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"}, ("grpc", "none"),
     "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL='http/json' (invalid); using OTEL_EXPORTER_OTLP_PROTOCOL"),
    ({"OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"}, ("http/protobuf", "none"),
     "OTEL_EXPORTER_OTLP_PROTOCOL='thrift' (invalid); using http/protobuf"),
    ({"OTEL_EXPORTER_OTLP_COMPRESSION": "br"}, ("http/protobuf", "none"),
     "OTEL_EXPORTER_OTLP_COMPRESSION='br' (invalid); using none"),
    ({"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "zstd"},
     ("http/protobuf", "gzip"),
     "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION='zstd' (invalid); using OTEL_EXPORTER_OTLP_COMPRESSION"),
    ({"OTEL_EXPORTER_OTLP_COMPRESSION": "gzip", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "None"},
     ("http/protobuf", "none"), None),
])
def test_protocol_and_compression_are_read_as_declared(env, expected, warned, caplog):
    """A bad per-signal value gives way to the general variable (as a bad per-signal timeout does); the
    warning names the variable. Both used to be checked by hand, the per-signal value falling to the default."""
    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        target = resolve_target("traces", env)
    assert (target.protocol, target.compression) == expected
    assert [r.getMessage() for r in caplog.records] == ([f"ecs_otel: ignoring {warned}"] if warned else [])


@pytest.mark.parametrize("name", ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_COMPRESSION"])
def test_a_bad_protocol_or_compression_is_one_warning_for_all_signals(name, caplog):
    from ecs_otel.settings import Settings

    with caplog.at_level(logging.WARNING, logger="ecs_otel"):
        settings = Settings.from_env({name: "bogus"})
        targets = [resolve_target(signal, settings.environ) for signal in ("traces", "metrics", "logs")]
    assert [(t.protocol, t.compression) for t in targets] == [("http/protobuf", "none")] * 3
    assert len(caplog.records) == 1 and name in caplog.records[0].getMessage()
