"""The status server: ``/healthz``, ``/metrics``, ``/status.json``, ``/history.json``, ``/cardinality`` and ``/``.

It reads the running sidecar through :class:`StatusSource` only, so it can be started (and
tested) against anything that answers those questions. The stats history it charts is filled by
a :class:`~sidecar.status.history.HistoryTap` that the wiring puts in front of the scrapers'
consumer; a processor that can report (the cardinality processor) is asked at request time,
not for its last 5-second copy. Every document it serves goes through the sidecar's log masker
first (:func:`sidecar.logs.masker`): sensitive keys redacted, strings masked (an exporter's last
error may quote a URL or a header), so the status page shows what the logs would.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import orjson
from aiohttp import web

from ecs_otel.redaction import TextMasker, redact_data
from sidecar.logs import masker as sidecar_masker
from sidecar.pipeline.telemetry import Registry
from sidecar.receivers.listen import listening_socket
from sidecar.status.drops import drops_by_reason
from sidecar.status.history import StatsHistory
from sidecar.status.page import PAGE

#: A fresh cardinality report is built at most this often, however many pages poll.
CARDINALITY_MIN_AGE_S = 0.5
JSON = "application/json"


@runtime_checkable
class Reporting(Protocol):
    """A component with a live report for the status page (the cardinality processor)."""

    name: str

    def report(self) -> dict[str, Any]: ...


class StatusSource(Protocol):
    telemetry: Registry

    @property
    def processors(self) -> Sequence[object]: ...

    def health(self) -> tuple[bool, list[str]]: ...

    def snapshot(self) -> dict[str, Any]: ...

    def component_status(self, key: str) -> Any: ...


class StatusServer:
    def __init__(
        self,
        source: StatusSource,
        host: str,
        port: int,
        history: StatsHistory | None = None,
        masker: TextMasker | None = None,
    ) -> None:
        self.source = source
        self.masker = masker if masker is not None else sidecar_masker()
        self.host = host
        self.port = port
        self.history = history if history is not None else StatsHistory(source.telemetry)
        self._runner: web.AppRunner | None = None
        self._cardinality: tuple[float, Any] = (float("-inf"), None)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/status.json", self.status_json)
        app.router.add_get("/history.json", self.history_json)
        app.router.add_get("/cardinality", self.cardinality)
        app.router.add_get("/", self.page)
        app.router.add_get("/favicon.ico", self.favicon)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        sock = listening_socket("status server", self.host, self.port, 128)
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def fresh_cardinality(self) -> Any:
        """The cardinality report as of now (at most ``CARDINALITY_MIN_AGE_S`` old), or None without the processor.

        Built on the event loop, like the processor's own work, so it never races a batch.
        """
        at, report = self._cardinality
        now = time.monotonic()
        if report is not None and now - at < CARDINALITY_MIN_AGE_S:
            return report
        reports = [p.report() for p in self.source.processors if isinstance(p, Reporting) and p.name == "cardinality"]
        if reports:  # one instance per signal it is wired into; the metrics one tracks the series
            report = max(reports, key=lambda r: (r.get("metrics_tracked", 0), r.get("series_total", 0)))
        else:
            report = self.source.component_status("cardinality")
        self._cardinality = (now, report)
        return report

    async def healthz(self, request: web.Request) -> web.Response:
        ok, reasons = self.source.health()
        body = redact_data({"status": "healthy" if ok else "unhealthy", "reasons": reasons}, self.masker)
        return web.Response(status=200 if ok else 503, body=orjson.dumps(body), content_type=JSON)

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.source.telemetry.render().encode(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8", "X-Content-Type-Options": "nosniff"},
        )

    async def status_json(self, request: web.Request) -> web.Response:
        """The source's snapshot plus ``history``, ``drops`` and a fresh ``cardinality`` (added keys only)."""
        snap = dict(self.source.snapshot())
        snap["history"] = self.history.snapshot()
        snap["drops"] = drops_by_reason(self.source.telemetry)
        snap["cardinality"] = cardinality = self.fresh_cardinality()
        components = snap.get("components")
        if isinstance(components, dict) and "cardinality" in components:
            # One report, not two: the processor's own copy is refreshed every few seconds, so showing both
            # gave two different overflow totals for the same thing.
            snap["components"] = {**components, "cardinality": cardinality}
        snap = redact_data(orjson.loads(orjson.dumps(snap, default=str)), self.masker)
        return web.Response(body=orjson.dumps(snap), content_type=JSON,
                            headers={"Cache-Control": "no-store"})

    async def history_json(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(self.history.snapshot()), content_type=JSON,
                            headers={"Cache-Control": "no-store"})

    async def cardinality(self, request: web.Request) -> web.Response:
        data = self.fresh_cardinality()
        if data is None:
            return web.Response(status=404, body=orjson.dumps({"error": "no cardinality processor running"}),
                                content_type=JSON)
        data = redact_data(orjson.loads(orjson.dumps(data, default=str)), self.masker)
        return web.Response(body=orjson.dumps(data), content_type=JSON, headers={"Cache-Control": "no-store"})

    async def favicon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html", charset="utf-8",
                            headers={"Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
                                     "script-src 'unsafe-inline'", "Cache-Control": "no-store"})
