"""Tiny instrumented servers for the correlation and retrofit tests, run as subprocesses.

``python -m tests.ecs_otel.logging.apps.servers aiohttp|flask|uvicorn|uvicorn-asgi``: binds 127.0.0.1 on a free port, prints
``PORT <n>`` on stderr, serves ``GET /work`` (which logs ``"in handler"`` with an ``extra=`` field) and
``GET /quit``, and logs through ``configure_logging`` as JSON lines on stdout.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from ecs_otel.logging import configure_logging

log = logging.getLogger("app.handler")


def _announce(port: int) -> None:
    sys.stderr.write(f"PORT {port}\n")
    sys.stderr.flush()


def _exit_soon() -> None:
    threading.Timer(0.2, lambda: os._exit(0)).start()


def run_aiohttp() -> None:
    import asyncio

    from aiohttp import web
    from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor

    AioHttpServerInstrumentor().instrument()

    async def work(request: web.Request) -> web.Response:
        log.info("in handler %s", "aiohttp", extra={"route": "/work"})
        await asyncio.sleep(0)
        log.warning("after await")
        return web.Response(text="ok")

    async def quit_(request: web.Request) -> web.Response:
        _exit_soon()
        return web.Response(text="bye")

    async def main() -> None:
        app = web.Application()
        app.add_routes([web.get("/work", work), web.get("/quit", quit_)])
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        _announce(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


def run_flask() -> None:
    from flask import Flask, redirect
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from werkzeug.serving import make_server

    app = Flask("flaskapp")
    FlaskInstrumentor().instrument_app(app)

    @app.get("/work")
    def work() -> str:
        log.info("in handler %s", "flask", extra={"route": "/work"})
        log.warning("after work")
        return "ok"

    @app.get("/moved")
    def moved() -> Any:  # werkzeug colours a 3xx request line green in its access log
        return redirect("/work")

    @app.get("/quit")
    def quit_() -> str:
        _exit_soon()
        return "bye"

    server = make_server("127.0.0.1", 0, app, threaded=True)
    _announce(server.server_port)
    server.serve_forever()


def run_uvicorn(instrumented: bool = False) -> None:
    """A raw ASGI app under uvicorn; ``instrumented``: wrapped in the OpenTelemetry ASGI middleware (as FastAPI's
    and Starlette's instrumentations do), so uvicorn's access line is written inside the request's span."""
    import uvicorn

    async def asgi(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        if scope["path"] == "/quit":
            _exit_soon()
        log.info("in handler %s", "uvicorn")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # before announcing the port: an early client is queued, not refused
    _announce(sock.getsockname()[1])
    # uvicorn.Config applies uvicorn's own dictConfig *after* configure_logging ran: the retrofit must undo it.
    app: Any = asgi
    if instrumented:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        app = OpenTelemetryMiddleware(asgi)
    config = uvicorn.Config(app, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    trace.set_tracer_provider(TracerProvider())
    configure_logging(fmt="json", service="svc-under-test", ecs_context={"cluster": "c", "task_id": "t"})
    {"aiohttp": run_aiohttp, "flask": run_flask, "uvicorn": run_uvicorn,
     "uvicorn-asgi": lambda: run_uvicorn(instrumented=True)}[sys.argv[1]]()
