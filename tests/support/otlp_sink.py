"""A recording OTLP/HTTP backend for tests, run as a real process.

``python -m tests.support.otlp_sink --port 0 --port-file F`` listens on 127.0.0.1, stores
every OTLP/HTTP request it gets (protobuf or JSON, gzip or not) and answers with scripted
statuses. Test code talks to it over HTTP:

- ``GET /received/<signal>`` → ``{"requests": [{"headers": {...}, "body": <OTLP JSON>}]}``
- ``POST /script`` ``{"statuses": [503, 503], "delay_s": 0, "retry_after": "1"}`` →
  the next requests get those statuses (then 200), each after ``delay_s``.
- ``POST /reset`` forgets everything.

:class:`SinkProcess` starts and stops it from a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict, Parse

from tests.support.process import stop_process, wait_for_port_file

SIGNALS = {"traces", "metrics", "logs"}


def _message(signal: str):  # type: ignore[no-untyped-def]
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    return {
        "traces": ExportTraceServiceRequest,
        "metrics": ExportMetricsServiceRequest,
        "logs": ExportLogsServiceRequest,
    }[signal]()


def run(port: int, port_file: str | None) -> None:
    from aiohttp import web

    received: dict[str, list[dict[str, Any]]] = {s: [] for s in SIGNALS}
    script: dict[str, Any] = {"statuses": [], "delay_s": 0.0, "retry_after": None}

    async def ingest(request: web.Request) -> web.Response:
        signal = request.match_info["signal"]
        if signal not in SIGNALS:
            return web.Response(status=404)
        body = await request.read()
        if script["delay_s"]:
            await asyncio.sleep(script["delay_s"])
        if script["statuses"]:
            status = script["statuses"].pop(0)
            headers = {"Retry-After": str(script["retry_after"])} if script["retry_after"] else {}
            return web.Response(status=status, headers=headers)
        # aiohttp has already undone Content-Encoding (gzip/deflate) by the time we read the body.
        msg = _message(signal)
        if request.content_type == "application/json":
            Parse(body.decode(), msg)
        else:
            msg.ParseFromString(body)
        received[signal].append({"headers": dict(request.headers), "body": MessageToDict(msg)})
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def get_received(request: web.Request) -> web.Response:
        return web.json_response({"requests": received.get(request.match_info["signal"], [])})

    async def set_script(request: web.Request) -> web.Response:
        script.update(await request.json())
        return web.json_response(script)

    async def reset(request: web.Request) -> web.Response:
        for v in received.values():
            v.clear()
        script.update({"statuses": [], "delay_s": 0.0, "retry_after": None})
        return web.json_response({})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/{signal}", ingest)
    app.router.add_get("/received/{signal}", get_received)
    app.router.add_post("/script", set_script)
    app.router.add_post("/reset", reset)

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # before the port is announced, so an early client is queued, not refused
    if port_file:
        tmp = port_file + ".tmp"  # written whole, then renamed: a reader never sees an empty file
        Path(tmp).write_text(str(sock.getsockname()[1]))
        os.replace(tmp, port_file)
    web.run_app(app, sock=sock, print=None, handle_signals=True)


class SinkProcess:
    """Start the sink as a subprocess; ``url`` is its base (append ``/v1/traces``)."""

    def __init__(self, tmp_path: Path) -> None:
        port_file = tmp_path / f"sink-port-{os.getpid()}-{time.monotonic_ns()}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.otlp_sink", "--port", "0", "--port-file", str(port_file)],
            cwd=Path(__file__).resolve().parents[2],
        )
        deadline = time.monotonic() + 20
        try:
            self.port = int(wait_for_port_file(self.proc, port_file, "otlp sink", 20))
        except RuntimeError:
            self.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"
        self._wait_ready(deadline)

    def _wait_ready(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                self.received("traces")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("otlp sink not answering")

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def received(self, signal: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/received/{signal}")["requests"]

    def script(self, statuses: list[int], delay_s: float = 0.0, retry_after: str | None = None) -> None:
        self._call("POST", "/script", {"statuses": statuses, "delay_s": delay_s, "retry_after": retry_after})

    def reset(self) -> None:
        self._call("POST", "/reset", {})

    def wait_for(self, signal: str, predicate, timeout_s: float = 20.0) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
        """Poll until ``predicate(requests)`` is true; return the requests (or fail after timeout)."""
        deadline = time.monotonic() + timeout_s
        got: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            got = self.received(signal)
            if predicate(got):
                return got
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {signal}; last saw {len(got)} requests")

    def stop(self) -> None:
        stop_process(self.proc)


def spans(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """All spans in OTLP-JSON requests, each with its resource attributes under ``_resource``."""
    out = []
    for r in requests:
        for rs in r["body"].get("resourceSpans", []):
            res = {a["key"]: a["value"] for a in rs.get("resource", {}).get("attributes", [])}
            for ss in rs.get("scopeSpans", []):
                for s in ss.get("spans", []):
                    out.append({**s, "_resource": res})
    return out


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    a = p.parse_args()
    run(a.port, a.port_file)
