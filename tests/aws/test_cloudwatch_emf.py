"""EMF translation and PutLogEvents batching, without the network."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import AggregationTemporality

from sidecar.config import ConfigError
from sidecar.context import SidecarContext
from sidecar.exporters.cloudwatch._internal.batching import (
    EVENT_OVERHEAD,
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    MAX_EVENTS,
    Filtered,
    LogEvent,
    acceptable,
    batches,
)
from sidecar.exporters.cloudwatch._internal.delta import CumulativeToDelta
from sidecar.exporters.cloudwatch._internal.emf import EmfBuilder
from sidecar.exporters.cloudwatch.exporter import CloudWatchExporter
from sidecar.otlp.attributes import any_value
from tests.aws.emf_schema import validate
from tests.aws.metrics import app

NOW_MS = int(time.time() * 1000)


def test_delta_first_point_full_for_new_series_baseline_for_older_ones() -> None:
    started = 1_000
    d = CumulativeToDelta(process_start_ns=started)
    assert d.delta("new", started + 1, (5.0,), 10) == (5.0,)  # began after us: nothing lost
    assert d.delta("old", started - 1, (100.0,), 10) is None  # began before: a baseline
    assert d.delta("old", started - 1, (130.0,), 20) == (30.0,)
    assert d.delta("old", started - 1, (130.0,), 20) == (30.0,)  # a retried batch: same answer
    assert d.delta("old", started - 1, (130.0,), 30) == (0.0,)  # unchanged: zero, never negative
    assert d.delta("old", started - 1, (4.0,), 40) == (4.0,)  # reset without a new start time
    assert d.delta("old", started + 50, (2.0,), 50) == (2.0,)  # reset with a new start time
    assert d.delta("unknown", 0, (9.0,), 10) is None  # unknown start: a baseline


def test_delta_table_is_bounded() -> None:
    d = CumulativeToDelta(process_start_ns=0, max_series=3)
    for i in range(10):
        d.delta(i, 1, (1.0,), 1)
    assert len(d) == 3 and d.evicted == 7


def builder(**kw: object) -> EmfBuilder:
    return EmfBuilder(namespace="Tests", delta=CumulativeToDelta(time.time_ns() - 10**9), **kw)  # type: ignore[arg-type]


def test_emf_events_from_sdk_metrics_with_deltas() -> None:
    b = builder()
    with app() as a:
        a.requests.add(5, {"http.route": "/a"})
        for v in (3, 30, 300):
            a.duration.record(v, {"http.route": "/a"})
        a.queue.add(7)
        first = [validate(e.message) for e in b.build(a.collect(), NOW_MS)]
        a.requests.add(2, {"http.route": "/a"})
        a.duration.record(40, {"http.route": "/a"})
        second = [validate(e.message) for e in b.build(a.collect(), NOW_MS)]
    route = next(e for e in first if e.get("http.route") == "/a")
    directive = route["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Tests"
    assert directive["Dimensions"] == [["http.route", "service.name"]]
    assert route["service.name"] == "checkout"
    units = {m["Name"]: m.get("Unit") for m in directive["Metrics"]}
    assert units == {"http.server.requests": "Count", "http.server.duration": "Milliseconds"}
    assert route["http.server.requests"] == 5  # the SDK started after the sidecar: first point in full
    hist = route["http.server.duration"]
    assert hist["Count"] == 3 and hist["Sum"] == 333 and hist["Min"] == 3 and hist["Max"] == 300
    gauge = next(e for e in first if "jobs.queued" in e)
    assert gauge["jobs.queued"] == 7 and gauge["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["service.name"]
    ]
    route2 = next(e for e in second if e.get("http.route") == "/a")
    assert route2["http.server.requests"] == 2
    assert route2["http.server.duration"]["Count"] == 1 and route2["http.server.duration"]["Sum"] == 40


def test_series_older_than_the_sidecar_start_as_baseline() -> None:
    with app() as a:
        a.requests.add(5)
        request = a.collect()
    b = EmfBuilder(namespace="Tests", delta=CumulativeToDelta(time.time_ns() + 10**9))
    assert b.build(request, NOW_MS) == [] and b.stats.baselines == 1


def test_more_than_100_metrics_split_and_rollup_and_declared_sets() -> None:
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.add(key="service.name").value.string_value = "svc"
    sm = rm.scope_metrics.add()
    for i in range(150):
        m = sm.metrics.add(name=f"m{i}")
        p = m.gauge.data_points.add(time_unix_nano=NOW_MS * 1_000_000, as_int=i)
        p.attributes.add(key="a").value.string_value = "x"
        p.attributes.add(key="b").value.int_value = 2
    events = [validate(e.message) for e in builder(rollup="zero_and_single").build(request, NOW_MS)]
    assert [len(e["_aws"]["CloudWatchMetrics"][0]["Metrics"]) for e in events] == [100, 50]
    assert events[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [
        ["a", "b", "service.name"], [], ["a"], ["b"], ["service.name"]
    ]  # fmt: skip
    assert events[0]["b"] == "2" and events[1]["m149"] == 149
    declared = builder(dimension_sets=[("a",), ("a", "missing")]).build(request, NOW_MS)
    assert validate(declared[0].message)["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["a"]]
    selected = builder(metric_names=[r"^m1\d$"]).build(request, NOW_MS)
    assert len(validate(selected[0].message)["_aws"]["CloudWatchMetrics"][0]["Metrics"]) == 10


def test_delta_histogram_and_statistic_sets() -> None:
    request = ExportMetricsServiceRequest()
    m = request.resource_metrics.add().scope_metrics.add().metrics.add(name="lat", unit="s")
    m.histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    m.histogram.data_points.add(
        time_unix_nano=NOW_MS * 1_000_000,
        count=4,
        sum=10.0,
        explicit_bounds=[1, 2, 5],
        bucket_counts=[1, 0, 2, 1],
    )
    (event,) = builder().build(request, NOW_MS)
    value = validate(event.message)["lat"]
    assert value["Values"] == [1, 3.5, 5] and value["Counts"] == [1, 2, 1] and value["Count"] == 4
    (event,) = builder(histogram_format="statistic_set").build(request, NOW_MS)
    assert set(validate(event.message)["lat"]) == {"Max", "Min", "Count", "Sum"}


def test_batches_respect_count_size_and_span_limits() -> None:
    small = [LogEvent(NOW_MS + i % 7, "x") for i in range(MAX_EVENTS + 1)]
    out = list(batches(acceptable(small, NOW_MS + 10, Filtered(), False)))
    assert [len(b) for b in out] == [MAX_EVENTS, 1]
    assert all(b[i].timestamp_ms <= b[i + 1].timestamp_ms for b in out for i in range(len(b) - 1))
    big = [LogEvent(NOW_MS, "y" * 100_000) for _ in range(25)]  # 2.5 MB
    out = list(batches(big))
    assert len(out) == 3 and sum(map(len, out)) == 25
    assert all(sum(len(e.message) + EVENT_OVERHEAD for e in b) <= MAX_BATCH_BYTES for b in out)
    day = 24 * 3600 * 1000
    spread = [LogEvent(NOW_MS - day - 1000, "a"), LogEvent(NOW_MS, "b")]
    assert [len(b) for b in batches(spread)] == [1, 1]


def test_unacceptable_events_filtered_and_counted() -> None:
    f = Filtered()
    events = [
        LogEvent(NOW_MS - 15 * 24 * 3600 * 1000, "old"),
        LogEvent(NOW_MS + 3 * 3600 * 1000, "future"),
        LogEvent(NOW_MS, "z" * (MAX_EVENT_BYTES + 10)),
        LogEvent(NOW_MS, "fine"),
    ]
    assert [e.message for e in acceptable(events, NOW_MS, f, truncate_large=False)] == ["fine"]
    assert (f.too_old, f.too_new, f.too_large) == (1, 1, 1)
    kept = acceptable(events, NOW_MS, Filtered(), truncate_large=True)
    assert len(kept) == 2 and max(e.size for e in kept) <= MAX_EVENT_BYTES


def _histogram(name: str = "lat", **point: Any) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    m = request.resource_metrics.add().scope_metrics.add().metrics.add(name=name, unit="ms")
    m.histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    m.histogram.data_points.add(time_unix_nano=NOW_MS * 1_000_000, **point)
    return request


def test_histogram_with_a_nan_sum_is_dropped_and_counted_never_null() -> None:
    """Issue 15, EMF: it was written as "Sum": null."""
    b = builder()
    request = _histogram(count=2, sum=math.nan, explicit_bounds=[1.0], bucket_counts=[1, 1])
    assert b.build(request, NOW_MS) == [] and b.stats.dropped == {"non_finite": 1}


def test_two_buckets_without_min_max_list_their_value_once() -> None:
    """Bounds [1.0], no min/max: both buckets' representative is 1.0; it was listed twice."""
    (event,) = builder().build(_histogram(count=2, sum=2.0, explicit_bounds=[1.0], bucket_counts=[1, 1]), NOW_MS)
    value = validate(event.message)["lat"]
    assert value["Values"] == [1.0] and value["Counts"] == [2.0] and value["Count"] == 2


def test_single_bucket_histogram_average_within_min_and_max() -> None:
    """No bounds, count 3, sum 6: it was written as Max 0, Min 0, Sum 6 (average 2 above the max)."""
    (event,) = builder().build(_histogram(count=3, sum=6.0, bucket_counts=[3]), NOW_MS)
    value = validate(event.message)["lat"]
    assert value["Min"] <= value["Sum"] / value["Count"] <= value["Max"]
    assert value["Values"] == [2.0] and value["Counts"] == [3.0]


def test_histogram_without_sum_estimates_it_from_its_buckets() -> None:
    b = builder()
    (event,) = b.build(_histogram(count=4, explicit_bounds=[1, 2, 5], bucket_counts=[1, 0, 2, 1]), NOW_MS)
    value = validate(event.message)["lat"]
    assert value["Sum"] == 1 + 3.5 * 2 + 5 and b.stats.sums_estimated == 1


def _gauge(name: str, attrs: dict[str, Any], value: float = 1.0) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    m = request.resource_metrics.add().scope_metrics.add().metrics.add(name=name)
    p = m.gauge.data_points.add(time_unix_nano=NOW_MS * 1_000_000, as_double=value)
    for k, v in attrs.items():
        p.attributes.add(key=k).value.CopyFrom(any_value(v))
    return request


def test_names_and_dimensions_made_valid_or_dropped_and_counted() -> None:
    """Issue 15, EMF: long metric names, long keys, long/empty/non-ASCII values all passed through."""
    b = builder()
    attrs = {
        "k" * 300: "long key",
        "long.value": "v" * 2000,
        "other.long.value": "v" * 2000 + "x",
        "empty": "",
        "blank": "  ",
        "route": "/café\t1",
        "_aws": "clobber",
    }
    (event,) = b.build(_gauge("ok", attrs), NOW_MS)
    doc = validate(event.message)
    (dims,) = doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    long_key = next(k for k in dims if k.startswith("kkk"))
    assert len(long_key) == 250 and doc[long_key] == "long key"
    assert len(doc["long.value"]) == 1024 and doc["long.value"] != doc["other.long.value"]  # cut, still distinct
    assert doc["route"] == "/caf\\xe9\\x091"
    assert "empty" not in dims and "blank" not in dims and doc["_aws"]["Timestamp"] == NOW_MS
    assert b.stats.repaired == {"cut": 3, "escaped": 1, "empty_value": 2, "invalid_name": 1}
    assert b.build(_gauge("m" * 1025, {}), NOW_MS) == [] and b.stats.dropped["metric_name"] == 1
    assert b.build(_gauge("route", {"route": "/a"}), NOW_MS) == [] and b.stats.dropped["name_conflict"] == 1
    assert b.build(_gauge("big", {}, 2.0**361), NOW_MS) == [] and b.stats.dropped["out_of_range"] == 1


def test_declared_sets_that_do_not_apply_drop_the_point_not_write_empty_dimensions() -> None:
    b = builder(dimension_sets=[("service.name", "missing")])
    assert b.build(_gauge("g", {"a": "x"}), NOW_MS) == [] and b.stats.dropped == {"no_dimension_set": 1}


def test_exponential_histogram_that_overflows_is_dropped_not_the_batch() -> None:
    request = ExportMetricsServiceRequest()
    sm = request.resource_metrics.add().scope_metrics.add()
    m = sm.metrics.add(name="exp")
    m.exponential_histogram.aggregation_temporality = AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
    p = m.exponential_histogram.data_points.add(time_unix_nano=NOW_MS * 1_000_000, scale=-12, count=1, sum=1.0)
    p.positive.offset = 5
    p.positive.bucket_counts.append(1)
    sm.metrics.append(_gauge("fine", {}).resource_metrics[0].scope_metrics[0].metrics[0])
    b = builder()
    (event,) = b.build(request, NOW_MS)
    assert validate(event.message)["fine"] == 1.0 and b.stats.dropped == {"invalid_point": 1}


@pytest.mark.parametrize("namespace", ["", ":ns", "é", "n" * 256, "a\tb"])
def test_a_namespace_cloudwatch_refuses_is_a_configuration_error(namespace: str) -> None:
    settings = CloudWatchExporter.Settings(namespace=namespace, region="us-east-1")
    with pytest.raises(ConfigError, match="ECS_OTEL_CLOUDWATCH_NAMESPACE"):
        CloudWatchExporter(settings, SidecarContext(env={}))
