"""The ``prometheus`` metrics exporter: a scrape endpoint for every series the sidecar holds.

Exporting never sends anything: a batch is merged into an in-memory series table (delta
points accumulated into cumulative series) and the table is served at ``/metrics`` on its own
listener, in Prometheus text 0.0.4 or, when the scraper's ``Accept`` prefers it, OpenMetrics
1.0. Translation follows the OpenTelemetry ↔ Prometheus compatibility specification
(``sidecar.exporters.prometheus._internal``). The table is bounded (``max_series``, refused points counted) and a
series that stops reporting disappears after the same TTL as the cardinality processor's.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import ClassVar

from aiohttp import web
from google.protobuf.message import Message

from sidecar.config import environment_variables as V
from sidecar.config import setting
from sidecar.context import SidecarContext
from sidecar.exporters.prometheus._internal import (
    CONTENT_TYPES,
    Renderer,
    SeriesStore,
    TranslationOptions,
    negotiate,
)
from sidecar.otlp.signals import Signal
from sidecar.pipeline.exporter import Exporter, ExportOutcome

DEFAULT_PORT = 9464
LOOPBACK = "127.0.0.1"


class PrometheusExporter(Exporter):
    signals: ClassVar[frozenset[Signal]] = frozenset({Signal.METRICS})
    name = "prometheus"

    @dataclass
    class Settings:
        port: int = setting(
            DEFAULT_PORT,
            help="Port of the Prometheus scrape endpoint (`/metrics`); 0 picks a free one.",
            env=V.ECS_OTEL_PROMETHEUS_PORT,
        )
        host: str = setting(
            "",
            help="Address the scrape endpoint listens on; empty follows the receivers' `receiver_host` "
            "(`ECS_OTEL_RECEIVER_HOST`; loopback by default).",
            env=V.ECS_OTEL_PROMETHEUS_HOST,
        )
        max_series: int = setting(
            50_000,
            help="Most series held; points of new series beyond it are dropped and counted.",
            env=V.ECS_OTEL_PROMETHEUS_MAX_SERIES,
        )
        series_ttl: float | None = setting(
            None,
            help="Seconds without data after which a series leaves the endpoint; empty uses the cardinality "
            "processor's expiry (5 minutes by default).",
            env=V.ECS_OTEL_PROMETHEUS_SERIES_TTL,
        )
        add_unit_suffix: bool = setting(
            True, help="Append the unit (`_seconds`, `_bytes`, `_ratio`) to names."
        )
        base_units: bool = setting(
            False,
            help="Expose prefixed units in Prometheus base units with values scaled (`ms` → `_seconds`, "
            "`MiB` → `_bytes`); off keeps the Collector's names (`_milliseconds`).",
            env=V.ECS_OTEL_PROMETHEUS_BASE_UNITS,
        )
        add_total_suffix: bool = setting(True, help="Append `_total` to monotonic sums (counters).")
        scope_labels: bool = setting(True, help="Add `otel_scope_name`/`otel_scope_version` labels.")
        target_info: bool = setting(True, help="Expose resource attributes as `target_info` series.")
        resource_labels: list[str] = setting(  # noqa: RUF009 - setting() builds a default_factory
            ["container.name"],
            help="Resource attributes also copied onto every series, for resources that `job`/`instance` "
            "alone do not tell apart (one per container in ECS stats).",
        )
        openmetrics_created: bool = setting(
            True, help="Write `_created` samples (start times) in OpenMetrics output."
        )

    def __init__(self, settings: PrometheusExporter.Settings, context: SidecarContext) -> None:
        self.settings = settings
        self.context = context
        if not 0 <= settings.port <= 65535:
            raise ValueError(f"exporters.prometheus.port must be 0..65535, got {settings.port}")
        ttl = settings.series_ttl if settings.series_ttl is not None else context.series_expiry_s
        self.store = SeriesStore(
            max_series=settings.max_series,
            ttl_s=ttl,
            options=TranslationOptions(
                add_unit_suffix=settings.add_unit_suffix,
                add_total_suffix=settings.add_total_suffix,
                base_units=settings.base_units,
                scope_labels=settings.scope_labels,
                target_info=settings.target_info,
                resource_labels=tuple(settings.resource_labels),
            ),
        )
        self.renderer = Renderer(self.store, created=settings.openmetrics_created)
        self.host = settings.host or context.receiver_host or LOOPBACK
        #: The bound port (differs from the setting when that is 0); set by :meth:`start`.
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._expiry: asyncio.Task[None] | None = None
        t = context.telemetry
        self._m_series = t.gauge(
            "ecs_otel_sidecar_prometheus_series", "Series held by the prometheus exporter."
        )
        self._m_dropped = t.counter(
            "ecs_otel_sidecar_prometheus_dropped_points_total",
            "Data points the prometheus exporter could not hold, by reason.",
            ("reason",),
        )
        self._m_expired = t.counter(
            "ecs_otel_sidecar_prometheus_expired_series_total", "Series removed after the TTL without data."
        )
        self._m_scrapes = t.counter(
            "ecs_otel_sidecar_prometheus_scrapes_total", "Scrapes of the prometheus endpoint.", ("format",)
        )
        self._m_render = t.histogram(
            "ecs_otel_sidecar_prometheus_render_seconds",
            "Time to render one scrape of the prometheus endpoint.",
        )
        t.on_collect(self._collect)

    def _collect(self) -> None:
        self._m_series.set(self.store.series_count)

    def _publish(self) -> None:
        state = self.store.snapshot()
        state.update(host=self.host, port=self.port, url=self.url)
        self.context.status["prometheus"] = state

    def destination(self, signal: Signal) -> str:
        return f"scraped at {self.url}" if self.url else "scrape endpoint (not listening yet)"

    @property
    def url(self) -> str | None:
        if self.port is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    async def export(self, signal: Signal, batch: Message) -> ExportOutcome:
        if signal is not Signal.METRICS:
            return ExportOutcome.fail(f"prometheus exporter takes metrics only, got {signal.value}")
        result = self.store.merge(batch)  # type: ignore[arg-type]
        for reason, n in result.dropped.items():
            self._m_dropped.inc(n, reason=reason)
        self._publish()
        if result.dropped:
            reasons = ", ".join(f"{r}={n}" for r, n in sorted(result.dropped.items()))
            return ExportOutcome.success(rejected=result.dropped_total, reason=reasons)
        return ExportOutcome.success()

    def expire(self) -> int:
        removed = self.store.expire()
        if removed:
            self._m_expired.inc(removed)
        return removed

    async def _expire_loop(self) -> None:
        period = max(0.05, min(self.store.ttl_s / 4, 10.0))
        while True:
            await asyncio.sleep(period)
            if self.expire():
                self._publish()

    async def _metrics(self, request: web.Request) -> web.Response:
        fmt = negotiate(request.headers.get("Accept"))
        began = time.perf_counter()
        self.expire()
        body = await self.renderer.render_async(fmt)
        self._m_render.observe(time.perf_counter() - began)
        self._m_scrapes.inc(format=fmt)
        return web.Response(body=body.encode(), headers={"Content-Type": CONTENT_TYPES[fmt]})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.settings.port, reuse_address=True)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self._expiry = asyncio.create_task(self._expire_loop(), name="prometheus-expiry")
        self._publish()
        self.context.logger.info("prometheus exporter serving %s", self.url)

    async def shutdown(self, deadline: float) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            try:
                await self._expiry
            except asyncio.CancelledError:
                pass
            self._expiry = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
