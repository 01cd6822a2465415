"""Prometheus scrape endpoint: render time of a 10,000-series scrape and OTLP merge throughput.

Our exporter (``sidecar.exporters.prometheus.exporter``: series table + per-family render cache) against a
named peer, the OpenTelemetry Python SDK's own Prometheus exporter
(``opentelemetry-exporter-prometheus`` on ``prometheus_client``), each exposing the same 10,000
series (100 families of 100 series: counters, gauges and histograms). Rows:

- ``render_cold``: the first scrape (nothing cached);
- ``render_warm``: a scrape when nothing changed since the last one;
- ``render_warm_1pct``: a scrape after 1 % of the families received new points (the usual case);
- ``merge``: OTLP data points merged into the series table per second (the pipeline's cost).

The peer renders everything on every scrape, so its cold and warm numbers are the same work.
Run: ``python -m bench.prometheus_bench [--quick]``. ``run(quick)`` returns the rows for ``make bench``.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from bench import report
from sidecar.exporters.prometheus._internal import Renderer, SeriesStore

FAMILIES = 100
PER_FAMILY = 100
BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]
RESOURCE = {"service.name": "bench", "service.instance.id": "i-1", "cloud.region": "eu-west-1"}


def _kv(k: str, v: str) -> KeyValue:
    return KeyValue(key=k, value=AnyValue(string_value=v))


def _kind(f: int) -> str:
    return "histogram" if f % 10 == 0 else ("counter" if f % 2 else "gauge")


def build_batch(families: range, t_s: int, per_family: int = PER_FAMILY) -> ExportMetricsServiceRequest:
    """One OTLP request with ``per_family`` series in each of ``families``."""
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(_kv(k, v) for k, v in RESOURCE.items())
    sm = rm.scope_metrics.add()
    sm.scope.name, sm.scope.version = "bench", "1.0"
    t, start = t_s * 1_000_000_000, 1_000_000_000
    for f in families:
        m = sm.metrics.add(name=f"bench.metric.{f}", unit="s" if _kind(f) == "histogram" else "")
        kind = _kind(f)
        for i in range(per_family):
            attrs = [_kv("route", f"/r/{i}"), _kv("http.request.method", "GET")]
            if kind == "histogram":
                m.histogram.aggregation_temporality = (
                    pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
                )
                p = m.histogram.data_points.add(
                    start_time_unix_nano=start, time_unix_nano=t, count=12, sum=3.5
                )
                p.explicit_bounds.extend(BOUNDS)
                p.bucket_counts.extend([1] * (len(BOUNDS) + 1))
            elif kind == "counter":
                m.sum.is_monotonic = True
                m.sum.aggregation_temporality = pb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
                p = m.sum.data_points.add(
                    start_time_unix_nano=start, time_unix_nano=t, as_double=float(t_s + i)
                )
            else:
                p = m.gauge.data_points.add(time_unix_nano=t, as_double=i * 0.5 + t_s)
            p.attributes.extend(attrs)
    return req


def _best(fn: Callable[[], Any], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        began = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - began)
    return best


def _ours(rounds: int) -> dict[str, float]:
    store = SeriesStore(max_series=20_000)
    store.merge(build_batch(range(FAMILIES), 2))
    assert store.series_count == FAMILIES * PER_FAMILY + 1  # + target_info

    def cold() -> None:
        for family in store:
            family.cache.clear()
        Renderer(store).render()

    renderer = Renderer(store)
    renderer.render()
    changed = build_batch(range(0, FAMILIES, FAMILIES // 1), 3)  # 1 % of families: family 0
    t = [3]

    def warm_1pct() -> None:
        t[0] += 1
        changed.resource_metrics[0].scope_metrics[0].metrics[0].histogram.data_points[0].time_unix_nano = (
            t[0] * 1_000_000_000
        )
        store.merge(changed)
        renderer.render()

    batch = build_batch(range(FAMILIES), 4)
    points = FAMILIES * PER_FAMILY
    merge_s = _best(lambda: store.merge(batch), rounds)
    return {
        "render_cold": _best(cold, rounds),
        "render_warm": _best(renderer.render, rounds),
        "render_warm_1pct": _best(warm_1pct, rounds),
        "merge_points_per_s": points / merge_s,
        "bytes": len(renderer.render()),
    }


def _peer(rounds: int) -> dict[str, float] | None:
    try:
        from opentelemetry.exporter.prometheus import PrometheusMetricReader
        from opentelemetry.sdk.metrics import Histogram, MeterProvider
        from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
        from opentelemetry.sdk.resources import Resource
        from prometheus_client import CollectorRegistry, generate_latest
    except ImportError:
        return None
    registry = CollectorRegistry()
    reader = PrometheusMetricReader()
    # The reader registers its collector in the global registry; move it to ours to measure only it.
    from prometheus_client import REGISTRY

    collector = reader._collector
    REGISTRY.unregister(collector)
    registry.register(collector)
    provider = MeterProvider(
        resource=Resource.create(RESOURCE),
        metric_readers=[reader],
        views=[View(instrument_type=Histogram, aggregation=ExplicitBucketHistogramAggregation(BOUNDS))],
    )
    meter = provider.get_meter("bench", "1.0")
    for f in range(FAMILIES):
        kind = _kind(f)
        attrs = [{"route": f"/r/{i}", "http.request.method": "GET"} for i in range(PER_FAMILY)]
        if kind == "histogram":
            h = meter.create_histogram(f"bench.metric.{f}", unit="s")
            for a in attrs:
                h.record(0.3, a)
        elif kind == "counter":
            c = meter.create_counter(f"bench.metric.{f}")
            for a in attrs:
                c.add(1, a)
        else:
            values = {tuple(sorted(a.items())): 1.0 for a in attrs}
            from opentelemetry.metrics import Observation

            def cb(_options: Any, values: dict[Any, float] = values) -> list[Observation]:
                return [Observation(v, dict(k)) for k, v in values.items()]

            meter.create_observable_gauge(f"bench.metric.{f}", callbacks=[cb])
    try:
        scrape = _best(lambda: generate_latest(registry), rounds)
        return {
            "render_cold": scrape,
            "render_warm": scrape,
            "render_warm_1pct": scrape,
            "bytes": len(generate_latest(registry)),
        }
    finally:
        registry.unregister(collector)
        REGISTRY.register(collector)
        provider.shutdown()


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows ``{"name", "case", "ms", "vs_peer"}`` (``vs_peer`` > 1: ours is that many times faster) and a
    merge-throughput row ``{"name", "case": "merge", "points_per_s"}``."""
    rounds = 3 if quick else 7
    ours = _ours(rounds)
    peer = _peer(rounds)
    rows: list[dict[str, Any]] = []
    for case in ("render_cold", "render_warm", "render_warm_1pct"):
        row: dict[str, Any] = {
            "name": "ecs-otel prometheus",
            "case": case,
            "series": FAMILIES * PER_FAMILY,
            "ms": round(ours[case] * 1000, 2),
        }
        if peer:
            row["vs_peer"] = round(peer[case] / ours[case], 1)
        rows.append(row)
    if peer:
        rows.append(
            {
                "name": "opentelemetry-exporter-prometheus",
                "case": "render (every scrape)",
                "series": FAMILIES * PER_FAMILY,
                "ms": round(peer["render_cold"] * 1000, 2),
                "vs_peer": 1.0,
            }
        )
    rows.append(
        {
            "name": "ecs-otel prometheus",
            "case": "merge",
            "series": FAMILIES * PER_FAMILY,
            "points_per_s": round(ours["merge_points_per_s"]),
        }
    )
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    return report.markdown_table(
        ("exporter", "case", "series", "ms", "× peer (faster)", "points/s"),
        ((r["name"], r["case"], f"{r['series']:,}", r.get("ms", ""), r.get("vs_peer", ""),
          format(r["points_per_s"], ",") if "points_per_s" in r else "") for r in rows),
        text_columns=2,
    )


def main(argv: list[str] | None = None) -> None:
    report.main(__doc__, run, to_markdown, argv)


if __name__ == "__main__":
    main()
