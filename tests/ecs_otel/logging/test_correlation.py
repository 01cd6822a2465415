"""Trace correlation: inside SDK spans, asyncio tasks, and real instrumented aiohttp/Flask/uvicorn servers."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from ecs_otel.logging import JsonFormatter
from tests.support.paths import REPO_ROOT

from .support import strict_loads

ROOT = REPO_ROOT


@pytest.fixture
def capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(service="svc"))
    log = logging.getLogger("tests.correlation")
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    yield log, stream
    log.handlers.clear()


def objs(stream: io.StringIO) -> list[dict]:
    return [strict_loads(line) for line in stream.getvalue().splitlines()]


def ids(span: trace.Span) -> tuple[str, str]:
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def test_sdk_spans_nested_and_outside(capture: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = capture
    tracer = TracerProvider().get_tracer("t")
    log.info("before")
    with tracer.start_as_current_span("outer") as outer:
        log.info("outer")
        with tracer.start_as_current_span("inner") as inner:
            log.info("inner")
        log.info("outer again")
    log.info("after")
    before, o1, i1, o2, after = objs(stream)
    for plain in (before, after):
        assert not {"trace_id", "span_id", "xray_trace_id", "trace_sampled"} & set(plain)
    tid, osid = ids(outer)
    _, isid = ids(inner)
    assert (o1["trace_id"], o1["span_id"]) == (tid, osid)
    assert (i1["trace_id"], i1["span_id"]) == (tid, isid)
    assert (o2["trace_id"], o2["span_id"]) == (tid, osid)
    assert o1["xray_trace_id"] == f"1-{tid[:8]}-{tid[8:]}"
    assert o1["trace_sampled"] is True


def test_unsampled_span_still_correlated(capture: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = capture
    tracer = TracerProvider(sampler=ALWAYS_OFF).get_tracer("t")
    with tracer.start_as_current_span("dropped") as span:
        log.info("x")
    [obj] = objs(stream)
    assert obj["trace_id"] == ids(span)[0]
    assert obj["trace_sampled"] is False


async def test_asyncio_tasks_and_threads_each_see_their_own_span(capture: tuple[logging.Logger, io.StringIO]) -> None:
    log, stream = capture
    tracer = TracerProvider().get_tracer("t")
    expected: dict[str, str] = {}

    async def task(n: int) -> None:
        with tracer.start_as_current_span(f"task{n}") as span:
            expected[f"task{n}"] = ids(span)[1]
            for _ in range(3):
                await asyncio.sleep(0)
                log.info("task%d", n)

    async def main() -> None:
        await asyncio.gather(*(task(n) for n in range(5)))

    await main()

    def worker(n: int) -> None:
        with tracer.start_as_current_span(f"thread{n}") as span:
            expected[f"thread{n}"] = ids(span)[1]
            for _ in range(3):
                log.info("thread%d", n)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    got = objs(stream)
    assert len(got) == 27
    for obj in got:
        assert obj["span_id"] == expected[obj["message"]]


# -- real servers, instrumented, on loopback -----------------------------------------------------------------

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


class Server:
    def __init__(self, kind: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_"))}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.ecs_otel.logging.apps.servers", kind],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.port = self._read_port()

    def _read_port(self) -> int:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.proc.stderr.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=60)
        if not box or not box[0].startswith("PORT "):
            self.proc.kill()
            raise AssertionError(f"server did not start: {box!r}")
        return int(box[0].split()[1])

    def get(self, path: str, headers: dict[str, str] | None = None) -> str:
        deadline = time.monotonic() + 30
        while True:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", headers=headers or {})
                with urllib.request.urlopen(req, timeout=10) as resp:
                    return resp.read().decode()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> tuple[list[dict], str]:
        try:
            try:
                self.get("/quit")
            except OSError:
                pass
            out, err = self.proc.communicate(timeout=30)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.communicate(timeout=10)
        return [strict_loads(line) for line in out.splitlines()], err


@pytest.mark.parametrize("kind", ["aiohttp", "flask"])
def test_request_handler_lines_carry_the_server_span(kind: str) -> None:
    server = Server(kind)
    try:
        assert server.get("/work", {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01"}) == "ok"
        assert server.get("/work") == "ok"  # no incoming context: a new trace
    finally:
        lines, err = server.stop()
    handler = [o for o in lines if o["logger"] == "app.handler"]
    assert [o["message"] for o in handler] == [f"in handler {kind}", handler[1]["message"]] * 2
    first, second, third, fourth = handler
    assert first["trace_id"] == TRACE_ID and second["trace_id"] == TRACE_ID
    assert first["xray_trace_id"] == f"1-{TRACE_ID[:8]}-{TRACE_ID[8:]}"
    assert first["span_id"] != PARENT_SPAN  # the server span, child of the caller's
    assert first["span_id"] == second["span_id"]
    assert first["trace_sampled"] is True
    assert first["route"] == "/work" and first["service"] == "svc-under-test"
    assert first["ecs"] == {"cluster": "c", "task_id": "t"}
    assert third["trace_id"] != TRACE_ID and len(third["trace_id"]) == 32
    assert third["trace_id"] == fourth["trace_id"]
    assert "Traceback" not in err


def test_werkzeug_access_lines_are_json_without_terminal_colours() -> None:
    """werkzeug colours 3xx/4xx/5xx request lines with ANSI codes; in a JSON ``message`` they are noise.

    The access line carries no trace id: werkzeug writes it after Flask's span has ended (the
    choice and the fix are in docs/troubleshooting.md, "Access logs"), which this test also pins.
    """
    server = Server("flask")
    try:
        assert server.get("/moved", {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01"}) == "ok"
    finally:
        lines, _ = server.stop()
    access = [o for o in lines if o["logger"] == "werkzeug" and "GET /moved" in o["message"]]
    assert len(access) == 1
    assert "\x1b" not in access[0]["message"] and access[0]["message"].endswith('"GET /moved HTTP/1.1" 302 -')
    assert "trace_id" not in access[0]


def test_uvicorn_lines_become_json_once() -> None:
    server = Server("uvicorn")
    try:
        assert server.get("/work") == "ok"
    finally:
        lines, err = server.stop()
    started = [o for o in lines if o["logger"] == "uvicorn.error" and o["message"].startswith("Started server")]
    access = [o for o in lines if o["logger"] == "uvicorn.access"]
    assert len(started) == 1  # written once: uvicorn's handler removed, propagation to our root handler
    assert len(access) == 2  # /work and /quit
    assert '"GET /work HTTP/1.1" 200' in access[0]["message"]
    assert access[0]["http.response.status_code"] == 200 and access[0]["url.path"] == "/work"
    assert all(o["service"] == "svc-under-test" for o in lines)
    assert "INFO:" not in err and "uvicorn" not in err.lower()  # uvicorn's own text handlers are gone


def test_uvicorn_access_lines_carry_the_request_span_under_an_asgi_instrumentation() -> None:
    """uvicorn writes its access line when the response starts, from inside the app call: with the ASGI
    middleware (what FastAPI's and Starlette's instrumentations install) that is inside the request's
    span, so the line is correlated (docs/troubleshooting.md, "Access logs", says so; this pins it)."""
    server = Server("uvicorn-asgi")
    try:
        assert server.get("/work", {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01"}) == "ok"
    finally:
        lines, err = server.stop()
    handler = [o for o in lines if o["logger"] == "app.handler"]  # /work's line, then /quit's
    access = [o for o in lines if o["logger"] == "uvicorn.access" and '"GET /work HTTP/1.1" 200' in o["message"]]
    assert len(handler) == 2 and len(access) == 1, lines
    assert handler[0]["trace_id"] == TRACE_ID and access[0]["trace_id"] == TRACE_ID
    assert access[0]["xray_trace_id"] == f"1-{TRACE_ID[:8]}-{TRACE_ID[8:]}"
    assert "Traceback" not in err
