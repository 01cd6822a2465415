"""The status server: ``/healthz``, ``/metrics``, ``/status.json``, ``/cardinality`` and the status page ``/``.

It reads the running sidecar through :class:`StatusSource` only, so it can be started (and
tested) against anything that answers those two questions.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson
from aiohttp import web

from sidecar.receivers.listen import listening_socket
from sidecar.selftelemetry import Registry
from sidecar.status.page import PAGE


class StatusSource(Protocol):
    telemetry: Registry

    def health(self) -> tuple[bool, list[str]]: ...

    def snapshot(self) -> dict[str, Any]: ...

    def component_status(self, key: str) -> Any: ...


class StatusServer:
    def __init__(self, source: StatusSource, host: str, port: int) -> None:
        self.source = source
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/status.json", self.status_json)
        app.router.add_get("/cardinality", self.cardinality)
        app.router.add_get("/", self.page)
        app.router.add_get("/favicon.ico", lambda _: web.Response(status=204))
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

    async def healthz(self, request: web.Request) -> web.Response:
        ok, reasons = self.source.health()
        body = {"status": "healthy" if ok else "unhealthy", "reasons": reasons}
        return web.Response(status=200 if ok else 503, body=orjson.dumps(body), content_type="application/json")

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(
            body=self.source.telemetry.render().encode(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8", "X-Content-Type-Options": "nosniff"},
        )

    async def status_json(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(self.source.snapshot(), default=str), content_type="application/json")

    async def cardinality(self, request: web.Request) -> web.Response:
        data = self.source.component_status("cardinality")
        if data is None:
            return web.Response(status=404, body=orjson.dumps({"error": "no cardinality processor running"}),
                                content_type="application/json")
        return web.Response(body=orjson.dumps(data, default=str), content_type="application/json")

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html", charset="utf-8",
                            headers={"Content-Security-Policy": "default-src 'self'; style-src 'unsafe-inline'; "
                                     "script-src 'unsafe-inline'"})
