"""The sidecar's status page in a real headless Chromium: it loads from the sidecar alone (no CDN),
shows the traffic an OpenTelemetry SDK sent, and leaves a screenshot in test-output/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.support.browser import ChromiumPage
from tests.support.emulator import EmulatorProcess
from tests.support.sidecar import SidecarProcess

SPANS = 25


@pytest.fixture
def sidecar_with_stats(tmp_path: Path, ecs_emulator: EmulatorProcess) -> Iterator[SidecarProcess]:
    sidecar = SidecarProcess(tmp_path, {
        "ECS_CONTAINER_METADATA_URI_V4": ecs_emulator.uris["ecs-otel-sidecar"],
        "ECS_OTEL_STATS_INTERVAL": "1",
        "ECS_OTEL_TRACES_EXPORTERS": "file",
        "ECS_OTEL_METRICS_EXPORTERS": "file",
        "ECS_OTEL_LOGS_EXPORTERS": "file",
        "ECS_OTEL_FILE_PATH": str(tmp_path / "otel-output"),
    })
    try:
        yield sidecar
    finally:
        sidecar.terminate(timeout=15)


def _send_traffic(sidecar: SidecarProcess) -> None:
    resource = Resource.create({"service.name": "status-page-test"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{sidecar.http_url}/v1/traces",
                                                                            timeout=10)))
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{sidecar.http_url}/v1/metrics", timeout=10),
                                           export_interval_millis=60_000)
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    try:
        tracer = tracer_provider.get_tracer("status-page-test")
        counter = meter_provider.get_meter("status-page-test").create_counter("test.requests")
        for i in range(SPANS):
            with tracer.start_as_current_span(f"request {i % 3}"):
                counter.add(1, {"route": f"/r{i % 3}"})
        assert meter_provider.force_flush(10_000)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()


def _cells(page: ChromiumPage, table_id: str) -> list[list[str]]:
    return page.page.eval_on_selector_all(
        f"#{table_id} tr", "rows => rows.map(r => Array.from(r.children, c => c.textContent.trim()))")


def test_status_page_shows_live_counters(sidecar_with_stats: SidecarProcess, chromium_page: ChromiumPage) -> None:
    sidecar = sidecar_with_stats
    _send_traffic(sidecar)
    sidecar.wait_metrics(lambda m: m.total("ecs_otel_sidecar_exporter_exported_items_total", signal="traces") >= SPANS)

    page = chromium_page.page
    response = page.goto(sidecar.status_url + "/", wait_until="load")
    assert response is not None and response.status == 200
    assert page.title() == "ecs-otel sidecar"
    # The page polls /status.json; wait until it has rendered the traffic.
    page.wait_for_function(
        """n => Array.from(document.querySelectorAll('#receivers tr')).some(r =>
             r.children[0]?.textContent === 'otlp_http' && r.children[1]?.textContent === 'traces'
             && Number(r.children[2]?.textContent) >= n)""", arg=SPANS, timeout=20_000)
    assert re.match(r"healthy · up \d+ s", page.inner_text("#health"))

    receivers = {(r[0], r[1]): r for r in _cells(chromium_page, "receivers")[1:]}
    assert int(receivers[("otlp_http", "traces")][2]) >= SPANS
    assert int(receivers[("otlp_http", "metrics")][2]) > 0
    assert int(receivers[("scraper_ecs_stats", "metrics")][2]) > 0  # ECS task stats flowing
    page.wait_for_function(
        """n => Array.from(document.querySelectorAll('#queues tr')).some(r =>
             r.children[0]?.textContent === 'file' && r.children[1]?.textContent === 'traces'
             && Number(r.children[3]?.textContent) >= n)""", arg=SPANS, timeout=20_000)
    queues = {(r[0], r[1]): r for r in _cells(chromium_page, "queues")[1:]}
    head = _cells(chromium_page, "queues")[0]
    traces = dict(zip(head, queues[("file", "traces")], strict=True))
    assert int(traces["received"]) >= SPANS and int(traces["exported"]) >= SPANS and traces["dropped"] == "0"
    flow = page.inner_text("#pipeline")
    for word in ("otlp_http", "enrich", "file"):
        assert word in flow

    shot = chromium_page.screenshot("status-page")
    assert shot.stat().st_size > 10_000
    assert chromium_page.refused_requests == [], "the page must be self-contained (no CDN)"
    assert chromium_page.page_errors == [] and chromium_page.console_errors == []
