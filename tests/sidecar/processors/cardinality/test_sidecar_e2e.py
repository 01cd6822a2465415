"""The real sidecar with the ecs_stats scraper and the cardinality processor, fed by the OTel SDK.

Processes: the ECS metadata emulator, the sidecar, and the recording OTLP sink, all on loopback.
The SDK sends 300 distinct ``user.id`` values (cumulative, as SDKs do by default) with a limit of
20: the sink gets at most 21 series of that metric with the same total, ``/cardinality`` names
``user.id`` as the driver, and the scraper's task metrics arrive through the same pipeline.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from tests.support.emulator import EmulatorProcess
from tests.support.otlp_sink import SinkProcess
from tests.support.sidecar import SidecarProcess

LIMIT = 20
USERS = 300


def _latest_points(requests: list[dict], name: str) -> dict[tuple, float]:
    """attribute set → value of the newest point of each series of ``name`` (cumulative)."""
    latest: dict[tuple, tuple[int, float]] = {}
    for req in requests:
        for rm in req["body"].get("resourceMetrics", []):
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    if m.get("name") != name:
                        continue
                    for dp in m["sum"]["dataPoints"]:
                        attrs = tuple(sorted((a["key"], json.dumps(a["value"])) for a in dp.get("attributes", [])))
                        t = int(dp.get("timeUnixNano", 0))
                        v = float(dp.get("asInt", dp.get("asDouble", 0)))
                        if attrs not in latest or t >= latest[attrs][0]:
                            latest[attrs] = (t, v)
    return {k: v for k, (_, v) in latest.items()}


def _names(requests: list[dict]) -> set[str]:
    return {m.get("name") for req in requests for rm in req["body"].get("resourceMetrics", [])
            for sm in rm.get("scopeMetrics", []) for m in sm.get("metrics", [])}


def test_sidecar_limits_series_reports_and_scrapes(tmp_path: Path, otlp_sink: SinkProcess) -> None:
    emulator = EmulatorProcess(tmp_path, "--scenario", "ec2-cgroupv2")
    try:
        sidecar = SidecarProcess(tmp_path, {
            "ECS_CONTAINER_METADATA_URI_V4": emulator.uri,
            "ECS_OTEL_OTLP_ENDPOINT": otlp_sink.url,
            "ECS_OTEL_METRICS_EXPORTERS": "otlp",
            "ECS_OTEL_TRACES_EXPORTERS": "none",
            "ECS_OTEL_LOGS_EXPORTERS": "none",
            "ECS_OTEL_OTLP_COMPRESSION": "none",
            "ECS_OTEL_METRICS_PROCESSORS": "cardinality",
            "ECS_OTEL_METRIC_CARDINALITY_LIMIT": str(LIMIT),
            "ECS_OTEL_STATS_INTERVAL": "1",
        })
        try:
            reader = PeriodicExportingMetricReader(
                OTLPMetricExporter(endpoint=sidecar.http_url + "/v1/metrics"), export_interval_millis=3_600_000
            )
            provider = MeterProvider(resource=Resource.create({"service.name": "shop"}), metric_readers=[reader])
            counter = provider.get_meter("shop").create_counter("shop.checkouts")
            for i in range(USERS):
                counter.add(2, {"user.id": f"user-{i}", "url.path": f"/cart/{i}"})
            assert provider.force_flush(20_000)
            for i in range(USERS):
                counter.add(1, {"user.id": f"user-{i}", "url.path": f"/cart/{i}"})
            assert provider.force_flush(20_000)
            provider.shutdown()

            def arrived(reqs: list[dict]) -> bool:
                return sum(_latest_points(reqs, "shop.checkouts").values()) == 3 * USERS

            reqs = otlp_sink.wait_for("metrics", arrived, timeout_s=30)
            series = _latest_points(reqs, "shop.checkouts")
            assert len(series) <= LIMIT + 1
            assert sum(series.values()) == 3 * USERS  # cumulative totals conserved across the fold
            overflow = [k for k in series if ("otel.metric.overflow", '{"boolValue": true}') in k]
            assert len(overflow) == 1
            # url.path was normalised before counting series
            assert all(("url.path", '{"stringValue": "/cart/{id}"}') in k for k in series if k not in overflow)
            # the scraper ran through the same pipeline
            reqs = otlp_sink.wait_for("metrics", lambda r: "ecs.task.memory.utilized" in _names(r), timeout_s=30)
            assert {"container.memory.utilized", "ecs.task.cpu.usage.vcpu"} <= _names(reqs)

            deadline = time.monotonic() + 30
            while True:
                status, body = sidecar.get("/cardinality")
                report = json.loads(body) if status == 200 else {}
                top = {t["metric"]: t for t in report.get("top", [])}
                if "shop.checkouts" in top and top["shop.checkouts"]["overflowing"]:
                    break
                assert time.monotonic() < deadline, report
                time.sleep(0.5)
            entry = top["shop.checkouts"]
            assert entry["series"] == LIMIT and entry["limit"] == LIMIT
            assert entry["attributes"][0] == {"key": "user.id", "distinct_values": LIMIT}
            metrics = sidecar.metrics()
            assert metrics.total("ecs_otel_sidecar_cardinality_overflow_points_total") >= 2 * (USERS - LIMIT)
        finally:
            sidecar.terminate()
    finally:
        emulator.stop()
