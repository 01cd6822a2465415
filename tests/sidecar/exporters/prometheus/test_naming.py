"""Names, units and labels as the OpenTelemetry ↔ Prometheus compatibility specification describes."""

from __future__ import annotations

import pytest

from sidecar.exporters.prometheus._internal.labels import attribute_labels, job_and_instance
from sidecar.exporters.prometheus._internal.naming import (
    Kind,
    metric_name,
    sanitize_label_name,
    sanitize_metric_name,
)
from sidecar.exporters.prometheus._internal.units import unit_suffix
from tests.sidecar.exporters.prometheus.otlp import attrs

C, G, H = Kind.COUNTER, Kind.GAUGE, Kind.HISTOGRAM


@pytest.mark.parametrize(
    ("name", "unit", "kind", "family", "sample"),
    [
        ("http.server.request.duration", "s", H, "http_server_request_duration_seconds", None),
        ("http.client.duration", "ms", H, "http_client_duration_milliseconds", None),
        ("system.filesystem.usage", "By", G, "system_filesystem_usage_bytes", None),
        ("container.memory.utilized", "MiBy", G, "container_memory_utilized_mebibytes", None),
        ("system.network.dropped", "{packets}", C, "system_network_dropped", "system_network_dropped_total"),
        ("system.network.dropped", "packets", C, "system_network_dropped_packets", None),
        ("system.memory.utilization", "1", G, "system_memory_utilization_ratio", None),
        ("system.cpu.utilization.ratio", "1", G, "system_cpu_utilization_ratio", None),
        ("process.runs", "1", C, "process_runs", "process_runs_total"),
        ("ecs.task.network.rate.rx", "By/s", G, "ecs_task_network_rate_rx_bytes_per_second", None),
        ("requests.rate", "{request}/s", G, "requests_rate_per_second", None),
        ("disk.io", "%", G, "disk_io_percent", None),
        ("temperature", "Cel", G, "temperature_celsius", None),
        ("requests_total", "", C, "requests", "requests_total"),
        ("bytes.sent.total", "By", C, "bytes_sent_bytes", "bytes_sent_bytes_total"),
        ("latency_seconds", "s", H, "latency_seconds", None),
        ("(lambda).function.executions(#)", "", C, "_lambda_function_executions_", None),
        ("2xx.responses", "", C, "_2xx_responses", "_2xx_responses_total"),
        ("weird..name--x", "", G, "weird_name_x", None),
        ("ns:subsystem:metric", "", G, "ns:subsystem:metric", None),
        ("odd.unit", "foo bar", G, "odd_unit_foo_bar", None),
        ("empty.unit", "", G, "empty_unit", None),
    ],
)
def test_metric_names(name: str, unit: str, kind: Kind, family: str, sample: str | None) -> None:
    got = metric_name(name, unit, kind)
    assert got.family == family
    assert got.sample == (sample or (family + "_total" if kind is C else family))


def test_suffix_switches() -> None:
    assert metric_name("a.b", "s", G, add_unit_suffix=False).family == "a_b"
    plain = metric_name("hits", "", C, add_total_suffix=False)
    assert (plain.family, plain.sample, plain.kind) == ("hits", "hits", Kind.UNKNOWN)


@pytest.mark.parametrize(
    ("unit", "gauge", "word"),
    [("s", True, "seconds"), ("ns", False, "nanoseconds"), ("1", True, "ratio"), ("1", False, ""),
     ("{thing}", True, ""), ("By/s", False, "bytes_per_second"), ("KiBy", True, "kibibytes"),
     ("m/s", True, "meters_per_second"), ("/s", True, "per_second"), ("Hz", True, "hertz")],
)
def test_units(unit: str, gauge: bool, word: str) -> None:
    assert unit_suffix(unit, gauge=gauge) == word


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("http.method", "http_method"), ("a__b", "a_b"), ("__reserved", "_reserved"), ("1abc", "_1abc"),
     ("ünïcode", "_n_code"), ("ok_name", "ok_name"), ("", "_")],
)
def test_label_names(raw: str, clean: str) -> None:
    assert sanitize_label_name(raw) == clean


def test_metric_name_keeps_colons_but_not_others() -> None:
    assert sanitize_metric_name("a:b.c") == "a:b_c"


def test_label_values_and_collisions() -> None:
    got = attribute_labels(
        attrs({"a.b": "x", "a_b": "y", "flag": True, "n": 3, "f": 1.5, "list": ["p", 2], "empty": "", "job": "j"})
    )
    # Colliding keys join in the order of the original keys: "a.b" < "a_b".
    assert got["a_b"] == "x;y"
    assert got["flag"] == "true"
    assert got["n"] == "3"
    assert got["f"] == "1.5"
    assert got["list"] == '["p",2]'
    assert "empty" not in got
    assert got["exported_job"] == "j" and "job" not in got


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"service.name": "api"}, {"job": "api"}),
        ({"service.name": "api", "service.namespace": "shop"}, {"job": "shop/api"}),
        ({"service.name": "api", "service.instance.id": "i-1"}, {"job": "api", "instance": "i-1"}),
        ({"container.name": "c"}, {}),
    ],
)
def test_job_and_instance(resource: dict[str, str], expected: dict[str, str]) -> None:
    assert job_and_instance(resource) == expected


@pytest.mark.parametrize(
    ("unit", "family", "scale"),
    [("ms", "d_seconds", 1e-3), ("MiB", "d_bytes", 2.0**20), ("ns", "d_seconds", 1e-9), ("s", "d_seconds", 1.0),
     ("{x}", "d", 1.0)],
)
def test_base_units(unit: str, family: str, scale: float) -> None:
    got = metric_name("d", unit, G, base_units=True)
    assert (got.family, got.scale) == (family, scale)
    assert metric_name("d", unit, G).scale == 1.0
