"""The X-Ray daemon's TCP side: sampling rules and targets, forwarded to X-Ray signed.

X-Ray SDKs and OpenTelemetry's X-Ray remote sampler call ``POST /GetSamplingRules`` and
``POST /SamplingTargets`` on the daemon address without credentials; the sidecar adds the
task's credentials (SigV4, service ``xray``) and relays the answer unchanged.
"""

from __future__ import annotations

import logging

from aiohttp import web

from sidecar.aws import AwsApi, AwsApiError
from sidecar.pipeline.telemetry import Registry

PATHS = ("/GetSamplingRules", "/SamplingTargets")
#: Sampling request bodies are tiny; anything larger is not a sampling request.
MAX_BODY_BYTES = 64 * 1024


class SamplingProxy:
    def __init__(self, api: AwsApi, telemetry: Registry, logger: logging.Logger) -> None:
        self.api = api
        self.logger = logger
        self._requests = telemetry.counter(
            "ecs_otel_sidecar_xray_proxy_requests_total",
            "Sampling requests relayed to X-Ray, by path and status (or error code).",
            ("path", "status"),
        )
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        for path in PATHS:
            app.router.add_post(path, self._relay)
        return app

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port. Raises ``OSError`` when the port is taken."""
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._runner = runner
        server = site._server  # aiohttp exposes the bound sockets only here
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def _relay(self, request: web.Request) -> web.Response:
        body = await request.read()
        path = request.path
        try:
            resp = await self.api.send_signed(
                "POST",
                self.api.endpoint_url + path,
                body,
                {"Content-Type": "application/json"},
                operation=path.lstrip("/"),
            )
        except AwsApiError as err:
            self._requests.inc(path=path, status=err.code)
            return web.json_response({"__type": err.code, "message": err.message}, status=502)
        self._requests.inc(path=path, status=str(resp.status))
        if resp.status == 403:
            operation = "GetSamplingRules" if path == "/GetSamplingRules" else "GetSamplingTargets"
            self.api.log_access_denied(AwsApiError(operation, "AccessDeniedException", "", 403))
        return web.Response(
            status=resp.status,
            body=resp.body,
            content_type=resp.headers.get("Content-Type", "application/json").split(";")[0],
        )
