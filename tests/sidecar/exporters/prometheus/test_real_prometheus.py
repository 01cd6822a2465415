"""A real Prometheus server scrapes the exporter and finds an app counter sent over OTLP by the
OTel SDK, a histogram's buckets and an ECS task-stats gauge from the emulator, with their labels;
``promtool check metrics`` accepts the endpoint's output.

The exporter runs in-process here (with its own aiohttp listener), fed by the SDK over real
OTLP/HTTP and by the real ``ecs_stats`` scraper polling the ECS metadata emulator.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ecs_otel.emulator import EmulatorServer, FaultState, FixtureSource
from sidecar.context import SidecarContext
from sidecar.exporters.prometheus.exporter import PrometheusExporter
from sidecar.scrapers.ecs_stats.scraper import EcsStatsScraper
from tests.conftest import FIXTURES
from tests.sidecar.exporters.prometheus.app_metrics import send_app_metrics
from tests.sidecar.exporters.prometheus.harness import (
    PROMETHEUS,
    PROMTOOL,
    SKIP_REASON,
    LoopThread,
    OtlpDoor,
    PrometheusServer,
    http_get,
    promtool_check,
)

pytestmark = pytest.mark.skipif(PROMETHEUS is None, reason=SKIP_REASON)



@dataclass
class Stack:
    loop: LoopThread
    exporter: PrometheusExporter
    door: OtlpDoor
    context: SidecarContext

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.exporter.port}"


@pytest.fixture
def stack() -> Iterator[Stack]:
    emulator = EmulatorServer(
        "127.0.0.1", 0, FixtureSource.from_scenario("fargate-cgroupv1", FIXTURES), FaultState()
    )
    threading.Thread(target=emulator.serve_forever, daemon=True).start()
    loop = LoopThread()
    context = SidecarContext()
    exporter = PrometheusExporter(PrometheusExporter.Settings(port=0, base_units=True), context)
    door = OtlpDoor(exporter)
    scraper = EcsStatsScraper(EcsStatsScraper.Settings(interval_s=1.0, endpoint=emulator.uri()), context)
    scraper.consumer = door
    scraping = None
    try:
        loop.run(exporter.start())
        loop.run(door.start())
        scraping = loop.spawn(scraper.run())
        yield Stack(loop, exporter, door, context)
    finally:
        if scraping is not None:
            scraping.cancel()
        loop.run(door.stop())
        loop.run(exporter.shutdown(0))
        loop.close()
        emulator.shutdown()
        emulator.server_close()


def test_real_prometheus_scrapes_app_and_task_metrics(stack: Stack, tmp_path: Path) -> None:
    send_app_metrics(f"http://127.0.0.1:{stack.door.port}")
    prom = PrometheusServer(tmp_path, stack.target)
    try:
        prom.wait_ready()
        app = {
            "job": "shop/shop-api",
            "instance": "pod-1",
            "otel_scope_name": "shop.checkout",
            "otel_scope_version": "2.1.0",
        }
        selector = ",".join(f'{k}="{v}"' for k, v in app.items())

        # The delta counter, accumulated into one cumulative series: 3 + 4.
        found = prom.wait_for(f'orders_placed_total{{{selector},payment_method="card"}}')
        assert found, f"counter not in Prometheus; targets: {prom.targets()} log: {prom.logs()}"
        assert float(found[0]["value"][1]) == 7.0

        buckets = prom.wait_for(f'checkout_duration_seconds_bucket{{{selector},http_route="/checkout"}}')
        by_le = {float(r["metric"]["le"]): float(r["value"][1]) for r in buckets}
        assert by_le[float("inf")] == 3
        assert by_le == {0.5: 1, 1.0: 2, 5.0: 3, float("inf"): 3}
        count = prom.query(f"checkout_duration_seconds_count{{{selector}}}")
        assert float(count[0]["value"][1]) == 3
        total = prom.query(f"checkout_duration_seconds_sum{{{selector}}}")
        assert float(total[0]["value"][1]) == pytest.approx(3.9)

        # An ECS task-stats gauge from the emulator; its resource has no service.name, so the
        # scrape target's job/instance apply, and the task's identity is in target_info.
        mem = prom.wait_for(
            'ecs_task_memory_utilized_bytes{job="sidecar",otel_scope_name="ecs_otel.sidecar.ecs_stats"}'
        )
        assert mem, f"task gauge missing; log: {prom.logs()}"
        held = re.search(
            r"^ecs_task_memory_utilized_bytes\{[^}]*\} (\S+)$", stack.exporter.renderer.render(), re.M
        )
        assert held and float(mem[0]["value"][1]) == pytest.approx(float(held.group(1)))
        assert float(mem[0]["value"][1]) > 0
        info = prom.wait_for('target_info{aws_ecs_task_id="bae32def0ab64f06818e8862e58f8d6d"}')
        assert info and info[0]["metric"]["cloud_region"] == "us-east-1"
        app_info = prom.query('target_info{job="shop/shop-api",instance="pod-1"}')
        assert app_info and "service_name" not in app_info[0]["metric"]

        up = prom.query('up{job="sidecar"}')
        assert up and up[0]["value"][1] == "1"
        # Prometheus asks for OpenMetrics first, and got it.
        scrapes = stack.context.telemetry.counter(
            "ecs_otel_sidecar_prometheus_scrapes_total", "", ("format",)
        )
        assert scrapes.get(format="openmetrics") >= 1
    finally:
        prom.stop()


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (it ships with Debian's prometheus)")
def test_promtool_accepts_the_endpoint(stack: Stack) -> None:
    send_app_metrics(f"http://127.0.0.1:{stack.door.port}")
    stack.loop.run(_settle())
    _, headers, text = http_get(f"http://{stack.target}/metrics")
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "orders_placed_total{" in text and "ecs_task_memory_utilized_bytes{" in text
    rc, out = promtool_check(text)
    # Exit 0 is a clean pass; 3 means parsed fine but with naming advice. The only advice allowed is
    # about semantic-convention gauges whose OTel names end in ".count" (process.thread.count):
    # the compatibility spec keeps those names, promtool would rather they did not end in _count.
    problems = [line for line in out.splitlines() if line.strip()]
    advisory = re.compile(
        r'^(\S+)_count non-histogram and non-summary metrics should not have "_count" suffix$'
    )
    assert rc == 0 or (rc == 3 and all(advisory.match(p) for p in problems)), out
    for p in problems:
        name = advisory.match(p).group(1)  # type: ignore[union-attr]
        assert f"# TYPE {name}_count gauge" in text, p


async def _settle() -> None:
    import asyncio

    await asyncio.sleep(1.5)  # at least one ECS stats scrape after the first
