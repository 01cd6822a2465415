"""OTLP/HTTP receiver (aiohttp): ``POST /v1/traces|metrics|logs``, protobuf or JSON, gzip or deflate.

Answers as the OTLP specification asks: the response is encoded like the request; errors
carry a ``google.rpc.Status``; back-pressure is 429 with ``Retry-After`` so SDK exporters
retry instead of dropping.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from google.protobuf.message import Message
from google.rpc import status_pb2

from sidecar.otlp import json_codec
from sidecar.otlp.signals import Signal
from sidecar.pipeline.consumer import BackPressure
from sidecar.receivers.auth import BearerToken
from sidecar.receivers.base import Receiver
from sidecar.receivers.body import BadEncoding, BodyTooLarge, BoundedInflater
from sidecar.receivers.connections import ConnectionGuard
from sidecar.receivers.ingest import Ingest, PipelineError, Refused
from sidecar.receivers.listen import listening_socket

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_CHUNK = 64 * 1024

log = logging.getLogger("ecs_otel.sidecar.receivers.otlp_http")


class OtlpHttpReceiver(Receiver):
    name = "otlp_http"
    _runner: web.AppRunner | None = None

    def __init__(self, ingest: Ingest, *, host: str, port: int, max_body_bytes: int, token: BearerToken,
                 header_timeout_s: float = 10.0, body_timeout_s: float = 30.0, max_connections: int = 256) -> None:
        super().__init__(ingest, host=host, port=port, max_body_bytes=max_body_bytes, token=token)
        #: Seconds to read a whole request body once its headers are in (408 and ``outcome="timeout"`` after).
        self.body_timeout_s = body_timeout_s
        self.guard = ConnectionGuard(self.name, ingest.telemetry, max_connections=max_connections,
                                     header_timeout_s=header_timeout_s)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body_bytes)
        for signal in Signal:
            app.router.add_post(signal.path, self._handler(signal))
        return app

    async def start(self) -> None:
        # Decompression is ours (bounded while inflating), so aiohttp must hand over the raw bytes.
        self._runner = web.AppRunner(self.app(), access_log=None, auto_decompress=False, handle_signals=False)
        await self._runner.setup()
        sock = listening_socket("OTLP/HTTP receiver", self.host, self.port, 1024)
        self.port = sock.getsockname()[1]
        site = _GuardedSite(self._runner, sock, self.guard)
        await site.start()
        self.listening = True

    async def stop(self) -> None:
        """Stop accepting; requests in progress finish first (aiohttp's graceful shutdown)."""
        self.listening = False
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _handler(self, signal: Signal):  # type: ignore[no-untyped-def]
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(signal, request)

        return handle

    async def _handle(self, signal: Signal, request: web.Request) -> web.StreamResponse:
        self.guard.request_started(request.transport)
        try:
            return await self._handle_request(signal, request)
        finally:
            self.guard.request_finished(request.transport)

    async def _handle_request(self, signal: Signal, request: web.Request) -> web.StreamResponse:
        ctype = request.content_type
        as_json = ctype == JSON
        if not self.token.allows(request.headers.get("Authorization")):
            self.ingest.outcome(signal, "unauthenticated")
            return _error(401, "missing or wrong bearer token", as_json, {"WWW-Authenticate": "Bearer"})
        if ctype not in (PROTOBUF, JSON, "application/protobuf"):
            self.ingest.outcome(signal, "unsupported")
            return _error(415, f"unsupported Content-Type {ctype!r}; use {PROTOBUF} or {JSON}", False)
        encoding = request.headers.get("Content-Encoding", "identity")
        try:
            inflater = BoundedInflater(encoding, self.max_body_bytes)
            if request.content_length is not None and request.content_length > self.max_body_bytes:
                raise BodyTooLarge(self.max_body_bytes)
            content = request.content
            if content.is_eof():
                # The whole body arrived with its headers (a batch that fits the socket reads): take it
                # as it is, without arming the body timer or iterating chunks, which cost as much as a
                # small stage per request. read_nowait() raises a failed stream's error, as reading would.
                data = content.read_nowait()
                if data:
                    inflater.feed(data)
            else:
                async with asyncio.timeout(self.body_timeout_s):
                    async for chunk in content.iter_chunked(_CHUNK):
                        inflater.feed(chunk)
            body = inflater.finish()
        except BodyTooLarge as exc:
            self.ingest.outcome(signal, "too_large")
            return _error(413, str(exc), as_json)
        except BadEncoding as exc:
            self.ingest.outcome(signal, "bad_request" if "unsupported" not in str(exc) else "unsupported")
            return _error(415 if "unsupported" in str(exc) else 400, str(exc), as_json)
        except (ConnectionError, EOFError) as exc:
            # The client hung up before its body was complete: its mistake (or its network's), not ours.
            # Counted, one rate-limited warning line (sidecar.logs.RepeatLimiter), no traceback.
            self.ingest.outcome(signal, "aborted")
            log.warning("client aborted its %s request body (%s: %s)", signal.value, type(exc).__name__, exc,
                        extra={"peer": request.remote})
            return _error(400, "request body aborted", as_json)
        except TimeoutError:
            # A body trickling in slower than the timeout holds a connection and a handler: the client's fault.
            self.ingest.outcome(signal, "timeout")
            log.warning("%s request body not complete within %s s (ECS_OTEL_BODY_READ_TIMEOUT)", signal.value,
                        self.body_timeout_s, extra={"peer": request.remote})
            late = _error(408, f"request body not complete within {self.body_timeout_s} s", as_json)
            late.force_close()
            return late
        except HttpProcessingError as exc:
            # A malformed body framing (bad chunked encoding): also the client's, counted as a bad request.
            self.ingest.outcome(signal, "bad_request")
            log.warning("malformed %s request body (%s)", signal.value, exc.message, extra={"peer": request.remote})
            return _error(400, f"malformed request body: {exc.message}", as_json)
        try:
            batch = await self.ingest.decode(signal, body, as_json)
            if as_json:
                response = self.ingest.screen(signal, batch)
                await self.ingest.deliver(signal, batch, len(body))
            else:
                response = await self.ingest.accept(signal, body, batch)
        except Refused as exc:
            return _error(400 if exc.outcome == "bad_request" else 413, str(exc), as_json)
        except BackPressure as exc:
            retry_after = str(max(1, math.ceil(exc.retry_after_s)))
            return _error(429, f"sidecar is under back-pressure ({exc.reason}); retry later", as_json,
                          {"Retry-After": retry_after})
        except PipelineError:
            return _error(500, "internal error in the sidecar pipeline", as_json)
        return _encode(response, as_json, 200)


class _GuardedSite(web.SockSite):
    """aiohttp's socket site, with every connection wrapped by the receiver's :class:`ConnectionGuard`."""

    def __init__(self, runner: web.AppRunner, sock: socket.socket, guard: ConnectionGuard) -> None:
        super().__init__(runner, sock)
        self._guard = guard

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with the runner (cleanup closes it)
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._guard.protocol_factory(server), sock=self._sock, backlog=self._backlog)


def _encode(message: Message, as_json: bool, status: int, headers: dict[str, str] | None = None) -> web.Response:
    if as_json:
        return web.Response(status=status, body=json_codec.encode(message), content_type=JSON, headers=headers)
    return web.Response(status=status, body=message.SerializeToString(), content_type=PROTOBUF, headers=headers)


def _error(status: int, message: str, as_json: bool, headers: dict[str, str] | None = None) -> web.Response:
    return _encode(status_pb2.Status(code=_GRPC_CODE.get(status, 2), message=message), as_json, status, headers)


#: HTTP status → google.rpc.Code, for the Status body (the spec leaves the code informative only).
_GRPC_CODE = {400: 3, 401: 16, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}
