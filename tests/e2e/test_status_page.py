"""The sidecar's status page in a real headless Chromium: it loads from the sidecar alone (no CDN,
no script errors), shows the traffic an OpenTelemetry SDK sent on every pipeline stage, ranks a
metric with too many attribute sets in its cardinality list, charts ECS task stats scraped from
the emulator every second, and leaves a screenshot in test-output/."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from sidecar.pipeline.telemetry import Registry
from sidecar.status.server import StatusServer
from tests.support.browser import ChromiumPage
from tests.support.emulator import EmulatorProcess
from tests.support.sidecar import SidecarProcess

SPANS = 25
USERS = 40  # attribute sets of the high-cardinality metric, twice the limit below
LIMIT = 20
WIDE_METRIC = "test.user_requests"


@pytest.fixture
def sidecar_with_stats(tmp_path: Path, ecs_emulator: EmulatorProcess) -> Iterator[SidecarProcess]:
    sidecar = SidecarProcess(tmp_path, {
        "ECS_CONTAINER_METADATA_URI_V4": ecs_emulator.uris["ecs-otel-sidecar"],
        "ECS_OTEL_STATS_INTERVAL": "1",
        "ECS_OTEL_METRIC_CARDINALITY_LIMIT": str(LIMIT),
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
        meter = meter_provider.get_meter("status-page-test")
        counter = meter.create_counter("test.requests")
        wide = meter.create_counter(WIDE_METRIC)
        for i in range(SPANS):
            with tracer.start_as_current_span(f"request {i % 3}"):
                counter.add(1, {"route": f"/r{i % 3}"})
        for u in range(USERS):
            wide.add(1, {"user.id": f"user-{u}", "region": "eu" if u % 2 else "us"})
        assert meter_provider.force_flush(10_000)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()


def _counter(page: ChromiumPage, stage: str, name: str, signal: str, counter: str) -> float:
    value = page.page.get_attribute(
        f'[data-stage="{stage}"][data-name="{name}"][data-signal="{signal}"] [data-counter="{counter}"]', "data-value")
    return float(value or 0)


def test_status_page_shows_live_pipeline_cardinality_and_stats(
    sidecar_with_stats: SidecarProcess, chromium_page: ChromiumPage
) -> None:
    sidecar = sidecar_with_stats
    _send_traffic(sidecar)
    # /cardinality is built on request: right after the export returned, not up to 5 s later.
    status, body = sidecar.get("/cardinality")
    assert status == 200
    top = {t["metric"]: t for t in json.loads(body)["top"]}
    assert top[WIDE_METRIC]["series"] == LIMIT and top[WIDE_METRIC]["overflow_points"] > 0
    sidecar.wait_metrics(lambda m: m.total("ecs_otel_sidecar_exporter_exported_items_total", signal="traces") >= SPANS)

    page = chromium_page.page
    response = page.goto(sidecar.status_url + "/", wait_until="load")
    assert response is not None and response.status == 200
    assert page.title() == "ecs-otel sidecar"

    # Pipeline diagram: every stage of the traces line counts the spans the SDK sent.
    page.wait_for_function(
        """n => Number(document.querySelector('[data-stage="exporter"][data-name="file"][data-signal="traces"]'
             + ' [data-counter="exported"]')?.dataset.value) >= n""", arg=SPANS, timeout=20_000)
    assert _counter(chromium_page, "receiver", "otlp_http", "traces", "accepted") >= SPANS
    assert _counter(chromium_page, "receiver", "otlp_http", "metrics", "accepted") > 0
    assert _counter(chromium_page, "receiver", "scraper_ecs_stats", "metrics", "accepted") > 0
    # One unit per column: processors count items in and out, as receivers and exporters do.
    for proc in ("enrich", "redaction"):
        assert _counter(chromium_page, "processor", proc, "traces", "items_in") == _counter(
            chromium_page, "processor", proc, "traces", "items_out") >= SPANS
    card_in = _counter(chromium_page, "processor", "cardinality", "metrics", "items_in")
    card_out = _counter(chromium_page, "processor", "cardinality", "metrics", "items_out")
    folded = _counter(chromium_page, "processor", "cardinality", "metrics", "folded")
    assert card_in >= USERS and folded == card_in - card_out > 0  # the overflowing users became one point
    assert "folded by cardinality" in page.inner_text("#pipeline-note")
    head = page.locator("#pipeline .sig.head").inner_text()
    assert "items accepted" in head and "items in → out" in head and "items exported" in head
    assert _counter(chromium_page, "exporter", "file", "traces", "dropped") == 0
    assert _counter(chromium_page, "exporter", "file", "traces", "queued") >= 0
    latency = page.inner_text('[data-stage="exporter"][data-name="file"][data-signal="traces"] [data-counter="latency_p99"]')
    assert re.fullmatch(r"[\d.]+ m?s", latency), latency
    assert page.locator('[data-stage="exporter"] .bar').count() == 3  # one queue fill bar per signal's exporter
    assert re.fullmatch(r"healthy", page.inner_text("#health"))
    assert re.fullmatch(r"up \d+[smhd].*", page.inner_text("#uptime"))

    # Cardinality top list: the wide metric, at its limit, overflowing, driven by user.id.
    row = page.locator("#cardinality tr", has=page.locator(f'[data-metric="{WIDE_METRIC}"]'))
    row.wait_for(timeout=10_000)
    cells = row.locator("td").all_inner_texts()
    assert cells[1].startswith(f"{LIMIT} / {LIMIT}") and int(cells[2]) > 0
    assert cells[3].startswith(f"user.id ({LIMIT})")

    # ECS task stats: the task and each emulated container get charts with several scraped points.
    page.wait_for_function(
        """() => { const svgs = document.querySelectorAll('[data-group="task"] svg.spark');
                   return svgs.length === 4 && Array.from(svgs).every(s => Number(s.dataset.points) >= 3); }""",
        timeout=20_000)
    for container in ("app", "ecs-otel-sidecar"):
        charts = page.locator(f'[data-group="{container}"][data-kind="container"] svg.spark')
        assert charts.count() >= 2  # CPU and memory at least
        assert int(charts.first.get_attribute("data-points") or 0) >= 2
        assert page.locator(f'[data-group="{container}"] [data-series="cpu_vcpu"] polyline').count() == 1
    assert re.fullmatch(r"[\d.]+ MiB", page.inner_text('[data-group="task"] [data-series="memory_mib"] .val'))

    # Drops by reason: nothing was lost, and the table says so.
    assert "nothing dropped" in page.inner_text("#drops")

    # Each exporter says where it sends; senders are listed with their last-seen time.
    dest = page.get_attribute('[data-stage="exporter"][data-name="file"][data-signal="traces"] [data-destination]',
                              "data-destination")
    assert dest == str(sidecar.tmp_path / "otel-output" / "traces.jsonl")
    sender = page.locator("#senders tr", has=page.locator('[data-sender="status-page-test"]'))
    cells = sender.locator("td").all_inner_texts()
    assert int(cells[2]) == SPANS and int(cells[3]) > 0 and re.fullmatch(r"\d+s ago", cells[5]), cells
    assert not page.locator('#senders [data-sender^="task:"]').count()  # scraped stats are not a sender

    # Plain words for memory, and the machine-readable views one click away.
    assert re.search(r"queued for export [\d.]+ \w*B of the [\d.]+ \w*B memory limit", page.inner_text("#process"))
    assert {a.get_attribute("href") for a in page.locator("header a").all()} >= {"metrics", "status.json"}

    # A dotted metric name breaks at its dots, never letter by letter: its cell is at most two lines high.
    name = page.locator(f'#cardinality [data-metric="{WIDE_METRIC}"]')
    line = float(name.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)"))
    assert (name.bounding_box() or {"height": 1e9})["height"] <= 2 * line + 1
    assert name.evaluate("e => getComputedStyle(e.closest('td')).overflowWrap") != "anywhere"

    shot = chromium_page.screenshot("status-page")
    assert shot.stat().st_size > 10_000
    assert chromium_page.refused_requests == [], "the page must be self-contained (no CDN)"
    assert chromium_page.page_errors == [] and chromium_page.console_errors == []



def test_status_page_shows_rates_beside_totals(sidecar_with_stats: SidecarProcess, chromium_page: ChromiumPage) -> None:
    """Rates as well as totals: traffic between two refreshes shows as items per second beside the counters."""
    sidecar = sidecar_with_stats
    page = chromium_page.page
    page.goto(sidecar.status_url + "/", wait_until="load")
    receiver = '[data-stage="receiver"][data-name="otlp_http"][data-signal="traces"]'
    exporter = '[data-stage="exporter"][data-name="file"][data-signal="traces"]'
    page.wait_for_selector(f'{receiver} [data-counter="accepted"]', timeout=20_000)  # the first refresh drew it
    assert page.locator(f"{receiver} .rate").count() == 0  # nothing arrived yet: a total of 0, no rate
    _send_traffic(sidecar)
    # The next refresh that sees the new totals draws their rates (refreshes run every 2 s).
    page.wait_for_function(
        """sel => Array.from(document.querySelectorAll(sel)).some(e => /^[\\d.]+[kM]?\\/s$/.test(e.textContent))""",
        arg=f"{receiver} .rate, {exporter} .rate", timeout=20_000)
    rate = page.locator(f"{receiver} .rate, {exporter} .rate").first.inner_text()
    assert re.fullmatch(r"[\d.]+[kM]?/s", rate) and float(re.sub(r"[kM]?/s$", "", rate)) > 0, rate
    assert chromium_page.page_errors == [] and chromium_page.console_errors == []

def test_status_json_keeps_its_shape_and_adds_history(sidecar_with_stats: SidecarProcess) -> None:
    """Other tools read /status.json: the page's additions are new keys, the old ones stay."""
    sidecar = sidecar_with_stats
    sidecar.wait_metrics(lambda m: m.total("ecs_otel_sidecar_scrapes_total", outcome="ok") >= 2)
    snap = sidecar.status()
    for key in ("version", "uptime_s", "health", "pipeline", "receivers", "processors", "queues", "process",
                "components"):
        assert key in snap
    history = snap["history"]
    groups = {g["name"]: g for g in history["groups"]}
    assert set(groups) >= {"task", "app", "ecs-otel-sidecar"}
    task = groups["task"]["series"]
    assert set(task) == {"cpu_vcpu", "memory_mib", "network_rx_bps", "network_tx_bps"}
    assert len(task["memory_mib"]) >= 2 and all(v > 0 for _, v in task["memory_mib"])
    times = [t for t, _ in task["memory_mib"]]
    assert times == sorted(times) and times[-1] > times[0]
    status, body = sidecar.get("/history.json")
    assert status == 200 and {g["name"] for g in json.loads(body)["groups"]} >= {"task"}
    assert isinstance(snap["drops"], list) and snap["cardinality"]["limit"] == LIMIT
    # One cardinality report, not a fresh one beside a stale copy with different totals.
    assert snap["components"]["cardinality"] == snap["cardinality"]
    assert snap["senders"]["max_senders"] > 0 and snap["senders"]["evicted"] == 0


class _TroubledSidecar:
    """A StatusSource in trouble: an exporter failing persistently, a full queue, items dropped."""

    processors: list[object] = []

    def __init__(self) -> None:
        self.telemetry = Registry()
        self.telemetry.counter("ecs_otel_sidecar_exporter_dropped_items_total", "", ("signal", "exporter", "reason")).inc(
            7, signal="traces", exporter="otlp", reason="queue_full")

    def health(self) -> tuple[bool, list[str]]:
        return False, ["exporter otlp failed every attempt in the last 60 s (connection refused)"]

    def component_status(self, key: str) -> Any:
        return None

    def snapshot(self) -> dict[str, Any]:
        queue = {"exporter": "otlp", "signal": "traces", "received": 107, "exported": 0, "dropped": {"queue_full": 7},
                 "queued": 100, "fill": 0.95, "retried": 40, "recent_attempts": 9, "recent_failures": 9,
                 "latency": {"p50": 0.25, "p99": 1.0}, "failed_persistently": True,
                 "destination": "http://collector.internal:4318/v1/traces",
                 "last_error": "connection refused: collector.internal:4318", "last_error_age_s": 3.0}
        return {"version": "test", "uptime_s": 3725.0, "health": {"healthy": False, "reasons": self.health()[1]},
                "region": None, "task_attributes": {}, "pipeline": {"traces": {"receivers": ["otlp_http"],
                                                                             "processors": [], "exporters": ["otlp"]}},
                "receivers": [{"receiver": "otlp_http", "signal": "traces", "accepted": 107, "refused": 0,
                               "requests": {"ok": 107}}],
                "processors": [], "queues": [queue], "components": {},
                "process": {"rss_bytes": 50 << 20, "cpu_seconds": 1.5, "memory_limit_bytes": 256 << 20,
                            "queued_bytes": 1 << 20}}


@pytest.fixture
def troubled_status_url() -> Iterator[str]:
    """A StatusServer over :class:`_TroubledSidecar`, on its own event loop in a thread."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = StatusServer(_TroubledSidecar(), "127.0.0.1", 0)
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=10)
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def test_status_page_shows_trouble(troubled_status_url: str, chromium_page: ChromiumPage) -> None:
    page = chromium_page.page
    page.goto(troubled_status_url + "/", wait_until="load")
    page.wait_for_function("() => document.querySelector('#health').textContent.startsWith('unhealthy')",
                           timeout=10_000)
    assert "connection refused" in page.inner_text("#health")
    assert page.inner_text("#uptime") == "up 1h 2m"
    exporter = page.locator('[data-stage="exporter"][data-name="otlp"][data-signal="traces"]')
    assert "fail" in (exporter.get_attribute("class") or "")
    assert exporter.locator('[data-counter="dropped"]').get_attribute("data-value") == "7"
    assert "bad" in (exporter.locator(".bar").get_attribute("class") or "")  # 95 % full
    assert exporter.locator(".dest").inner_text() == "→ http://collector.internal:4318/v1/traces"
    assert exporter.locator(".lasterr").inner_text() == "last error (3s ago): connection refused: collector.internal:4318"
    assert "connection refused" in page.inner_text("#queues")
    drops = page.locator("#drops tr").all_inner_texts()
    assert any("exporter_dropped_items" in row and "reason=queue_full" in row and row.rstrip().endswith("7")
               for row in drops), drops
    assert "no ECS task stats yet" in page.inner_text("#stats")
    assert "no cardinality processor" in page.inner_text("#card-summary")
    chromium_page.screenshot("status-page-trouble")
    assert chromium_page.page_errors == [] and chromium_page.console_errors == []
