"""Test harness: an event loop on a thread hosting the exporter, an OTLP/HTTP door to it, and a
real Prometheus server process pointed at its endpoint."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from sidecar.exporters.prometheus.exporter import PrometheusExporter
from sidecar.otlp.signals import Signal

T = TypeVar("T")
PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
SKIP_REASON = (
    "the `prometheus` binary is not installed (Debian: apt-get install prometheus; .ci/run installs it)"
)


class LoopThread:
    """An asyncio loop on its own thread, so synchronous clients (the OTel SDK, Prometheus) can run beside it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class OtlpDoor:
    """The smallest OTLP/HTTP metrics receiver: protobuf in, straight into the exporter."""

    def __init__(self, exporter: PrometheusExporter) -> None:
        self.exporter = exporter
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def consume(self, signal: Signal, batch: ExportMetricsServiceRequest) -> None:
        await self.exporter.export(signal, batch)

    async def _ingest(self, request: web.Request) -> web.Response:
        batch = ExportMetricsServiceRequest()
        batch.ParseFromString(await request.read())
        await self.consume(Signal.METRICS, batch)
        return web.Response(
            body=ExportMetricsServiceResponse().SerializeToString(), content_type="application/x-protobuf"
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/metrics", self._ingest)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = int(self.runner.addresses[0][1])

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def http_get(
    url: str, headers: dict[str, str] | None = None, timeout: float = 5.0
) -> tuple[int, dict[str, str], str]:
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, dict(resp.headers.items()), resp.read().decode()


#: The line Prometheus logs (at info level) once its web listener is bound, with the address it got.
_LISTENING = re.compile(r'msg="Listening on" address=127\.0\.0\.1:(\d+)\s')


class PrometheusServer:
    """A real Prometheus on loopback, scraping ``target`` every second; stopped by PID.

    It listens on port 0 and the harness reads the port it got from its log, so no port is picked
    beforehand and released (another process could take it before Prometheus binds it). ``port``
    and ``url`` are known once :meth:`wait_ready` has returned.
    """

    def __init__(self, workdir: Path, target: str, *, job: str = "sidecar") -> None:
        assert PROMETHEUS is not None, SKIP_REASON
        self.port = 0
        self.url = ""
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            f"scrape_configs:\n  - job_name: {job}\n    honor_labels: true\n"
            f"    static_configs:\n      - targets: ['{target}']\n"
        )
        self.log = (workdir / "prometheus.log").open("wb")
        self.proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'tsdb'}",
                "--web.listen-address=127.0.0.1:0",
                "--log.level=info",  # the "Listening on" line, with the port, is an info line
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def _bound_port(self) -> int:
        """The port Prometheus said it listens on, 0 while it has not said so yet."""
        self.log.flush()
        found = _LISTENING.search(Path(self.log.name).read_text(errors="replace"))
        return int(found.group(1)) if found else 0

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}: {self.logs()}")
            if not self.port:
                self.port = self._bound_port()
                if not self.port:
                    time.sleep(0.2)
                    continue
                self.url = f"http://127.0.0.1:{self.port}"
            try:
                if http_get(self.url + "/-/ready", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready within {timeout}s: {self.logs()}")

    def query(self, promql: str) -> list[dict[str, Any]]:
        _, _, body = http_get(self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        doc = json.loads(body)
        assert doc["status"] == "success", doc
        return doc["data"]["result"]

    def wait_for(self, promql: str, timeout: float = 45.0) -> list[dict[str, Any]]:
        """Poll until ``promql`` returns something (scrapes happen every second)."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(promql)
            if result or time.monotonic() > deadline:
                return result
            time.sleep(0.5)

    def targets(self) -> list[dict[str, Any]]:
        return json.loads(http_get(self.url + "/api/v1/targets")[2])["data"]["activeTargets"]

    def logs(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def promtool_check(text: str) -> tuple[int, str]:
    assert PROMTOOL is not None
    done = subprocess.run(
        [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stdout + done.stderr
