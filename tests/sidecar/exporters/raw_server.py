"""An in-process HTTP server that keeps request bodies exactly as sent (no transparent gunzip).

The shared ``otlp_sink`` decodes bodies for convenience; checks on the wire bytes themselves
(gzip framing, the exact payload a signature covers) need the raw request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class RawRequest:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class RawServer:
    responses: list[tuple[int, bytes, str]] = field(default_factory=list)
    requests: list[RawRequest] = field(default_factory=list)
    url: str = ""
    _runner: Any = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(RawRequest(request.path, dict(request.headers), body))
        status, payload, ctype = (
            self.responses.pop(0) if self.responses else (200, b"", "application/x-protobuf")
        )
        return web.Response(status=status, body=payload, content_type=ctype)

    async def __aenter__(self) -> RawServer:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, auto_decompress=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()
