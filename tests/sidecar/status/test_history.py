"""The status page's stats history and drop list, fed with real scraper output and real counters."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from sidecar.otlp.signals import Signal
from sidecar.pipeline.consumer import BackPressure
from sidecar.pipeline.telemetry import Registry
from sidecar.scrapers.ecs_stats._internal.otlp import MetricWriter
from sidecar.status.drops import drops_by_reason
from sidecar.status.history import DROPPED_GROUPS, HistoryTap, StatsHistory


def _scrape(t: float, containers: list[str], cpu: float) -> ExportMetricsServiceRequest:
    """A request shaped like the ecs_stats scraper's: a task resource and one resource per container."""
    request = ExportMetricsServiceRequest()
    for name in [None, *containers]:
        rm = request.resource_metrics.add()
        if name is not None:
            kv = rm.resource.attributes.add()
            kv.key, kv.value.string_value = "container.name", name
        w = MetricWriter(rm.scope_metrics.add(), int(t * 1e9), 0)
        prefix = "container" if name else "ecs.task"
        w.point(f"{prefix}.cpu.usage.vcpu", cpu)
        w.point(f"{prefix}.memory.utilized", 100.0)
        w.point(f"{prefix}.network.rate.rx", 2048)
        w.point(f"{prefix}.cpu.usage.total", 123_456)  # a counter: not charted
    return request


def test_history_keeps_the_last_samples_per_series_and_counts_refused_groups() -> None:
    telemetry = Registry()
    history = StatsHistory(telemetry, samples=5, max_groups=2)
    for i in range(8):
        history.observe(_scrape(1000.0 + i, ["app", "worker"], cpu=0.1 * i))
    snap = history.snapshot()
    assert [g["name"] for g in snap["groups"]] == ["task", "app"]  # "worker" was one group too many
    task = snap["groups"][0]["series"]
    assert set(task) == {"cpu_vcpu", "memory_mib", "network_rx_bps"}
    assert [t for t, _ in task["cpu_vcpu"]] == [1003.0, 1004.0, 1005.0, 1006.0, 1007.0]
    assert task["cpu_vcpu"][-1][1] == 0.7 and task["network_rx_bps"][0][1] == 2048.0
    assert snap["scrapes"] == 8 and snap["dropped_groups"] == 8 * 3  # 3 series of "worker" per scrape
    assert telemetry.find(DROPPED_GROUPS).get() == 24  # type: ignore[union-attr]


class _Sink:
    def __init__(self, refuse: bool = False) -> None:
        self.batches: list[Any] = []
        self.refuse = refuse

    async def consume(self, signal: Signal, batch: Any) -> None:
        if self.refuse:
            raise BackPressure("memory_limit")
        self.batches.append(batch)


async def test_tap_records_then_forwards_unchanged_and_lets_back_pressure_through() -> None:
    history = StatsHistory(Registry())
    sink = _Sink()
    tap = HistoryTap(sink, history)
    request = _scrape(5.0, ["app"], cpu=0.25)
    before = request.SerializeToString()
    await tap.consume(Signal.METRICS, request)
    assert sink.batches == [request] and request.SerializeToString() == before
    assert history.snapshot()["groups"][1]["series"]["cpu_vcpu"] == [[5.0, 0.25]]

    await tap.consume(Signal.METRICS, object())  # unreadable: not recorded, still forwarded
    assert len(sink.batches) == 2
    refusing = HistoryTap(_Sink(refuse=True), history)
    try:
        await refusing.consume(Signal.METRICS, _scrape(6.0, [], cpu=0.5))
    except BackPressure as e:
        assert e.reason == "memory_limit"
    else:
        raise AssertionError("back-pressure must reach the scraper, which counts the refused points")


def test_drops_by_reason_lists_nonzero_drop_counters_largest_first() -> None:
    t = Registry()
    dropped = t.counter("ecs_otel_sidecar_exporter_dropped_items_total", "", ("signal", "exporter", "reason"))
    dropped.inc(7, signal="traces", exporter="otlp", reason="queue_full")
    dropped.inc(0, signal="logs", exporter="otlp", reason="retries_exhausted")
    t.counter("ecs_otel_sidecar_receiver_refused_items_total", "", ("receiver", "signal", "reason")).inc(
        3, receiver="otlp_http", signal="metrics", reason="memory_limit")
    t.counter("ecs_otel_sidecar_exporter_exported_items_total", "", ("signal",)).inc(100, signal="traces")
    t.gauge("ecs_otel_sidecar_dropped_gauge", "").set(5)  # not a counter
    assert drops_by_reason(t) == [
        {"counter": "exporter_dropped_items", "labels": {"signal": "traces", "exporter": "otlp",
                                                         "reason": "queue_full"}, "count": 7},
        {"counter": "receiver_refused_items", "labels": {"receiver": "otlp_http", "signal": "metrics",
                                                         "reason": "memory_limit"}, "count": 3},
    ]
