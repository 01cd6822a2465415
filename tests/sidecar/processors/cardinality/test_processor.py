"""The cardinality processor on real OTLP batches: limits, exact overflow folding, expiry, rules, report."""

from __future__ import annotations

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    AGGREGATION_TEMPORALITY_CUMULATIVE,
    AGGREGATION_TEMPORALITY_DELTA,
)

from sidecar.config import load_settings
from sidecar.context import SidecarContext
from sidecar.otlp.signals import Signal
from sidecar.processors.cardinality._internal import OVERFLOW_KEY
from sidecar.processors.cardinality.processor import CardinalityProcessor
from tests.sidecar.processors.cardinality.wire_builders import (
    attrs_of,
    data_points,
    distinct_id_points,
    kv,
    number_point,
    sum_request,
    sum_request_from_field,
)


def make(**overrides) -> tuple[CardinalityProcessor, SidecarContext]:
    ctx = SidecarContext()
    return CardinalityProcessor(CardinalityProcessor.Settings(**overrides), ctx), ctx


def value(dp) -> float:
    return dp.as_int if dp.WhichOneof("value") == "as_int" else dp.as_double


def is_overflow(dp) -> bool:
    return any(kv.key == OVERFLOW_KEY and kv.value.bool_value for kv in dp.attributes)


def test_a_million_user_ids_give_limit_plus_one_series_and_the_same_sum() -> None:
    proc, ctx = make()  # default limit: 2000
    limit = proc.settings.limit
    per_request, requests = 50_000, 20
    total_in = total_out = 0
    exported: set[tuple] = set()
    route = kv("http.route", "/cart")
    for r in range(requests):
        field, total = distinct_id_points("user.id", r * per_request, per_request, [1, 2, 3, 4, 5], route)
        total_in += total
        req = sum_request_from_field("app.requests", field)
        out = proc.process(Signal.METRICS, req)
        assert out is not None
        for dp in data_points(out):
            total_out += value(dp)
            exported.add(attrs_of(dp))
    assert len(exported) <= limit + 1
    assert len(exported) == limit + 1  # the limit is used in full, then one overflow series
    assert total_out == total_in
    assert ((OVERFLOW_KEY, True),) in exported
    report = proc.refresh_report()
    (top,) = report["top"]
    assert top["metric"] == "app.requests" and top["series"] == limit and top["overflowing"]
    assert top["attributes"][0] == {"key": "user.id", "distinct_values": limit}
    assert {"key": "http.route", "distinct_values": 1} in top["attributes"]
    assert report["overflow_points_total"] == requests * per_request - limit
    assert ctx.status["cardinality"] is report
    assert ctx.telemetry.gauge("ecs_otel_sidecar_cardinality_series", "").get(metric="app.requests") == limit


def test_ten_thousand_urls_of_one_route_are_one_series() -> None:
    proc, _ = make()
    points = [number_point([kv("url.path", f"/users/{i}/orders/{i * 7919:x}0a1b2c3d4e5f")], 1) for i in range(10_000)]
    out = proc.process(Signal.METRICS, sum_request("http.client.request.count", points))
    dps = data_points(out)
    assert {attrs_of(dp) for dp in dps} == {(("url.path", "/users/{id}/orders/{id}"),)}
    assert sum(value(dp) for dp in dps) == 10_000
    assert not any(is_overflow(dp) for dp in dps)
    assert proc.report()["normalized_values_total"] == 10_000


def test_cumulative_overflow_accumulates_increases_with_resets() -> None:
    proc, _ = make(limit=3)
    series = [f"s{i}" for i in range(8)]
    last: dict[str, tuple[int, int]] = {}  # series → (start, value)
    counted: dict[str, int] = dict.fromkeys(series, 0)
    rounds = [
        {s: (100, 10 * (i + 1)) for i, s in enumerate(series)},
        {s: (100, 10 * (i + 1) + 5) for i, s in enumerate(series)},
        {**{s: (100, 10 * (i + 1) + 9) for i, s in enumerate(series)}, "s6": (500, 2)},  # s6 restarted
    ]
    overflow_starts = set()
    for t, rnd in enumerate(rounds, start=1):
        points = [number_point([kv("k", s)], v, start_ns=start, time_ns=1000 + t) for s, (start, v) in rnd.items()]
        out = proc.process(Signal.METRICS, sum_request("c", points, AGGREGATION_TEMPORALITY_CUMULATIVE))
        for s, (start, v) in rnd.items():
            prev = last.get(s)
            counted[s] += v if prev is None or prev[0] != start or v < prev[1] else v - prev[1]
            last[s] = (start, v)
        dps = data_points(out)
        overflow = [dp for dp in dps if is_overflow(dp)]
        assert len(overflow) == 1 and len(dps) == 4
        passed = {attrs_of(dp)[0][1]: value(dp) for dp in dps if not is_overflow(dp)}
        assert passed == {s: rnd[s][1] for s in ("s0", "s1", "s2")}  # admitted series pass unchanged
        assert value(overflow[0]) == sum(counted[s] for s in series[3:])
        overflow_starts.add(overflow[0].start_time_unix_nano)
        assert overflow[0].time_unix_nano == 1000 + t
    assert len(overflow_starts) == 1  # one series, one start: it accumulates


def test_delta_histograms_fold_counts_and_buckets() -> None:
    proc, _ = make(limit=1)
    req = ExportMetricsServiceRequest()
    m = req.resource_metrics.add().scope_metrics.add().metrics.add(name="latency")
    m.histogram.aggregation_temporality = AGGREGATION_TEMPORALITY_DELTA
    for i, counts in enumerate([[1, 2, 3], [4, 0, 1], [0, 0, 7]]):
        dp = m.histogram.data_points.add(count=sum(counts), sum=10.0 * (i + 1), min=float(i), max=100.0 + i)
        dp.explicit_bounds.extend([1.0, 10.0])
        dp.bucket_counts.extend(counts)
        dp.attributes.add(key="user", value={"string_value": f"u{i}"})
    out = proc.process(Signal.METRICS, req)
    first, overflow = data_points(out)
    assert not is_overflow(first) and is_overflow(overflow)
    assert list(overflow.bucket_counts) == [4, 0, 8] and overflow.count == 12 and overflow.sum == 50.0
    assert overflow.min == 1.0 and overflow.max == 102.0


def test_exponential_histograms_merge_at_the_coarser_scale() -> None:
    proc, _ = make(limit=1)
    req = ExportMetricsServiceRequest()
    m = req.resource_metrics.add().scope_metrics.add().metrics.add(name="exp")
    m.exponential_histogram.aggregation_temporality = AGGREGATION_TEMPORALITY_DELTA
    specs = [(0, 0, [1]), (3, 8, [1, 1, 1, 1]), (2, -5, [2, 0, 3]), (2, 400, [1])]
    for i, (scale, offset, counts) in enumerate(specs):
        dp = m.exponential_histogram.data_points.add(scale=scale, count=sum(counts) + 1, sum=1.5 * i, zero_count=1)
        dp.positive.offset = offset
        dp.positive.bucket_counts.extend(counts)
        dp.attributes.add(key="user", value={"string_value": f"u{i}"})
    out = proc.process(Signal.METRICS, req)
    _, merged = data_points(out)
    assert merged.count == sum(sum(c) + 1 for _, _, c in specs[1:])
    assert merged.zero_count == 3 and merged.sum == 1.5 * (1 + 2 + 3)
    assert sum(merged.positive.bucket_counts) + merged.zero_count == merged.count
    assert len(merged.positive.bucket_counts) <= 160 and merged.scale <= 2


def test_gauge_overflow_carries_the_latest_value() -> None:
    proc, _ = make(limit=1)
    req = ExportMetricsServiceRequest()
    m = req.resource_metrics.add().scope_metrics.add().metrics.add(name="temp")
    for i, t in enumerate([5, 9, 7]):
        dp = m.gauge.data_points.add(time_unix_nano=t, as_double=float(i))
        dp.attributes.add(key="room", value={"string_value": f"r{i}"})
    _, overflow = data_points(proc.process(Signal.METRICS, req))
    assert overflow.as_double == 1.0 and overflow.time_unix_nano == 9 and is_overflow(overflow)


def test_series_expire_and_free_their_place() -> None:
    proc, ctx = make(limit=2, expiry_s=300.0)
    now = [1000.0]
    proc.clock = lambda: now[0]

    def send(*names: str) -> list:
        return data_points(proc.process(Signal.METRICS, sum_request("m", [number_point([kv("k", n)], 1) for n in names])))

    assert not any(is_overflow(dp) for dp in send("a", "b"))
    assert any(is_overflow(dp) for dp in send("c"))
    now[0] += 200
    send("a")  # a stays alive
    now[0] += 150  # b has been silent for 350 s
    dps = send("c")
    assert [attrs_of(dp) for dp in dps] == [(("k", "c"),)]  # admitted in b's place
    assert ctx.telemetry.counter("ecs_otel_sidecar_cardinality_expired_series_total", "").get() == 1
    assert any(is_overflow(dp) for dp in send("d"))  # a and c hold the two places


def test_attribute_rules_keep_drop_hash_bucket() -> None:
    proc, _ = make(rules={
        "*": ["drop:debug.id"],
        "app.orders": ["hash:customer.email", "bucket:tenant:4", "bucket:size:10,100"],
        "http.*": ["keep:http.route,http.request.method"],
    })
    points = [number_point([kv("customer.email", "a@b.c"), kv("tenant", f"t{i}"), kv("size", str(s)),
                            kv("debug.id", str(i))], 1) for i, s in enumerate([5, 50, 500, 10])]
    dps = data_points(proc.process(Signal.METRICS, sum_request("app.orders", points)))
    rows = [dict(attrs_of(dp)) for dp in dps]
    assert all("debug.id" not in r for r in rows)
    assert all(len(r["customer.email"]) == 16 and r["customer.email"] != "a@b.c" for r in rows)
    assert {r["tenant"] for r in rows} <= {"b0", "b1", "b2", "b3"}
    assert [r["size"] for r in rows] == ["(-inf,10]", "(10,100]", "(100,+inf)", "(-inf,10]"]
    http = [number_point([kv("http.route", "/x"), kv("user.id", "u1"), kv("http.request.method", "GET")], 1)]
    (dp,) = data_points(proc.process(Signal.METRICS, sum_request("http.server.request.count", http)))
    assert dict(attrs_of(dp)) == {"http.route": "/x", "http.request.method": "GET"}


def test_per_metric_limits_and_settings_from_env_and_toml() -> None:
    env = {"ECS_OTEL_METRIC_CARDINALITY_LIMIT": "5", "ECS_OTEL_METRIC_CARDINALITY_LIMITS": "big.*=50,tiny=1"}
    settings = load_settings(CardinalityProcessor.Settings, {"rules": {"x": ["drop:a"]}}, env, "processors.cardinality")
    proc = CardinalityProcessor(settings, SidecarContext())
    for name, want in (("other", 5), ("big.one", 50), ("tiny", 1)):
        points = [number_point([kv("k", str(i))], 1) for i in range(100)]
        dps = data_points(proc.process(Signal.METRICS, sum_request(name, points)))
        assert len(dps) == want + 1, name


def test_span_names_are_normalised_on_traces() -> None:
    proc, _ = make()
    req = ExportTraceServiceRequest()
    spans = req.resource_spans.add().scope_spans.add().spans
    spans.add(name="GET /users/123")
    spans.add(name="GET /api/v2/health")
    proc.process(Signal.TRACES, req)
    assert [s.name for s in spans] == ["GET /users/{id}", "GET /api/v2/health"]
    assert Signal.TRACES in CardinalityProcessor.signals and Signal.METRICS in CardinalityProcessor.signals


def test_resources_are_separate_series_and_mixed_batches_keep_order() -> None:
    proc, _ = make(limit=2)
    a = sum_request("m", [number_point([kv("k", str(i))], i + 1) for i in range(4)], service="a")
    b = sum_request("m", [number_point([kv("k", str(i))], 10) for i in range(4)], service="b")
    a.resource_metrics.extend(b.resource_metrics)
    out = proc.process(Signal.METRICS, a)
    first, second = out.resource_metrics
    dps1 = first.scope_metrics[0].metrics[0].sum.data_points
    assert [value(dp) for dp in dps1] == [1, 2, 3 + 4] and is_overflow(dps1[2])
    dps2 = second.scope_metrics[0].metrics[0].sum.data_points
    assert [value(dp) for dp in dps2] == [40] and is_overflow(dps2[0])  # the limit is per metric, over resources


def test_points_with_exemplars_and_mixed_value_types_fold_exactly() -> None:
    proc, _ = make(limit=1)
    req = ExportMetricsServiceRequest()
    m = req.resource_metrics.add().scope_metrics.add().metrics.add(name="mixed")
    m.sum.aggregation_temporality = AGGREGATION_TEMPORALITY_DELTA
    for i in range(4):
        dp = m.sum.data_points.add(start_time_unix_nano=10 + i, time_unix_nano=100 + i)
        if i % 2:
            dp.as_double = 0.5
        else:
            dp.as_int = 3
        dp.exemplars.add(as_int=1, time_unix_nano=5)  # written between the value fields
        dp.attributes.add(key="k", value={"string_value": f"v{i}"})
    first, overflow = data_points(proc.process(Signal.METRICS, req))
    assert first.as_int == 3 and len(first.exemplars) == 1  # admitted points pass untouched
    assert overflow.as_double == 0.5 + 3 + 0.5  # the three overflowed points
    assert overflow.start_time_unix_nano == 11 and overflow.time_unix_nano == 103 and is_overflow(overflow)


def test_metric_names_beyond_max_metrics_pass_untracked() -> None:
    proc, ctx = make(limit=1, max_metrics=2)
    for name in ("a", "b", "c"):
        points = [number_point([kv("k", str(i))], 1) for i in range(5)]
        dps = data_points(proc.process(Signal.METRICS, sum_request(name, points)))
        assert len(dps) == (2 if name != "c" else 5), name  # c is not tracked: passed as is
    assert ctx.telemetry.counter("ecs_otel_sidecar_cardinality_untracked_points_total", "").get() == 5
    assert len(proc._tables) == 2
