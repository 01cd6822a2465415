"""The scraper against the ECS metadata emulator, run as a real process on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from sidecar.config import ConfigError, load_settings
from sidecar.context import SidecarContext
from sidecar.otlp.signals import Signal
from sidecar.scrapers.ecs_stats.scraper import EcsStatsScraper
from tests.support.emulator import EmulatorProcess


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess(tmp_path, "--scenario", "fargate-cgroupv1")
    try:
        yield emu
    finally:
        emu.stop()


class Recorder:
    def __init__(self) -> None:
        self.batches: list = []
        self.arrived = asyncio.Event()

    async def consume(self, signal: Signal, batch) -> None:
        assert signal is Signal.METRICS
        self.batches.append(batch)
        self.arrived.set()


def _names(batch) -> set[str]:
    return {m.name for rm in batch.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}


def _scraper(uri: str, **env: str) -> tuple[EcsStatsScraper, SidecarContext]:
    ctx = SidecarContext(env={"ECS_CONTAINER_METADATA_URI_V4": uri, **env})
    settings = load_settings(EcsStatsScraper.Settings, {}, ctx.env, "scrapers.ecs_stats")
    return EcsStatsScraper(settings, ctx), ctx


async def test_first_scrape_is_immediate(emulator: EmulatorProcess) -> None:
    scraper, ctx = _scraper(emulator.uri, ECS_OTEL_STATS_INTERVAL="3600")
    rec = Recorder()
    scraper.consumer = rec
    task = asyncio.create_task(scraper.run())
    try:
        await asyncio.wait_for(rec.arrived.wait(), 15)  # a generous bound on a hang, not a speed check
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    (batch,) = rec.batches
    names = _names(batch)
    assert {"ecs.task.memory.utilized", "container.memory.utilized", "ecs.task.network.rate.rx"} <= names
    assert {"process.memory.usage", "process.cpu.time"} <= names  # the sidecar itself
    resources = [{kv.key: kv.value.string_value for kv in rm.resource.attributes} for rm in batch.resource_metrics]
    assert {r.get("container.name") for r in resources} >= {"prometheus", "ecs-exporter", "nonessential"}
    assert all(r.get("aws.ecs.cluster.name") == "prom-ecs-exporter-sandbox" for r in resources)
    assert all("aws.ecs.service.name" not in r for r in resources)  # absent from this task: not invented
    assert ctx.telemetry.counter("ecs_otel_sidecar_scrapes_total", "").get(scraper="ecs_stats", outcome="ok") == 1


async def test_hanging_endpoint_is_bounded_by_the_timeout(emulator: EmulatorProcess) -> None:
    scraper, ctx = _scraper(emulator.uri, ECS_OTEL_STATS_TIMEOUT="0.5")
    emulator.set_fault("hang")
    request = await asyncio.wait_for(scraper.scrape_once(), 20)
    errors = ctx.telemetry.counter("ecs_otel_sidecar_scrape_errors_total", "")
    assert errors.total(reason="timeout") >= 1
    assert request is not None and "process.memory.usage" in _names(request)  # self metrics survive
    assert "ecs.task.memory.utilized" not in _names(request)
    emulator.set_fault(None)
    request = await asyncio.wait_for(scraper.scrape_once(), 20)
    assert request is not None and "ecs.task.memory.utilized" in _names(request)


def test_interval_of_one_second_accepted_below_refused() -> None:
    ctx = SidecarContext(env={"ECS_OTEL_STATS_INTERVAL": "1"})
    settings = load_settings(EcsStatsScraper.Settings, {}, ctx.env, "scrapers.ecs_stats")
    assert EcsStatsScraper(settings, ctx).settings.interval_s == 1.0
    with pytest.raises(ConfigError):
        EcsStatsScraper(EcsStatsScraper.Settings(interval_s=0.5), ctx)
    assert EcsStatsScraper.Settings().interval_s == 20.0


async def test_http_errors_and_malformed_documents_are_counted_not_fatal(emulator: EmulatorProcess) -> None:
    scraper, ctx = _scraper(emulator.uri)
    errors = ctx.telemetry.counter("ecs_otel_sidecar_scrape_errors_total", "")
    for fault, reason in (("500", "http_500"), ("malformed", "malformed")):
        emulator.set_fault(fault)
        request = await asyncio.wait_for(scraper.scrape_once(), 20)
        assert request is not None and "ecs.task.memory.utilized" not in _names(request)
        assert errors.total(reason=reason) >= 1, fault
    emulator.set_fault(None)
    request = await asyncio.wait_for(scraper.scrape_once(), 20)
    assert request is not None and "ecs.task.memory.utilized" in _names(request)
    scrapes = ctx.telemetry.counter("ecs_otel_sidecar_scrapes_total", "")
    assert scrapes.get(scraper="ecs_stats", outcome="failed") == 2
    assert scrapes.get(scraper="ecs_stats", outcome="ok") == 1
