"""``ecs_stats``: ECS task and container resource metrics from the task metadata endpoint v4.

Every ``interval_s`` (first scrape at once) it fetches ``/task`` and ``/task/stats`` together,
each under a timeout, and hands one OTLP metrics request to the pipeline: one resource for the
task, one per container, one for the sidecar's own process. What it fixes compared with the
collector's ``awsecscontainermetricsreceiver`` is listed in :mod:`sidecar.scrapers.ecs_stats._internal.derive` and
:mod:`sidecar.scrapers.ecs_stats._internal.model` (working set on cgroup v2, storage op case, shared ENI counted once,
vCPU everywhere, the "no limit" sentinel, a stopped container not costing the scrape).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

from ecs_otel.metadata import MetadataError, parse_task
from ecs_otel.resource import task_attributes
from sidecar.config import ConfigError, setting
from sidecar.config import environment_variables as V
from sidecar.context import SidecarContext
from sidecar.otlp.signals import Signal, item_count
from sidecar.pipeline.consumer import BackPressure
from sidecar.scrapers.base import Scraper
from sidecar.scrapers.ecs_stats._internal.derive import StatsCalculator
from sidecar.scrapers.ecs_stats._internal.model import StatsFormatError, parse_task_stats
from sidecar.scrapers.ecs_stats._internal.otlp import build_request
from sidecar.scrapers.ecs_stats._internal.process import ProcessMetrics

ENV_URI_V4 = "ECS_CONTAINER_METADATA_URI_V4"
MIN_INTERVAL_S = 1.0

_log = logging.getLogger(__name__)


class EcsStatsScraper(Scraper):
    name = "ecs_stats"

    @dataclass
    class Settings:
        interval_s: float = setting(
            20.0, help="Seconds between ECS task stats scrapes (1 or more); the first is immediate.",
            env=V.ECS_OTEL_STATS_INTERVAL,
        )
        timeout_s: float = setting(
            5.0, help="Seconds allowed for each metadata request of a scrape (capped at the interval).",
            env=V.ECS_OTEL_STATS_TIMEOUT,
        )
        endpoint: str = setting(
            "", help="Metadata endpoint base URL; empty means ECS_CONTAINER_METADATA_URI_V4.",
        )
        process_metrics: bool = setting(
            True, help="Also report the sidecar's own process (CPU time, memory, threads, file descriptors).",
            env=V.ECS_OTEL_STATS_PROCESS_METRICS,
        )

    def __init__(self, settings: EcsStatsScraper.Settings, context: SidecarContext) -> None:
        super().__init__()
        if not settings.interval_s >= MIN_INTERVAL_S:
            raise ConfigError("scrapers.ecs_stats.interval_s", "a number of seconds, 1 or more", settings.interval_s)
        if not settings.timeout_s > 0:
            raise ConfigError("scrapers.ecs_stats.timeout_s", "a positive number of seconds", settings.timeout_s)
        self.settings = settings
        self.context = context
        env: Mapping[str, str] = context.env or os.environ
        self.endpoint = (settings.endpoint or env.get(ENV_URI_V4, "")).rstrip("/")
        self.timeout_s = min(settings.timeout_s, settings.interval_s)
        self.calculator = StatsCalculator(fallback_start_ns=time.time_ns())
        self.process = ProcessMetrics() if settings.process_metrics else None
        t = context.telemetry
        self._scrapes = t.counter(
            "ecs_otel_sidecar_scrapes_total", "Scrapes attempted, by outcome (ok, partial, failed, error).",
            ("scraper", "outcome"),
        )
        self._errors = t.counter(
            "ecs_otel_sidecar_scrape_errors_total", "Scrape request failures by document and reason.",
            ("scraper", "document", "reason"),
        )
        self._dropped = t.counter(
            "ecs_otel_sidecar_scraper_dropped_points_total",
            "Data points a scraper produced that the pipeline refused (back-pressure).", ("scraper",),
        )
        self._duration = t.histogram(
            "ecs_otel_sidecar_scrape_duration_seconds", "Wall time of one scrape.", ("scraper",)
        )
        self._last_problem: str | None = None
        self._session: aiohttp.ClientSession | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            self._session = session
            next_at = loop.time()
            try:
                while True:
                    try:
                        await self.scrape_once()
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # a bug or an unforeseen document must not end the scraping
                        self._scrapes.inc(scraper=self.name, outcome="error")
                        _log.exception("ECS stats scrape failed")
                    next_at += self.settings.interval_s
                    now = loop.time()
                    if next_at < now:  # fell behind (slow endpoint): skip missed ticks, don't burst
                        next_at = now + self.settings.interval_s
                    await asyncio.sleep(next_at - now)
            finally:
                self._session = None

    async def scrape_once(self) -> ExportMetricsServiceRequest | None:
        """One scrape, handed to the consumer; returns the request (for tests) or ``None`` if empty."""
        started = time.perf_counter()
        request = ExportMetricsServiceRequest()
        outcome = "ok"
        process_attrs: dict[str, Any] = dict(self.context.task_attributes)
        if self.endpoint:
            task_doc, stats_doc = await asyncio.gather(self._get("/task"), self._get("/task/stats"))
            if task_doc is None:
                outcome = "failed"
            else:
                try:
                    task = parse_task(task_doc)
                except (MetadataError, ValueError, TypeError) as e:
                    self._problem("task", "malformed", e)
                    task = None
                    outcome = "failed"
                if task is not None:
                    stats = {}
                    if stats_doc is None:
                        outcome = "partial"
                    else:
                        try:
                            stats = parse_task_stats(stats_doc)
                        except StatsFormatError as e:
                            self._problem("task/stats", "malformed", e)
                            outcome = "partial"
                    values = self.calculator.compute(task, stats, time.time_ns(), task_doc)
                    build_request(values, request)
                    process_attrs = task_attributes(task)
                    for problem in values.problems:  # the rest of the scrape was still reported
                        self._problem("task/stats", "container_data", problem)
                        outcome = "partial"
        if self.process is not None:
            self.process.write(request, process_attrs)
        if outcome == "ok":
            self._last_problem = None
        self._scrapes.inc(scraper=self.name, outcome=outcome)
        self._duration.observe(time.perf_counter() - started, scraper=self.name)
        if not request.resource_metrics:
            return None
        if self.consumer is not None:
            try:
                await self.consumer.consume(Signal.METRICS, request)
            except BackPressure:
                self._dropped.inc(item_count(Signal.METRICS, request), scraper=self.name)
        return request

    async def _get(self, path: str) -> Any:
        session = self._session
        own = session is None
        if session is None:
            session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
        try:
            async with session.get(self.endpoint + path) as resp:
                if resp.status != 200:
                    self._problem(path.lstrip("/"), f"http_{resp.status}", None)
                    return None
                return await resp.json(content_type=None)
        except TimeoutError as e:
            self._problem(path.lstrip("/"), "timeout", e)
        except aiohttp.ClientError as e:
            self._problem(path.lstrip("/"), "connection", e)
        except ValueError as e:
            self._problem(path.lstrip("/"), "malformed", e)
        finally:
            if own:
                await session.close()
        return None

    def _problem(self, document: str, reason: str, error: BaseException | str | None) -> None:
        self._errors.inc(scraper=self.name, document=document, reason=reason)
        key = f"{document}:{reason}"
        if key != self._last_problem:  # one warning per new kind of failure, not one per scrape
            _log.warning("ECS stats scrape: %s %s (%s)", document, reason, error or "")
            self._last_problem = key
