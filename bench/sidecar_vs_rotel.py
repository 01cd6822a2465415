"""The sidecar against rotel: OTLP/HTTP in, OTLP/HTTP out, spans per CPU-second and peak RSS.

Same load for both collectors, one after the other in one run:

- clients: 1 or 2 separate processes, each keeping several keep-alive connections busy with
  pre-encoded ``ExportTraceServiceRequest`` bodies of 100 spans (uncompressed protobuf, as the
  OpenTelemetry SDKs send by default), bounded by a duration and a request count;
- collector: ``python -m sidecar`` (``otlp`` exporter, resource enrichment on with task
  attributes from the ECS metadata emulator) or ``rotel-agent start`` (pip package ``rotel``;
  OTLP HTTP receiver, ``otlp`` exporter over HTTP); both gzip their exports (their default);
- backend: a null receiver process that answers 200 to everything and counts bytes.

Measured for the collector process (and any children): CPU seconds (user + system, from
psutil) from the first request until its exports have drained, and peak RSS (the kernel's
``VmHWM``, so short peaks between samples are not missed). Spans per CPU-second =
spans the collector accepted (2xx) / CPU seconds. Ratios are sidecar / rotel at the same
client count.

Run: ``python -m bench.sidecar_vs_rotel [--quick]``; ``run(quick)`` returns the rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench import report

ROOT = Path(__file__).resolve().parents[1]
SPANS_PER_REQUEST = 100
CONNECTIONS_PER_CLIENT = 4
START_TIMEOUT_S = 30.0
DRAIN_IDLE_S = 1.0
DRAIN_TIMEOUT_S = 20.0


# --------------------------------------------------------------------------- request bodies


def build_bodies(variants: int = 16, spans: int = SPANS_PER_REQUEST) -> list[bytes]:
    """Pre-encoded OTLP trace requests that look like an instrumented web service's."""
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

    def kv(k: str, v: Any) -> KeyValue:
        if isinstance(v, int):
            return KeyValue(key=k, value=AnyValue(int_value=v))
        return KeyValue(key=k, value=AnyValue(string_value=str(v)))

    rnd = random.Random(7)
    bodies = []
    for b in range(variants):
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        rs.resource.attributes.extend(
            [
                kv("service.name", "checkout"),
                kv("service.instance.id", f"worker-{b % 4}"),
                kv("telemetry.sdk.name", "opentelemetry"),
                kv("telemetry.sdk.language", "python"),
                kv("telemetry.sdk.version", "1.45.0"),
            ]
        )
        ss = rs.scope_spans.add()
        ss.scope.name = "opentelemetry.instrumentation.flask"
        ss.scope.version = "0.66b0"
        now = time.time_ns()
        for i in range(spans):
            s = ss.spans.add()
            s.trace_id = rnd.randbytes(16)
            s.span_id = rnd.randbytes(8)
            s.parent_span_id = rnd.randbytes(8)
            s.name = f"GET /api/items/{i % 10}"
            s.kind = 2
            s.start_time_unix_nano = now + i * 1000
            s.end_time_unix_nano = s.start_time_unix_nano + rnd.randint(10_000, 9_000_000)
            s.attributes.extend(
                [
                    kv("http.request.method", "GET"),
                    kv("url.path", f"/api/items/{i}"),
                    kv("url.scheme", "http"),
                    kv("http.route", "/api/items/<id>"),
                    kv("http.response.status_code", 200),
                    kv("server.address", "checkout.internal"),
                    kv("network.protocol.version", "1.1"),
                    kv("user_agent.original", "python-requests/2.32.3"),
                ]
            )
            s.status.code = 0
        bodies.append(req.SerializeToString())
    return bodies


# --------------------------------------------------------------------------- null receiver


class _NullSink(asyncio.Protocol):
    """HTTP/1.1 keep-alive server that reads each request body and answers an empty 200."""

    stats = {"requests": 0, "bytes": 0, "last": 0.0}
    _OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]
        self.buf = bytearray()
        self.need = -1  # body bytes still expected for the current request; -1: reading headers
        self.path = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            if self.need < 0:
                end = self.buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(self.buf[:end]).split(b"\r\n")
                del self.buf[: end + 4]
                self.path = head[0].split(b" ")[1] if len(head[0].split(b" ")) > 1 else b"/"
                self.need = 0
                for line in head[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        self.need = int(value.strip())
            if len(self.buf) < self.need:
                return
            body_len = self.need
            del self.buf[:body_len]
            self.need = -1
            if self.path == b"/__stats":
                payload = json.dumps({**self.stats, "now": time.monotonic()}).encode()
                self.t.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    + str(len(payload)).encode()
                    + b"\r\n\r\n"
                    + payload
                )
                continue
            self.stats["requests"] += 1
            self.stats["bytes"] += body_len
            self.stats["last"] = time.monotonic()
            self.t.write(self._OK)


def _serve_null_sink(port_file: str) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_NullSink, "127.0.0.1", 0)
        Path(port_file).write_text(str(server.sockets[0].getsockname()[1]))
        await server.serve_forever()

    asyncio.run(main())


# --------------------------------------------------------------------------- load client


async def _client_main(
    port: int, conns: int, duration_s: float, max_requests: int, seed: int, rate_rps: float = 0.0
) -> dict[str, Any]:
    """Closed-loop load on ``conns`` connections; with ``rate_rps`` > 0, paced to that many requests/s."""
    bodies = build_bodies()
    random.Random(seed).shuffle(bodies)
    requests = [
        (
            f"POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-protobuf\r\n"
            f"Content-Length: {len(b)}\r\n\r\n"
        ).encode()
        + b
        for b in bodies
    ]
    counts = {"ok": 0, "refused": 0, "other": 0, "sent": 0}
    deadline = time.monotonic() + duration_s

    interval = conns / rate_rps if rate_rps > 0 else 0.0

    async def one(idx: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = idx
        next_at = time.monotonic() + interval * idx / conns
        try:
            while time.monotonic() < deadline and counts["sent"] < max_requests:
                if interval:
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    next_at += interval
                counts["sent"] += 1
                writer.write(requests[i % len(requests)])
                i += 1
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if length:
                    await reader.readexactly(length)
                if 200 <= status < 300:
                    counts["ok"] += 1
                elif status in (429, 503):
                    counts["refused"] += 1
                    await asyncio.sleep(0.05)
                else:
                    counts["other"] += 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(one(c) for c in range(conns)))
    return {**counts, "elapsed_s": time.monotonic() - started}


# --------------------------------------------------------------------------- processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port_file(path: Path, proc: subprocess.Popen[bytes], what: str) -> int:
    deadline = time.monotonic() + START_TIMEOUT_S
    while not (path.exists() and path.read_text().strip()):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.02)
    return int(path.read_text())


def _wait_listening(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def rotel_binary() -> str:
    """The ``rotel-agent`` executable shipped inside the ``rotel`` wheel (or ``rotel`` on PATH)."""
    try:
        import rotel

        candidate = Path(rotel.__file__).parent / "rotel-agent"
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which("rotel") or shutil.which("rotel-agent")
    if not found:
        raise RuntimeError("rotel is not installed (pip install rotel)")
    return found


def start_rotel(http_port: int, sink_port: int, workdir: Path, log: Any) -> subprocess.Popen[bytes]:
    cmd = [
        rotel_binary(),
        "start",
        "--otlp-http-endpoint",
        f"127.0.0.1:{http_port}",
        "--otlp-grpc-endpoint",
        f"127.0.0.1:{_free_port()}",
        "--exporter",
        "otlp",
        "--otlp-exporter-protocol",
        "http",
        "--otlp-exporter-endpoint",
        f"http://127.0.0.1:{sink_port}",
        "--pid-file",
        str(workdir / "rotel.pid"),
        "--log-file",
        str(workdir / "rotel.log"),
    ]
    return subprocess.Popen(cmd, stdout=log, stderr=log, cwd=workdir)


def start_sidecar(
    http_port: int, sink_port: int, workdir: Path, log: Any, metadata_uri: str | None, processors: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "ECS_OTEL_OTLP_HTTP_PORT": str(http_port),
        "ECS_OTEL_OTLP_GRPC_PORT": "-1",
        "ECS_OTEL_STATUS_PORT": str(_free_port()),
        "ECS_OTEL_TRACES_EXPORTERS": "otlp",
        "ECS_OTEL_METRICS_EXPORTERS": "none",
        "ECS_OTEL_LOGS_EXPORTERS": "none",
        "ECS_OTEL_TRACES_PROCESSORS": processors,
        "ECS_OTEL_SCRAPERS": "none",
        "ECS_OTEL_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
        "ECS_OTEL_LOG_LEVEL": "WARNING",
    }
    env.pop("ECS_OTEL_SIDECAR_CONFIG", None)
    if metadata_uri:
        env["ECS_CONTAINER_METADATA_URI_V4"] = metadata_uri
    return subprocess.Popen([sys.executable, "-m", "sidecar"], env=env, stdout=log, stderr=log, cwd=ROOT)


def start_emulator(workdir: Path, log: Any) -> tuple[subprocess.Popen[bytes], str]:
    port_file = workdir / "emulator.port"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ecs_otel.emulator",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--synthesize",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
        cwd=ROOT,
    )
    port = _wait_port_file(port_file, proc, "ECS metadata emulator")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__control", timeout=10) as resp:
        uri = json.loads(resp.read())["uri"]
    return proc, uri


# --------------------------------------------------------------------------- measurement


def _tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def _cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in _tree(pid):
        try:
            t = p.cpu_times()
            total += t.user + t.system + getattr(t, "children_user", 0.0) + getattr(t, "children_system", 0.0)
        except psutil.Error:
            pass
    return total


def _peak_rss(pid: int) -> int:
    """Sum of the high-water RSS of the process tree (``VmHWM``), or the current RSS where unavailable."""
    total = 0
    for p in _tree(pid):
        try:
            status = Path(f"/proc/{p.pid}/status").read_text()
            hwm = next((line for line in status.splitlines() if line.startswith("VmHWM:")), None)
            total += int(hwm.split()[1]) * 1024 if hwm else p.memory_info().rss
        except (OSError, psutil.Error):
            pass
    return total


def _reset_peak_rss(pid: int) -> bool:
    """Restart the kernel's high-water mark so warm-up does not count (``clear_refs`` 5); False if not allowed."""
    ok = True
    for p in _tree(pid):
        try:
            Path(f"/proc/{p.pid}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


class _RssSampler:
    """Fallback where ``VmHWM`` cannot be reset: the tree's RSS sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        import threading

        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            total = 0
            for p in _tree(self.pid):
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(5)
        return self.peak


def _sink_stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/__stats", timeout=10) as resp:
        return json.loads(resp.read())


def _run_clients(
    port: int, clients: int, duration_s: float, max_requests: int, rate_spans_s: float = 0.0
) -> list[dict[str, Any]]:
    rate_rps = rate_spans_s / SPANS_PER_REQUEST / clients
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.sidecar_vs_rotel",
                "--client",
                str(port),
                str(CONNECTIONS_PER_CLIENT),
                str(duration_s),
                str(max_requests // clients),
                str(c),
                str(rate_rps),
            ],
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )
        for c in range(clients)
    ]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=duration_s + 60)
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


def measure(
    collector: str,
    start: Callable[[int, int, Path, Any], subprocess.Popen[bytes]],
    clients: int,
    duration_s: float,
    max_requests: int,
    rate_spans_s: float = 0.0,
) -> dict[str, Any]:
    """One collector under one load; ``rate_spans_s`` > 0 paces the clients (else as fast as it takes)."""
    with tempfile.TemporaryDirectory(prefix="bench-rotel-") as tmp:
        workdir = Path(tmp)
        log = open(workdir / "collector.log", "wb")  # noqa: SIM115 - closed in finally
        sink = collector_proc = None
        try:
            sink = subprocess.Popen(
                [sys.executable, "-m", "bench.sidecar_vs_rotel", "--null-sink", str(workdir / "sink.port")],
                cwd=ROOT,
            )
            sink_port = _wait_port_file(workdir / "sink.port", sink, "null receiver")
            http_port = _free_port()
            collector_proc = start(http_port, sink_port, workdir, log)
            _wait_listening(http_port, collector_proc, collector)
            # warm-up: imports, connection pools and first allocations are not the steady state
            _run_clients(http_port, 1, 1.0, 50)
            time.sleep(0.5)
            before = _sink_stats(sink_port)
            hwm_reset = _reset_peak_rss(collector_proc.pid)
            sampler = _RssSampler(collector_proc.pid)
            cpu0 = _cpu_seconds(collector_proc.pid)
            t0 = time.monotonic()
            results = _run_clients(http_port, clients, duration_s, max_requests, rate_spans_s)
            load_s = max(r["elapsed_s"] for r in results) or (time.monotonic() - t0)
            # wait for the collector's exports to drain (its batch timers included)
            deadline = time.monotonic() + DRAIN_TIMEOUT_S
            while time.monotonic() < deadline:
                st = _sink_stats(sink_port)
                if st["now"] - st["last"] >= DRAIN_IDLE_S:
                    break
                time.sleep(0.2)
            cpu = _cpu_seconds(collector_proc.pid) - cpu0  # the idle drain second counts for both
            after = _sink_stats(sink_port)
            sampled = sampler.stop()
            peak = _peak_rss(collector_proc.pid) if hwm_reset else sampled
        finally:
            _stop(collector_proc)
            _stop(sink)
            log.close()
    ok = sum(r["ok"] for r in results)
    spans = ok * SPANS_PER_REQUEST
    return {
        "collector": collector,
        "load": f"{rate_spans_s:,.0f} spans/s" if rate_spans_s else "max",
        "clients": clients,
        "connections": clients * CONNECTIONS_PER_CLIENT,
        "requests_ok": ok,
        "requests_refused": sum(r["refused"] for r in results),
        "requests_other": sum(r["other"] for r in results),
        "spans": spans,
        "load_s": round(load_s, 2),
        "spans_per_s": round(spans / load_s) if load_s else 0,
        "cpu_s": round(cpu, 3),
        "spans_per_cpu_s": round(spans / cpu) if cpu > 0 else 0,
        "peak_rss_mb": round(peak / 1024 / 1024, 1),
        "exports": after["requests"] - before["requests"],
        "export_mb": round((after["bytes"] - before["bytes"]) / 1024 / 1024, 2),
    }


def run(quick: bool = False) -> list[dict[str, Any]]:
    duration = 3.0 if quick else 10.0
    max_requests = 3_000 if quick else 20_000
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-emu-") as tmp:
        emu_log = open(Path(tmp) / "emulator.log", "wb")  # noqa: SIM115 - closed below
        emulator, uri = start_emulator(Path(tmp), emu_log)
        try:

            def sidecar(http_port: int, sink_port: int, workdir: Path, log: Any) -> subprocess.Popen[bytes]:
                return start_sidecar(http_port, sink_port, workdir, log, uri, "enrich")

            def sidecar_default(
                http_port: int, sink_port: int, workdir: Path, log: Any
            ) -> subprocess.Popen[bytes]:
                return start_sidecar(http_port, sink_port, workdir, log, uri, "enrich,cardinality,redaction")

            def rotel(http_port: int, sink_port: int, workdir: Path, log: Any) -> subprocess.Popen[bytes]:
                return start_rotel(http_port, sink_port, workdir, log)

            default = "ecs-otel sidecar (default chain: enrich, cardinality, redaction)"
            for clients in (1, 2):
                rows.append(measure("rotel", rotel, clients, duration, max_requests))
                rows.append(measure("ecs-otel sidecar (enrich)", sidecar, clients, duration, max_requests))
                rows.append(measure(default, sidecar_default, clients, duration, max_requests))
            # the memory target is stated at a steady 10,000 spans/s
            paced = 10_000.0
            rows.append(measure("rotel", rotel, 1, duration, max_requests, paced))
            rows.append(measure("ecs-otel sidecar (enrich)", sidecar, 1, duration, max_requests, paced))
            rows.append(measure(default, sidecar_default, 1, duration, max_requests, paced))
        finally:
            _stop(emulator)
            emu_log.close()
    for row in rows:
        peer = next(
            r
            for r in rows
            if r["collector"] == "rotel" and (r["clients"], r["load"]) == (row["clients"], row["load"])
        )
        row["ratio_spans_per_cpu_s"] = (
            round(row["spans_per_cpu_s"] / peer["spans_per_cpu_s"], 2) if peer["spans_per_cpu_s"] else None
        )
        row["ratio_peak_rss"] = (
            round(row["peak_rss_mb"] / peer["peak_rss_mb"], 2) if peer["peak_rss_mb"] else None
        )
    return rows


def to_markdown(rows: list[dict[str, Any]]) -> str:
    columns = ("collector", "load", "client procs (conns)", "spans/s accepted", "spans per CPU-s", "× rotel",
               "peak RSS MB", "× rotel", "exports (MB)")
    return report.markdown_table(
        columns,
        ((r["collector"], r["load"], f"{r['clients']} ({r['connections']})", f"{r['spans_per_s']:,}",
          f"{r['spans_per_cpu_s']:,}", r["ratio_spans_per_cpu_s"], r["peak_rss_mb"], r["ratio_peak_rss"],
          f"{r['exports']} ({r['export_mb']})") for r in rows),
        text_columns=len(columns),
    )


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="3 s per run instead of 10 s")
    p.add_argument("--json", action="store_true", help="print the rows as JSON too")
    p.add_argument("--null-sink", metavar="PORT_FILE", help=argparse.SUPPRESS)
    p.add_argument("--client", nargs=6, metavar="X", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.null_sink:
        _serve_null_sink(a.null_sink)
        return
    if a.client:
        port, conns, duration, max_requests, seed, rate = a.client
        result = asyncio.run(
            _client_main(int(port), int(conns), float(duration), int(max_requests), int(seed), float(rate))
        )
        print(json.dumps(result), flush=True)
        return
    rows = run(quick=a.quick)
    print(to_markdown(rows))
    if a.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
