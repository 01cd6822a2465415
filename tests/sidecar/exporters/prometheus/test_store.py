"""Merging OTLP into the series table: delta → cumulative, resets, limits, expiry, target_info."""

from __future__ import annotations

import re

import pytest
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from sidecar.exporters.prometheus._internal import (
    OPENMETRICS,
    TEXT,
    Renderer,
    SeriesStore,
    TranslationOptions,
)
from sidecar.exporters.prometheus._internal.series import MAX_EXPONENTIAL_BUCKETS
from tests.sidecar.exporters.prometheus.otlp import (
    DELTA,
    S,
    gauge_metric,
    histogram_metric,
    histogram_point,
    number,
    request,
    sum_metric,
)

RES = {"service.name": "api", "service.instance.id": "i-1", "cloud.region": "eu-west-1"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def samples(text: str) -> dict[str, float]:
    """``name{labels}`` → value, for the lines that are samples."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def value(store: SeriesStore, name: str, **labels: str) -> float | None:
    """The value of the one sample called ``name`` whose labels include ``labels``."""
    found = []
    for key, v in samples(Renderer(store).render()).items():
        m = re.fullmatch(r"([^{]+)(?:\{(.*)\})?", key)
        assert m
        if m.group(1) != name:
            continue
        have = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        if all(have.get(k) == want for k, want in labels.items()):
            found.append(v)
    assert len(found) <= 1, found
    return found[0] if found else None


def counter(v: float, start: int, t: int, temporality: int = 2, **attributes: str):  # type: ignore[no-untyped-def]
    return request([sum_metric("jobs.done", [number(v, attributes, start=start, t=t)], temporality=temporality)],
                   resource=RES)


def test_cumulative_counter_replaces_and_carries_job_instance_scope() -> None:
    st = SeriesStore()
    st.merge(counter(3, S, 2 * S, queue="a"))
    st.merge(counter(7, S, 3 * S, queue="a"))
    labels = {"queue": "a", "job": "api", "instance": "i-1", "otel_scope_name": "test.scope",
              "otel_scope_version": "1.0"}
    assert value(st, "jobs_done_total", **labels) == 7


def test_delta_accumulates_into_cumulative_with_first_start() -> None:
    st = SeriesStore()
    for i, v in enumerate([2, 3, 5]):
        r = st.merge(counter(v, (10 + i) * S, (11 + i) * S, temporality=DELTA))
        assert r.accepted == 1
    assert value(st, "jobs_done_total") == 10
    om = Renderer(st).render(OPENMETRICS)
    # The accumulated series starts where the first delta started.
    assert re.search(r"^jobs_done_created\{.*\} 10(\.0)?$", om, re.M)


def test_delta_overlap_and_out_of_order_are_refused_not_double_counted() -> None:
    st = SeriesStore()
    st.merge(counter(2, 10 * S, 11 * S, temporality=DELTA))
    resent = st.merge(counter(2, 10 * S, 11 * S, temporality=DELTA))
    assert resent.accepted == 0 and resent.dropped_total == 1
    late = st.merge(counter(1, 8 * S, 9 * S, temporality=DELTA))
    assert late.dropped["out_of_order"] == 1
    gap = st.merge(counter(4, 20 * S, 21 * S, temporality=DELTA))  # a gap is not an overlap: counted
    assert gap.accepted == 1
    assert value(st, "jobs_done_total") == 6
    assert st.dropped["delta_overlap"] == 1


def test_cumulative_reset_by_later_start_time() -> None:
    st = SeriesStore()
    st.merge(counter(100, S, 5 * S))
    st.merge(counter(4, 6 * S, 7 * S))  # the producer restarted
    assert value(st, "jobs_done_total") == 4
    assert re.search(r"^jobs_done_created\{.*\} 6(\.0)?$", Renderer(st).render(OPENMETRICS), re.M)
    stale = st.merge(counter(50, S, 3 * S))
    assert stale.dropped["out_of_order"] == 1
    assert value(st, "jobs_done_total") == 4


def test_delta_histogram_accumulates_and_bounds_change_resets() -> None:
    st = SeriesStore()
    for i in range(2):
        p = histogram_point([1.0, 5.0], [1, 2, 3], 20.0, {"r": "x"}, start=(10 + i) * S, t=(11 + i) * S)
        st.merge(request([histogram_metric("op.duration", [p], unit="s", temporality=DELTA)], resource=RES))
    assert value(st, "op_duration_seconds_bucket", le="1.0") == 2
    assert value(st, "op_duration_seconds_bucket", le="5.0") == 6
    assert value(st, "op_duration_seconds_bucket", le="+Inf") == 12
    assert value(st, "op_duration_seconds_count") == 12
    assert value(st, "op_duration_seconds_sum") == 40
    p = histogram_point([2.0], [4, 0], 3.0, {"r": "x"}, start=12 * S, t=13 * S)
    st.merge(request([histogram_metric("op.duration", [p], unit="s", temporality=DELTA)], resource=RES))
    assert value(st, "op_duration_seconds_bucket", le="2.0") == 4
    assert value(st, "op_duration_seconds_bucket", le="1.0") is None


def test_histogram_sum_hidden_when_observations_can_be_negative() -> None:
    st = SeriesStore()
    p = histogram_point([0.0], [1, 1], -1.0, start=S, t=2 * S, minimum=-3.0)
    st.merge(request([histogram_metric("temp.delta", [p])], resource=RES))
    assert value(st, "temp_delta_count") == 2
    assert value(st, "temp_delta_sum") is None


def test_exponential_histogram_becomes_classic_buckets() -> None:
    st = SeriesStore()
    m = pb.Metric(name="lat", unit="s")
    m.exponential_histogram.aggregation_temporality = DELTA
    for i in range(2):
        p = m.exponential_histogram.data_points.add(start_time_unix_nano=(1 + i) * S, time_unix_nano=(2 + i) * S,
                                                    scale=0, zero_count=1, count=4, sum=7.0)
        p.positive.offset = 0  # buckets (1,2], (2,4], (4,8]
        p.positive.bucket_counts.extend([1, 1, 1])
    st.merge(request([m], resource=RES))
    assert value(st, "lat_seconds_bucket", le="0.0") == 2
    assert value(st, "lat_seconds_bucket", le="2.0") == 4
    assert value(st, "lat_seconds_bucket", le="4.0") == 6
    assert value(st, "lat_seconds_bucket", le="8.0") == 8
    assert value(st, "lat_seconds_bucket", le="+Inf") == 8
    assert value(st, "lat_seconds_sum") == 14


def test_exponential_histogram_bucket_count_is_bounded() -> None:
    st = SeriesStore()
    m = pb.Metric(name="wide")
    p = m.exponential_histogram.data_points.add(time_unix_nano=S, scale=8, count=1000, sum=1.0)
    p.positive.offset = -500
    p.positive.bucket_counts.extend([1] * 1000)
    st.merge(request([m], resource=RES))
    text = Renderer(st).render()
    assert 2 <= text.count("wide_bucket{") <= MAX_EXPONENTIAL_BUCKETS + 2
    assert value(st, "wide_bucket", le="+Inf") == 1000


def test_summary() -> None:
    st = SeriesStore()
    m = pb.Metric(name="rpc.latency", unit="ms")
    p = m.summary.data_points.add(start_time_unix_nano=S, time_unix_nano=2 * S, count=10, sum=55.0)
    p.quantile_values.add(quantile=0.99, value=9.0)
    p.quantile_values.add(quantile=0.5, value=5.0)
    st.merge(request([m], resource=RES))
    text = Renderer(st).render()
    assert "# TYPE rpc_latency_milliseconds summary" in text
    assert value(st, "rpc_latency_milliseconds", quantile="0.5") == 5
    assert text.index('quantile="0.5"') < text.index('quantile="0.99"')
    assert value(st, "rpc_latency_milliseconds_count") == 10


def test_target_info_and_resource_labels() -> None:
    st = SeriesStore(options=TranslationOptions(resource_labels=("container.name",)))
    res = {"service.name": "api", "service.namespace": "shop", "aws.ecs.task.arn": "arn:x", "container.name": "web"}
    st.merge(request([gauge_metric("g", [number(1.0)])], resource=res))
    assert value(st, "target_info", job="shop/api", aws_ecs_task_arn="arn:x", container_name="web") == 1
    assert value(st, "g", job="shop/api", container_name="web") == 1
    text = Renderer(st).render()
    assert "service_name" not in text  # service.* become job/instance, not target_info labels
    assert "# TYPE target info" in Renderer(st).render(OPENMETRICS)


def test_no_recorded_value_removes_series() -> None:
    st = SeriesStore()
    st.merge(request([gauge_metric("g", [number(1.0, {"k": "a"})])], resource=RES))
    assert value(st, "g", k="a") == 1
    st.merge(request([gauge_metric("g", [number(0.0, {"k": "a"}, flags=1)])], resource=RES))
    assert value(st, "g", k="a") is None


def test_type_conflict_keeps_first_family() -> None:
    st = SeriesStore()
    st.merge(request([gauge_metric("hits", [number(1.0)])], resource=RES))
    r = st.merge(request([sum_metric("hits", [number(5, t=S)])], resource=RES))
    assert r.dropped["type_conflict"] == 1
    assert "# TYPE hits gauge" in Renderer(st).render()


def test_series_limit_counts_drops() -> None:
    st = SeriesStore(max_series=3, options=TranslationOptions(target_info=False))
    pts = [number(float(i), {"i": i}) for i in range(5)]
    r = st.merge(request([gauge_metric("g", pts)], resource=RES))
    assert (r.accepted, r.dropped["series_limit"], st.series_count) == (3, 2, 3)
    # Existing series still update at the limit.
    r = st.merge(request([gauge_metric("g", [number(9.0, {"i": 0})])], resource=RES))
    assert r.accepted == 1 and value(st, "g", i="0") == 9


def test_families_without_series_do_not_accumulate() -> None:
    st = SeriesStore(max_series=1, options=TranslationOptions(target_info=False))
    st.merge(request([gauge_metric("kept", [number(1.0)])], resource=RES))
    for i in range(20):  # table full: every point of these names is refused
        r = st.merge(request([gauge_metric(f"new{i}", [number(1.0)])], resource=RES))
        assert r.dropped["series_limit"] == 1
    st.merge(request([gauge_metric("gone", [number(0.0, flags=1)])], resource=RES))
    assert st.expire() == 0
    assert list(st.families) == ["kept"]
    text = Renderer(st).render()
    assert "new" not in text and "gone" not in text and "kept{" in text


def test_expiry_removes_stale_series_and_invalidates_cache() -> None:
    clock = FakeClock()
    st = SeriesStore(ttl_s=300, clock=clock)
    renderer = Renderer(st)
    st.merge(request([gauge_metric("old", [number(1.0)])], resource=RES))
    clock.now += 200
    st.merge(request([gauge_metric("fresh", [number(2.0)])], resource=RES))
    assert "old{" in renderer.render()
    clock.now += 150
    assert st.expire() == 1
    text = renderer.render()
    assert "old" not in text and "fresh{" in text and "target_info{" in text
    assert st.series_count == 2


def test_render_reuses_unchanged_families() -> None:
    st = SeriesStore()
    renderer = Renderer(st)
    st.merge(request([gauge_metric(f"m{i}", [number(1.0)]) for i in range(10)], resource=RES))
    renderer.render()
    first = renderer.rendered
    st.merge(request([gauge_metric("m3", [number(2.0)])], resource=RES))
    text = renderer.render()
    assert renderer.rendered == first + 1  # only m3: target_info was merely refreshed, its text is unchanged
    assert value(st, "m3") == 2 and "m9{" in text


@pytest.mark.parametrize("fmt", [TEXT, OPENMETRICS])
def test_label_values_are_escaped(fmt: str) -> None:
    st = SeriesStore()
    st.merge(request([gauge_metric("g", [number(1.0, {"path": 'a"b\\c\nd'})])], resource=RES))
    assert 'path="a\\"b\\\\c\\nd"' in Renderer(st).render(fmt)


def test_base_units_scale_values_bounds_and_sums() -> None:
    st = SeriesStore(options=TranslationOptions(base_units=True))
    p = histogram_point([5.0, 10.0], [1, 1, 0], 12.0, start=S, t=2 * S)
    st.merge(request([histogram_metric("rpc.time", [p], unit="ms"),
                      gauge_metric("mem", [number(2.0)], unit="MiB")], resource=RES))
    assert value(st, "rpc_time_seconds_bucket", le="0.005") == 1
    assert value(st, "rpc_time_seconds_bucket", le="0.01") == 2
    assert value(st, "rpc_time_seconds_sum") == pytest.approx(0.012)
    assert value(st, "mem_bytes") == 2 * 2**20
