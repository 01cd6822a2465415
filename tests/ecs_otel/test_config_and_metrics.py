"""Settings declaration/reading, and the per-metric cardinality limit on a real MeterProvider."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from ecs_otel.metrics import cardinality
from ecs_otel.settings import LIBRARY_SETTINGS, OTEL_SETTINGS, Settings


def test_every_setting_is_declared_with_help():
    names = [s.name for s in (*LIBRARY_SETTINGS, *OTEL_SETTINGS)]
    assert len(names) == len(set(names))
    assert all(s.help and s.help.strip() for s in (*LIBRARY_SETTINGS, *OTEL_SETTINGS))
    assert all(s.name.startswith("ECS_OTEL_") for s in LIBRARY_SETTINGS)
    assert {"ECS_OTEL_SHUTDOWN_TIMEOUT", "ECS_OTEL_METRIC_CARDINALITY_LIMIT", "ECS_OTEL_RECEIVER_TOKEN",
            "ECS_OTEL_METADATA_TIMEOUT"} <= set(names)


def test_defaults_and_overrides():
    s = Settings.from_env({})
    assert (s.shutdown_timeout_s, s.metric_cardinality_limit, s.logs_exporter, s.traces_exporter) == (
        5.0, 2000, (), ("otlp",))
    assert s.propagators == ("tracecontext", "baggage", "xray")
    assert s.sampler == "parentbased_always_on"
    s = Settings.from_env({"OTEL_LOGS_EXPORTER": "otlp", "OTEL_TRACES_EXPORTER": "none"},
                          shutdown_timeout_s=1.5, metrics_exporter="console")
    assert (s.logs_exporter, s.traces_exporter, s.metrics_exporter, s.shutdown_timeout_s) == (
        ("otlp",), (), ("console",), 1.5)
    assert Settings.from_env({"OTEL_SDK_DISABLED": "TRUE"}).disabled


def test_bad_values_fall_back_with_a_warning(caplog):
    s = Settings.from_env({"ECS_OTEL_SHUTDOWN_TIMEOUT": "soon", "ECS_OTEL_METRIC_CARDINALITY_LIMIT": "-3"})
    assert (s.shutdown_timeout_s, s.metric_cardinality_limit) == (5.0, 2000)
    assert "ECS_OTEL_SHUTDOWN_TIMEOUT" in caplog.text


@pytest.mark.parametrize("raw", ["inf", "nan", "1e400", "-1"])
def test_non_finite_timeouts_fall_back_to_the_default(raw, caplog):
    s = Settings.from_env({"ECS_OTEL_METADATA_TIMEOUT": raw, "ECS_OTEL_SHUTDOWN_TIMEOUT": raw})
    assert (s.metadata_timeout_s, s.shutdown_timeout_s) == (1.0, 5.0)
    assert "ECS_OTEL_METADATA_TIMEOUT" in caplog.text


def test_unknown_override_is_a_clear_error():
    with pytest.raises(TypeError, match="servce_name"):
        Settings.from_env({}, servce_name="x")


def test_cardinality_limit_folds_new_series_into_overflow():
    assert cardinality.install(10)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    counter = provider.get_meter("t").create_counter("requests")
    before = cardinality.overflowed_measurements()
    for i in range(25):
        counter.add(1, {"user": f"u{i}"})
    counter.add(1, {"user": "u0"})  # an admitted series keeps counting
    points = [p for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics
              for m in sm.metrics if m.name == "requests" for p in m.data.data_points]
    assert len(points) == 10  # 9 admitted series + 1 overflow series
    overflow = [p for p in points if p.attributes.get("otel.metric.overflow") is True]
    assert len(overflow) == 1 and overflow[0].value == 16
    assert next(p for p in points if p.attributes.get("user") == "u0").value == 2
    assert cardinality.overflowed_measurements() - before == 16
    assert sum(p.value for p in points) == 26  # nothing lost
    cardinality.install(2000)


def test_settings_table_lists_every_setting():
    from ecs_otel.settings import settings_table

    table = settings_table()
    assert all(f"`{s.name}`" in table for s in LIBRARY_SETTINGS)
    assert settings_table(OTEL_SETTINGS).count("\n") == len(OTEL_SETTINGS) + 1


def test_distro_reads_a_bad_setting_once_for_all_instrumentors(monkeypatch, caplog):
    import ecs_otel.instrumentation
    from ecs_otel.distro import EcsOtelDistro

    monkeypatch.setenv("ECS_OTEL_SHUTDOWN_TIMEOUT", "soon")
    monkeypatch.setattr(ecs_otel.instrumentation, "handle_entry_point", lambda *a, **k: None)
    monkeypatch.setattr("ecs_otel._setup.current", lambda: None)
    distro = EcsOtelDistro()
    for _ in range(3):
        distro.load_instrumentor(object())
    assert caplog.text.count("ECS_OTEL_SHUTDOWN_TIMEOUT") == 1


def _points(reader: InMemoryMetricReader, name: str) -> list:
    return [p for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics
            for m in sm.metrics if m.name == name for p in m.data.data_points]


def test_a_repeated_attribute_set_finds_its_series_without_the_sdk_key(monkeypatch):
    """The SDK's sorted, type-tagged key is built once per attribute set and stream, not per measurement."""
    from opentelemetry.sdk.metrics._internal import _view_instrument_match as vim

    assert cardinality.install(2000)
    calls = []
    sdk_hash = vim._hash_attributes
    monkeypatch.setattr(vim, "_hash_attributes", lambda a: calls.append(1) or sdk_hash(a))
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    histogram = provider.get_meter("t").create_histogram("duration")
    for _ in range(200):
        histogram.record(0.5, {"http.request.method": "GET", "http.response.status_code": 200})
    assert 0 < len(calls) <= 10  # once for the first measurement; without the remembered keys 3 per measurement
    (point,) = _points(reader, "duration")
    assert point.count == 200 and point.sum == 100.0


def test_remembered_keys_keep_series_apart_as_the_sdk_does():
    """Equal values of different types (True, 1, 1.0), unhashable values, no attributes, and a view that keeps
    some keys only: the same series and totals as the SDK's own keys give."""
    from opentelemetry.sdk.metrics.view import View

    assert cardinality.install(2000)
    reader = InMemoryMetricReader()
    view = View(instrument_name="filtered", attribute_keys={"kept"})
    provider = MeterProvider(metric_readers=[reader], views=[view], shutdown_on_exit=False)
    meter = provider.get_meter("t")
    counter, filtered = meter.create_counter("counted"), meter.create_counter("filtered")
    for _ in range(3):
        for value in (True, 1, 1.0, "1"):
            counter.add(1, {"v": value})
        counter.add(1, {"v": [1, 2]})
        counter.add(1, None)
        counter.add(1, {})
        filtered.add(1, {"kept": "a", "dropped": "x"})
        filtered.add(1, {"kept": "a", "dropped": "y"})
    by_value = {repr(p.attributes.get("v")): p.value for p in _points(reader, "counted")}
    assert by_value == {"True": 3, "1": 3, "1.0": 3, "'1'": 3, "(1, 2)": 3, "None": 6}
    assert [(dict(p.attributes), p.value) for p in _points(reader, "filtered")] == [({"kept": "a"}, 6)]


def test_capture_names_every_series_a_measurement_reached_and_marks_the_overflow():
    """One per reader and view, found under its key in the SDK's table, first time and remembered alike;
    a measurement folded into the overflow series is not to be fed directly; nothing is noted unasked."""
    from opentelemetry.sdk.metrics.view import View

    assert cardinality.install(2000)
    readers = [InMemoryMetricReader(), InMemoryMetricReader()]
    views = [View(instrument_name="d", name="d_all"), View(instrument_name="d", name="d_kept", attribute_keys={"k"})]
    provider = MeterProvider(metric_readers=readers, views=views, shutdown_on_exit=False)
    histogram = provider.get_meter("t").create_histogram("d")
    for _ in range(2):  # the SDK's way, then the remembered key
        found = cardinality.capture_series(lambda: histogram.record(2.0, {"k": "a", "x": "y"}))
        assert found is not None and len(found) == 4 and all(r.direct for r in found)
        for reached in found:
            assert reached.match._attributes_aggregation[reached.key] is not None
    assert cardinality._listening.found is None  # no longer listening
    try:
        cardinality.install(3)
        histogram.record(1.0, {"k": "b"})  # the second set of each stream; the third overflows
        found = cardinality.capture_series(lambda: histogram.record(1.0, {"k": "c"}))
        assert found is not None and [r.direct for r in found] == [False, False, False, False]
    finally:
        cardinality.install(2000)
