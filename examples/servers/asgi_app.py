"""A framework-free ASGI app for the uvicorn example.

    uvicorn examples.servers.asgi_app:app --host 127.0.0.1 --port 8000 --workers 2

uvicorn starts its workers by *spawning* fresh interpreters, so each imports this module and runs
``ecs_otel.auto`` itself (its own ``service.instance.id``); with ``--reload`` or a single process
nothing changes either. When ``opentelemetry-instrumentation-asgi`` is installed its middleware
makes the server spans (and a framework such as Starlette or FastAPI is instrumented through its
own entry point); without it, a minimal middleware below does, so the example needs no extra package.
"""

import ecs_otel.auto  # noqa: F401, I001 - first

import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

log = logging.getLogger("servers.asgi")
_tracer = trace.get_tracer("examples.servers.asgi_app")


async def _hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = json.dumps({"worker_pid": os.getpid(), "path": scope.get("path")}).encode()
    log.info("hello", extra={"worker_pid": os.getpid()})
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _server_spans(scope: Scope, receive: Receive, send: Send) -> None:
    """One SERVER span per HTTP request (what the asgi instrumentation does, much reduced)."""
    if scope["type"] != "http":
        await _hello(scope, receive, send)
        return
    status: dict[str, int] = {}

    async def send_status(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status["code"] = message["status"]
        await send(message)

    with _tracer.start_as_current_span(f"{scope['method']} {scope['path']}", kind=SpanKind.SERVER,
                                       attributes={"http.request.method": scope["method"],
                                                   "url.path": scope["path"]}) as span:
        await _hello(scope, receive, send_status)
        span.set_attribute("http.response.status_code", status.get("code", 0))


try:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
except ImportError:
    app = _server_spans
else:
    app = OpenTelemetryMiddleware(_hello)
