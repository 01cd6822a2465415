"""``make soak``: the sidecar under a steady load for a long time; memory and file descriptors stay flat.

Load (default 10 minutes, ``SOAK_SECONDS`` or ``--seconds``): 2,000 spans/s in requests of 200,
fresh trace ids each time; 200 log records/s; one metrics request per second (cumulative sums
and gauges over a fixed set of series, through the cardinality processor). All three go over
OTLP/HTTP to a real ``python -m sidecar`` (default processors, ``otlp`` exporter) and on to a
null receiver (the one of ``bench.sidecar_vs_rotel``: answers 200, counts bytes).

Every ``--sample-every`` seconds the sidecar's RSS and open file descriptors are sampled.
After the warm-up (a fifth of the run, at most 2 minutes) the first samples are the baseline;
the last ones are compared with it. The run fails (exit 1) when

- RSS grew by 5 % or more (``--max-growth``),
- open file descriptors grew by more than ``--fd-slack`` (room for the exporter's bounded
  connection pool to fill up; the load itself uses a fixed pool of 4 connections, opened first),
- accounting is not exact: per signal the receiver accepted exactly what the load sent, and
  every exporter queue has ``received = exported + dropped + queued`` with, after draining,
  everything exported and nothing dropped,
- or the sidecar does not exit 0 on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
#: The load's keep-alive pool: a fixed number of connections, so the sidecar's fds do not follow
#: the client's mood (a busy machine makes requests overlap and an unbounded pool grow).
CLIENT_CONNECTIONS = 4
#: Sockets the sidecar may still open after the baseline without it being a leak: its exporter's
#: pool (three signals, two exports in flight each) may not be full yet at the baseline.
FD_SLACK = 6
SIGNALS = ("traces", "metrics", "logs")


@dataclass
class Load:
    spans_per_s: int = 2000
    requests_per_s: int = 10
    logs_per_s: int = 200
    series: int = 50
    sent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIGNALS, 0))
    refused: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SIGNALS, 0))
    errors: int = 0
    _counter: int = 0

    def traces(self) -> tuple[bytes, int]:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

        n = self.spans_per_s // self.requests_per_s
        req = ExportTraceServiceRequest()
        rs = req.resource_spans.add()
        _attr(rs.resource.attributes, "service.name", "soak")
        ss = rs.scope_spans.add()
        ss.scope.name = "bench.soak"
        now = time.time_ns()
        trace_id = os.urandom(16)
        for i in range(n):
            if i % 10 == 0:
                trace_id = os.urandom(16)
            span = ss.spans.add(name=f"GET /items/{{id}} {i % 7}", trace_id=trace_id, span_id=os.urandom(8),
                                kind=2, start_time_unix_nano=now - 5_000_000, end_time_unix_nano=now)
            _attr(span.attributes, "http.request.method", "GET")
            _attr(span.attributes, "url.path", f"/items/{random.randrange(10**6)}")
            _attr(span.attributes, "http.request.header.authorization", "Bearer soak")  # redacted on the way
        return req.SerializeToString(), n

    def logs(self) -> tuple[bytes, int]:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

        n = self.logs_per_s // self.requests_per_s
        req = ExportLogsServiceRequest()
        rl = req.resource_logs.add()
        _attr(rl.resource.attributes, "service.name", "soak")
        sl = rl.scope_logs.add()
        now = time.time_ns()
        for i in range(n):
            rec = sl.log_records.add(time_unix_nano=now, severity_number=9, severity_text="INFO")
            rec.body.string_value = f"request {self._counter}-{i} handled"
        self._counter += 1
        return req.SerializeToString(), n

    def metrics(self, start_ns: int) -> tuple[bytes, int]:
        from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

        req = ExportMetricsServiceRequest()
        rm = req.resource_metrics.add()
        _attr(rm.resource.attributes, "service.name", "soak")
        sm = rm.scope_metrics.add()
        now = time.time_ns()
        total = sm.metrics.add(name="soak.requests", unit="{request}")
        total.sum.aggregation_temporality = 2
        total.sum.is_monotonic = True
        gauge = sm.metrics.add(name="soak.queue.depth", unit="{item}")
        for s in range(self.series):
            dp = total.sum.data_points.add(start_time_unix_nano=start_ns, time_unix_nano=now,
                                           as_int=self._counter * (s + 1))
            _attr(dp.attributes, "http.route", f"/route/{s}")
            g = gauge.gauge.data_points.add(time_unix_nano=now, as_double=random.random() * 100)
            _attr(g.attributes, "queue", f"q{s}")
        return req.SerializeToString(), 2 * self.series


def _attr(attrs: Any, key: str, value: str) -> None:
    kv = attrs.add(key=key)
    kv.value.string_value = value


async def drive(load: Load, http_url: str, seconds: float) -> None:
    import aiohttp

    start_ns = time.time_ns()
    interval = 1.0 / load.requests_per_s
    loop = asyncio.get_running_loop()
    headers = {"Content-Type": "application/x-protobuf"}
    connector = aiohttp.TCPConnector(limit=CLIENT_CONNECTIONS)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30), connector=connector) as session:

        async def post(signal: str, body: bytes, items: int) -> None:
            try:
                async with session.post(f"{http_url}/v1/{signal}", data=body, headers=headers) as resp:
                    await resp.read()
                    if resp.status == 200:
                        load.sent[signal] += items
                    else:
                        load.refused[signal] += items
            except (aiohttp.ClientError, TimeoutError):
                load.errors += 1

        # Open the whole pool now, so the sidecar's socket count is at its ceiling before the baseline.
        await asyncio.gather(*(post("logs", *load.logs()) for _ in range(CLIENT_CONNECTIONS)))
        pending: set[asyncio.Task[None]] = set()
        tick = 0
        next_at = loop.time()
        deadline = next_at + seconds
        while loop.time() < deadline:
            jobs = [("traces", *load.traces()), ("logs", *load.logs())]
            if tick % load.requests_per_s == 0:
                jobs.append(("metrics", *load.metrics(start_ns)))
            for signal, body, items in jobs:
                task = asyncio.create_task(post(signal, body, items))
                pending.add(task)
                task.add_done_callback(pending.discard)
            tick += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))
        if pending:
            await asyncio.wait(pending, timeout=30)


def _wait_file(path: Path, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while not path.exists() or not path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start")
        time.sleep(0.05)
    time.sleep(0.05)
    return path.read_text()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read().decode()


def _metrics(status_url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    sys.path.insert(0, str(ROOT))
    from tests.support.sidecar import parse_prometheus

    return parse_prometheus(_get(status_url + "/metrics"))


def _value(m: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, ls), v in m.items() if n == name and want <= ls)


def check_accounting(m: dict[tuple[str, frozenset[tuple[str, str]]], float], load: Load) -> list[str]:
    problems = []
    for signal in SIGNALS:
        accepted = _value(m, "ecs_otel_sidecar_receiver_accepted_items_total", receiver="otlp_http", signal=signal)
        if accepted != load.sent[signal]:
            problems.append(f"{signal}: sent {load.sent[signal]} (HTTP 200) but the receiver counted {accepted}")
        labels = {"exporter": "otlp", "signal": signal}
        received = _value(m, "ecs_otel_sidecar_exporter_received_items_total", **labels)
        exported = _value(m, "ecs_otel_sidecar_exporter_exported_items_total", **labels)
        dropped = _value(m, "ecs_otel_sidecar_exporter_dropped_items_total", **labels)
        queued = _value(m, "ecs_otel_sidecar_exporter_queued_items", **labels)
        if received != exported + dropped + queued:
            problems.append(f"{signal}: received {received} != exported {exported} + dropped {dropped} "
                            f"+ queued {queued}")
        if dropped or queued or exported != received:
            problems.append(f"{signal}: after draining, exported {exported} of {received} "
                            f"(dropped {dropped}, queued {queued})")
    return problems


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", "600")))
    p.add_argument("--spans-per-s", type=int, default=2000)
    p.add_argument("--sample-every", type=float, default=5.0)
    p.add_argument("--max-growth", type=float, default=5.0, help="RSS growth %% that fails the run")
    p.add_argument("--fd-slack", type=int, default=FD_SLACK, help="open fds above the baseline still accepted "
                   "(default: the exporter pool's growth room, %(default)s)")
    a = p.parse_args(argv)
    warmup_s = min(120.0, a.seconds / 5)
    window = 3  # samples averaged at each end
    workdir = Path(tempfile.mkdtemp(prefix="ecs-otel-soak-"))
    log = (workdir / "processes.log").open("wb")
    sink = subprocess.Popen([sys.executable, "-m", "bench.sidecar_vs_rotel", "--null-sink", str(workdir / "sink.port")],
                            cwd=ROOT, stdout=log, stderr=log)
    sidecar: subprocess.Popen[bytes] | None = None
    try:
        sink_port = int(_wait_file(workdir / "sink.port", sink, "null receiver"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_", "ECS_CONTAINER"))}
        env.update({
            "ECS_OTEL_OTLP_ENDPOINT": f"http://127.0.0.1:{sink_port}",
            "ECS_OTEL_TRACES_EXPORTERS": "otlp", "ECS_OTEL_METRICS_EXPORTERS": "otlp", "ECS_OTEL_LOGS_EXPORTERS": "otlp",
            "ECS_OTEL_OTLP_HTTP_PORT": "0", "ECS_OTEL_OTLP_GRPC_PORT": "0", "ECS_OTEL_STATUS_PORT": "0",
            "ECS_OTEL_SCRAPERS": "none",
        })
        sidecar = subprocess.Popen([sys.executable, "-m", "sidecar", "--ports-file", str(workdir / "ports.json")],
                                   cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        ports = json.loads(_wait_file(workdir / "ports.json", sidecar, "sidecar"))
        http_url = f"http://127.0.0.1:{ports['otlp_http']}"
        status_url = f"http://127.0.0.1:{ports['status']}"
        proc = psutil.Process(sidecar.pid)
        samples: list[tuple[float, int, int]] = []
        load = Load(spans_per_s=a.spans_per_s)
        print(f"soak: {a.seconds:.0f} s at {a.spans_per_s} spans/s + {load.logs_per_s} logs/s + "
              f"{2 * load.series} points/s; warm-up {warmup_s:.0f} s; sampling every {a.sample_every:g} s",
              flush=True)

        async def run() -> None:
            started = time.monotonic()

            async def sample() -> None:
                while True:
                    samples.append((time.monotonic() - started, proc.memory_info().rss, proc.num_fds()))
                    t, rss, fds = samples[-1]
                    print(f"  t={t:6.0f}s rss={rss / 2**20:7.1f} MiB fds={fds}", flush=True)
                    await asyncio.sleep(a.sample_every)

            sampler = asyncio.create_task(sample())
            try:
                await drive(load, http_url, a.seconds)
            finally:
                sampler.cancel()
            samples.append((time.monotonic() - started, proc.memory_info().rss, proc.num_fds()))

        asyncio.run(run())
        deadline = time.monotonic() + 60
        m = _metrics(status_url)
        while _value(m, "ecs_otel_sidecar_exporter_queued_items") and time.monotonic() < deadline:
            time.sleep(0.5)
            m = _metrics(status_url)
        problems = check_accounting(m, load)
        after = [s for s in samples if s[0] >= warmup_s]
        if len(after) < 2 * window:
            problems.append(f"only {len(after)} samples after the warm-up: run longer (--seconds)")
            base_rss = final_rss = float(samples[-1][1])
            base_fds = final_fds = samples[-1][2]
        else:
            base_rss = statistics.fmean(s[1] for s in after[:window])
            final_rss = statistics.fmean(s[1] for s in after[-window:])
            base_fds = max(s[2] for s in after[:window])
            final_fds = int(statistics.median(s[2] for s in after[-window:]))
        growth = (final_rss - base_rss) / base_rss * 100
        if growth >= a.max_growth:
            problems.append(f"RSS grew {growth:.2f} % (limit {a.max_growth} %)")
        if final_fds > base_fds + a.fd_slack:
            problems.append(f"open fds grew from {base_fds} to {final_fds}")
        if load.errors or any(load.refused.values()):
            problems.append(f"the load saw {load.errors} transport errors and refusals {load.refused}")
        sidecar.terminate()
        code = sidecar.wait(60)
        if code != 0:
            problems.append(f"sidecar exited {code} on SIGTERM")
        peak = max(s[1] for s in samples)
        print()
        print("| metric | value |")
        print("|---|---|")
        print(f"| duration | {a.seconds:.0f} s (warm-up {warmup_s:.0f} s) |")
        print(f"| sent | {load.sent['traces']} spans, {load.sent['logs']} log records, "
              f"{load.sent['metrics']} data points |")
        print(f"| RSS after warm-up → end | {base_rss / 2**20:.1f} → {final_rss / 2**20:.1f} MiB "
              f"({growth:+.2f} %), peak {peak / 2**20:.1f} MiB |")
        print(f"| open fds after warm-up → end | {base_fds} → {final_fds} |")
        print(f"| accounting | {'exact' if not check_accounting(m, load) else 'OFF'} |")
        print()
        for problem in problems:
            print(f"FAIL: {problem}")
        print("soak passed" if not problems else f"soak FAILED ({len(problems)} problems); logs in {workdir}")
        if not problems:
            shutil.rmtree(workdir, ignore_errors=True)
        return 0 if not problems else 1
    finally:
        for child in (sidecar, sink):
            if child is not None and child.poll() is None:
                child.terminate()
                try:
                    child.wait(15)
                except subprocess.TimeoutExpired:
                    child.kill()
        log.close()


if __name__ == "__main__":
    sys.exit(main())
