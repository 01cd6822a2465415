"""``python -m examples.demo`` (what ``make demo`` runs) as a new user meets it, in an empty directory.

Bounded with DEMO_SECONDS=6; the assertions read the printed summary for real numbers and parse
what the sidecar's file exporter left in ./demo-output/. The full run keeps half of the traces
(DEMO_TRACE_RATIO=0.5), so both routes and a complete trace are in the output without luck while
spans are still fewer than requests; the keep-running run uses the demo's default ratio (0.1).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sidecar.otlp import json_codec
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
PID_LINE = re.compile(r"pid (\d+)")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_", "ECS_CONTAINER", "AWS_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _decode_lines(path: Path, message: type) -> list:
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    return [json_codec.decode(message, line) for line in lines]


def _load_counts(out: str) -> dict[str, dict[int, int]]:
    """route -> HTTP status -> requests, from the summary's Load table."""
    counts: dict[str, dict[int, int]] = {}
    for route, status, n in re.findall(r"^  (GET /products/\{sku\}|POST /orders)\s+(\d{3})\s+([\d,]+)$", out, re.M):
        counts.setdefault(route, {})[int(status)] = int(n.replace(",", ""))
    return counts


def _assert_application_signals(out: str, ratio: str) -> None:
    """Every request served is counted in the Application Signals metrics, per operation, with its 4xx/5xx;
    dependencies are listed; exported spans are fewer than the requests."""
    assert re.search(r"^Application Signals: \S+ version \S+ \(Latency, Error, Fault from every request\)$",
                     out, re.M), out
    load = _load_counts(out)
    assert set(load) == {"GET /products/{sku}", "POST /orders"}, out
    for route, by_status in load.items():
        row = re.search(rf"^  {re.escape(route)}\s+([\d,]+)\s+[\d.]+ ms\s+≤ [\d.]+ ms\s+(\d+)\s+(\d+)$", out, re.M)
        assert row, out
        calls, errors, faults = (int(g.replace(",", "")) for g in row.groups())
        assert calls == sum(by_status.values())
        assert errors == sum(n for s, n in by_status.items() if 400 <= s < 500)
        assert faults == sum(n for s, n in by_status.items() if s >= 500)
    assert re.search(r"^  POST /orders\s+AWS::DynamoDB\s+PutItem\s+shop-orders\s+\d+", out, re.M), out
    assert re.search(r"^  GET /products/\{sku\}\s+AWS::DynamoDB\s+GetItem\s+shop-products\s+\d+", out, re.M), out
    line = re.search(r"Counted ([\d,]+) requests in the metrics = ([\d,]+) served by the shop; the sampler "
                     rf"\(parentbased_traceidratio {re.escape(ratio)}\)\n  exported ([\d,]+) of them as traces", out)
    assert line, out
    counted, answered, exported = (int(g.replace(",", "")) for g in line.groups())
    assert counted == answered == sum(sum(s.values()) for s in load.values())
    assert exported < counted


def test_demo_runs_prints_every_section_and_leaves_parseable_files(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "examples.demo"], cwd=tmp_path,
                          env=_env(DEMO_SECONDS="6", DEMO_TRACE_RATIO="0.5"),
                          capture_output=True, text=True, timeout=150)
    out = proc.stdout
    assert proc.returncode == 0, f"stdout:\n{out}\nstderr:\n{proc.stderr}"
    assert "Traceback" not in out + proc.stderr
    _assert_application_signals(out, "0.5")

    # Spans per route, with p50/p95 in milliseconds for both routes.
    for route in ("POST /orders", "GET /products/{sku}"):
        row = re.search(rf"^\s+{re.escape(route)}\s+(\d+)\s+\d+\s+([\d.]+) ms\s+([\d.]+) ms", out, re.M)
        assert row, out
        assert int(row.group(1)) > 0 and 0 < float(row.group(2)) <= float(row.group(3))
    # A sample trace as a tree: the server span with botocore children.
    assert re.search(r"^Sample trace [0-9a-f]{32} \(X-Ray 1-[0-9a-f]{8}-[0-9a-f]{24}\)", out, re.M), out
    assert re.search(r"^\s+POST /orders \[server\]", out, re.M), out
    assert re.search(r"[├└]─ DynamoDB\.(GetItem|PutItem) \[client\]", out), out
    # Series before/after cardinality control: more in than the limit, limit + 1 overflow series out.
    row = re.search(r"^\s+shop\.orders\s+(\d+)\s+(\d+)\s+overflow series \(limit (\d+)\)", out, re.M)
    assert row, out
    before, after, limit = map(int, row.groups())
    assert before > limit and after == limit + 1
    prom = re.search(r"Prometheus scrape endpoint was at http://127\.0\.0\.1:\d+/metrics \(stopped\)\n"
                     r"  its scrape: ([\d,]+) samples, (\d+) of them shop_orders", out)
    assert prom and int(prom.group(1).replace(",", "")) > 0 and int(prom.group(2)) == after, out
    # ECS task stats with real numbers, the newest app logs, the status page, the pipeline counts.
    assert re.search(r"^\s+task \(total\)\s+[\d.]+ vCPU\s+[\d.]+ MiB", out, re.M), out
    assert re.search(r"^\s+app\s+[\d.]+ vCPU\s+[\d.]+ MiB", out, re.M), out
    log_lines = re.search(r"^Newest app log lines.*\n─+\n((?:  \{.*\}\n){3})", out, re.M)
    assert log_lines, out
    assert re.search(r"status page was at http://127\.0\.0\.1:\d+/ \(stopped\)", out), out
    # The summary is printed after everything stopped: no URL in it may read as live.
    summary = out[out.index("\nLoad: "):]
    assert summary.count("http://127.0.0.1:") == summary.count(" (stopped)") + _stub_urls(summary), summary
    assert re.search(r"^\s+traces\s+file\s+(\d+)\s+\1\s+0\s+0$", out, re.M), out

    # Every process it started has exited.
    final = re.search(r"pids ([\d, ]+)\) has exited", out)
    assert final, out
    pids = [int(p) for p in final.group(1).split(",")]
    assert len(pids) == 3 and all(_gone(p) for p in pids)

    # The files exist and parse as OTLP/JSON export requests.
    output = tmp_path / "demo-output"
    traces = _decode_lines(output / "traces.jsonl", ExportTraceServiceRequest)
    spans = [s for b in traces for rs in b.resource_spans for ss in rs.scope_spans for s in ss.spans]
    assert {s.name for s in spans} >= {"POST /orders", "GET /products/{sku}", "DynamoDB.GetItem"}
    metrics = _decode_lines(output / "metrics.jsonl", ExportMetricsServiceRequest)
    names = {m.name for b in metrics for rm in b.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
    assert {"shop.orders", "ecs.task.memory.utilized", "container.cpu.usage.vcpu"} <= names
    assert {"latency", "error", "fault"} <= {n.lower() for n in names}
    server_spans = [s for s in spans if s.kind == s.SPAN_KIND_SERVER]
    assert 0 < len(server_spans) < sum(sum(s.values()) for s in _load_counts(out).values())
    logs = _decode_lines(output / "logs.jsonl", ExportLogsServiceRequest)
    assert sum(len(sl.log_records) for b in logs for rl in b.resource_logs for sl in rl.scope_logs) > 0
    assert (output / "logs" / "shop.stdout.log").stat().st_size > 0
    assert "shop_orders_total{" in (output / "prometheus.prom").read_text()


def _stub_urls(summary: str) -> int:
    """URLs of the demo's stubs inside sampled spans (the trace's client calls): data, not links."""
    return len(re.findall(r"http://127\.0\.0\.1:\d+/stock/", summary))


def _read_until(proc: subprocess.Popen[str], marker: str, seen: list[str], timeout_s: float) -> bool:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return False
        seen.append(line)
        if marker in line:
            return True
    return False


def test_demo_keep_running_serves_every_printed_url_until_ctrl_c(tmp_path: Path) -> None:
    """DEMO_KEEP=1: the summary is printed while everything runs; every URL printed as live answers."""
    import urllib.request

    proc = subprocess.Popen([sys.executable, "-m", "examples.demo"], cwd=tmp_path,
                            env=_env(DEMO_SECONDS="6", DEMO_KEEP="1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    try:
        assert _read_until(proc, "Still running: press Ctrl-C", seen, 120), "".join(seen)
        assert _read_until(proc, "Prometheus:", seen, 30), "".join(seen)
        text = "".join(seen)
        summary = text[text.index("\nLoad: "):]
        _assert_application_signals(summary, "0.1")  # the demo's own sampler: a tenth of the traces
        assert "(stopped)" not in summary and "are still running" in summary, summary
        live = re.findall(r"^  (?:status page|shop|Prometheus):\s+(http://127\.0\.0\.1:\d+/\S*)$", summary, re.M)
        assert len(live) == 3, summary
        assert re.search(r"^\s+status page: http://127\.0\.0\.1:\d+/  \(", summary, re.M), summary
        for url in live:
            with urllib.request.urlopen(url, timeout=10) as resp:
                assert resp.status == 200, url
        pids = [int(p) for p in PID_LINE.findall(text[:text.index("\nLoad: ")])]
        assert len(pids) == 3 and not any(_gone(p) for p in pids), text
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 0, "".join(seen) + out + err
    assert "has exited" in out and "Traceback" not in "".join(seen) + out + err
    assert all(_gone(p) for p in pids)
    for url in live:
        with pytest.raises(OSError):
            urllib.request.urlopen(url, timeout=5)


def test_demo_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "examples.demo"], cwd=tmp_path, env=_env(DEMO_SECONDS="60"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if "status page" in line:  # printed once everything runs, just before the load starts
                break
        pids = [int(p) for p in PID_LINE.findall("".join(seen))]
        assert len(pids) == 3, "".join(seen)
        time.sleep(1.0)  # into the load
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)
    assert proc.returncode == 130, "".join(seen) + out + err
    assert "interrupted" in out and "Traceback" not in out + err
    assert all(_gone(p) for p in pids)


def test_summary_of_missing_or_damaged_output_says_so_without_a_traceback(tmp_path: Path) -> None:
    from examples.demo.load import LoadResult
    from examples.demo.run import DemoRun
    from examples.demo.summary import render

    out = tmp_path / "demo-output"
    (out / "logs").mkdir(parents=True)
    (out / "metrics.jsonl").write_text('{"resourceMetrics": [\n')  # cut off mid-write
    run = DemoRun(out_dir=out, status_url="http://127.0.0.1:13133/", status_port_is_default=True,
                  load=LoadResult(), cardinality=None, self_metrics="", status=None, final_counts=[],
                  seconds=1.0, pids={"sidecar": 1})
    text = render(run)
    assert "(no server spans reached the sidecar)" in text
    assert "(no complete trace in the output)" in text
    assert "Metric series\n" in text and "(could not summarise: " in text
    assert "(no JSON log lines)" in text
    assert "Traceback" not in text
