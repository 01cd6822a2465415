"""The demo's timeline: start everything, drive the shop, stop everything, summarise.

    emulator ─► sidecar (file + debug exporters, ecs_stats scraper)
    stubs (inventory + DynamoDB) ◄─ shop (import ecs_otel.auto) ─► sidecar ◄─ load

The shop runs with Application Signals on and a trace sampler keeping ``DEMO_TRACE_RATIO`` (default
0.1) of the traces: the summary shows every request counted in the metrics, fewer spans exported.

Time is bounded by ``DEMO_SECONDS`` (default 20) from the first process start to the summary; the
load runs for all of it. With ``DEMO_KEEP=1`` (or ``DEMO_SECONDS=0``: the default duration, then keep) the
summary is taken from the running processes and everything stays up, under a gentle load, until Ctrl-C.
Every process started is stopped by its PID on the way out, Ctrl-C included.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from examples.demo.load import LoadPlan, LoadResult, run_load
from examples.demo.processes import Child, StartError
from examples.demo.stubs import StubServer

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SECONDS = 20.0
STATUS_PORT = 13133
START_TIMEOUT_S = 30.0
#: Seconds kept at the end for the app's last flush, the sidecar's batch and its shutdown.
TAIL_S = 3.0
MIN_LOAD_S = 2.0
DRAIN_TIMEOUT_S = 3.0
#: The sidecar's cardinality limit for the demo's high-cardinality metric, low enough to be visible.
ORDERS_SERIES_LIMIT = 10
#: The shop's metric export interval (ms): a live summary waits for one export after the load.
METRIC_INTERVAL_MS = 2000
#: Requests per second while the keep-running mode holds the demo up (the status page keeps moving).
KEEP_RATE_PER_S = 5.0
#: Share of traces the shop's sampler keeps (``DEMO_TRACE_RATIO``): a fraction, as in production, so the
#: summary can show that the Application Signals metrics still count every request.
DEFAULT_TRACE_RATIO = 0.1
_FOREIGN = ("ECS_OTEL_", "OTEL_", "ECS_CONTAINER_METADATA", "AWS_")


class Interrupted(Exception):
    """Ctrl-C or SIGTERM reached the driver."""


@dataclass
class DemoRun:
    """Everything the summary needs that is not in the output files."""

    out_dir: Path
    status_url: str
    status_port_is_default: bool
    load: LoadResult
    cardinality: dict[str, Any] | None
    self_metrics: str
    status: dict[str, Any] | None
    #: The sidecar's own last word: per exporter and signal, received/exported/dropped after its flush.
    final_counts: list[dict[str, Any]]
    seconds: float
    pids: dict[str, int]
    #: The sidecar's ``prometheus`` exporter: where it was scraped and what it said.
    prometheus_url: str = ""
    prometheus_text: str = ""
    #: True while the processes run (the keep-running mode's summary): only then are URLs printed as live.
    live: bool = False
    shop_url: str = ""
    #: The shop's trace sampling ratio (``parentbased_traceidratio``).
    trace_ratio: float = DEFAULT_TRACE_RATIO


def _clean_env() -> dict[str, str]:
    """The driver's environment without telemetry or AWS settings a user may have exported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _final_counts(sidecar_log: Path) -> list[dict[str, Any]]:
    """``final_counts`` from the sidecar's "sidecar stopped" JSON log line (empty if it never said it)."""
    for line in reversed(sidecar_log.read_text(errors="replace").splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("message") == "sidecar stopped":
            return list(record.get("final_counts") or [])
    return []


def _wait_drained(status_url: str, timeout_s: float) -> None:
    """Until no exporter queue holds items (the sidecar's batch timeout is 1 s), or the time is up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        raw = _get(status_url + "status.json", timeout_s=2.0)
        if raw is None:
            return
        if all(q.get("queued", 0) == 0 for q in json.loads(raw).get("queues", [])):
            return
        time.sleep(0.1)


def _get(url: str, timeout_s: float = 5.0) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.read()
    except OSError:
        return None


def _step(text: str) -> Callable[[str], None]:
    """Print a progress line's label now and its result (with the time it took) when done."""
    print(f"  {text:<44}", end="", flush=True)
    t0 = time.monotonic()
    return lambda result: print(f"{result}  ({time.monotonic() - t0:.1f} s)", flush=True)


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def _metrics_received(status_url: str) -> int:
    raw = _get(status_url + "status.json", timeout_s=2.0)
    if raw is None:
        return -1
    return sum(q.get("received", 0) for q in json.loads(raw).get("queues", []) if q.get("signal") == "metrics")


def _wait_live_flush(status_url: str, timeout_s: float) -> None:
    """With the shop still running: until its next metric export after the load reached the sidecar and
    every exporter queue is empty, so the files hold what the summary reports (or the time is up)."""
    deadline = time.monotonic() + timeout_s
    before = _metrics_received(status_url)
    while time.monotonic() < deadline and _metrics_received(status_url) <= before:
        time.sleep(0.1)
    _wait_drained(status_url, max(0.0, deadline - time.monotonic()))


def _wait_counted(out_dir: Path, load: LoadResult, timeout_s: float) -> None:
    """With the shop still running: until the files hold an Application Signals count for every request
    the load got an answer to (a request's metric is recorded when its span ends, a moment after the
    client has its response, so one export may miss it), or the time is up."""
    from examples.demo import readout

    answered = sum(n for label, n in load.by_status.items() if not label.endswith(" error"))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if sum(r.calls for r in readout.app_signals(out_dir) if r.is_entry) >= answered:
                return
        except Exception:  # a line being written: read again
            pass
        time.sleep(0.2)


def _live_counts(status: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Per exporter and signal counts from a running sidecar's status.json (the shape of final_counts)."""
    return [{k: q.get(k) for k in ("signal", "exporter", "received", "exported", "dropped", "queued")}
            for q in (status or {}).get("queues", [])]


def _hold(children: Sequence[Child], plan: LoadPlan) -> None:
    """Keep everything up under a gentle load until Ctrl-C (or SIGTERM), or until a child exits by itself."""
    load = threading.Thread(target=run_load, args=(plan,), name="keep-load", daemon=True)
    load.start()
    try:
        while True:
            for child in children:
                if child.proc.poll() is not None:
                    print(f"\n{child.name} exited with code {child.proc.returncode}; stopping the demo "
                          f"(its log: {child.stderr_path})", flush=True)
                    return
            time.sleep(0.5)
    except Interrupted:
        print("\n\nCtrl-C: stopping the demo.", flush=True)
    finally:
        plan.stop.set()
        load.join(15)


def run(out_dir: Path, seconds: float, keep: bool = False,
        show: Callable[[DemoRun], None] | None = None, trace_ratio: float = DEFAULT_TRACE_RATIO) -> DemoRun:
    """Run the demo for ``seconds``; with ``keep``, call ``show`` with a live summary and hold until Ctrl-C.

    Without ``keep`` every process has stopped when this returns, and the summary (built by the caller)
    prints every URL as stopped. With ``keep`` the summary is shown while the processes run, which is the
    only time its URLs are printed as live; the returned run says ``live=False`` once they stopped.
    """
    started = time.monotonic()
    deadline = started + seconds
    out_dir.mkdir(parents=True, exist_ok=True)
    log_dir = out_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    for stale in (*out_dir.glob("*.jsonl*"), *out_dir.glob("*.json"), *out_dir.glob("*.prom"),
                  *log_dir.glob("*")):
        stale.unlink()
    base_env = _clean_env()
    children: list[Child] = []
    stubs: StubServer | None = None
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        done = _step("ECS metadata emulator (synthesised task)")
        emulator = Child("emulator", ["-m", "ecs_otel.emulator", "--port", "0", "--synthesize",
                                      "--port-file", str(log_dir / "emulator.port")],
                         base_env, log_dir, log_dir / "emulator.port")
        children.append(emulator)
        emu_port = int(emulator.wait_ready(START_TIMEOUT_S))
        uris: dict[str, str] = json.loads(_get(f"http://127.0.0.1:{emu_port}/__control") or b"{}")["uris"]
        done(f"pid {emulator.pid}, port {emu_port}")

        done = _step("stubs: inventory + DynamoDB")
        stubs = StubServer().start()
        done(stubs.url)

        # The sidecar binds port 0 for OTLP and Prometheus and says which ports it got (--ports-file):
        # a port picked "free" beforehand can be taken by anything else before the sidecar binds it.
        # The shop starts once the sidecar's OTLP port is known.
        status_default = _port_free(STATUS_PORT)
        sidecar = Child("sidecar", ["-m", "sidecar", "--ports-file", str(log_dir / "sidecar.ports")], {
            **base_env,
            "ECS_CONTAINER_METADATA_URI_V4": uris["ecs-otel-sidecar"],
            "ECS_OTEL_OTLP_HTTP_PORT": "0",
            "ECS_OTEL_OTLP_GRPC_PORT": "0",
            "ECS_OTEL_STATUS_PORT": str(STATUS_PORT if status_default else 0),
            "ECS_OTEL_TRACES_EXPORTERS": "file,debug",
            "ECS_OTEL_METRICS_EXPORTERS": "file,debug,prometheus",
            "ECS_OTEL_PROMETHEUS_PORT": "0",
            "ECS_OTEL_LOGS_EXPORTERS": "file,debug",
            "ECS_OTEL_FILE_PATH": str(out_dir),
            "ECS_OTEL_STATS_INTERVAL": "2",
            "ECS_OTEL_METRIC_CARDINALITY_LIMITS": f"shop.orders={ORDERS_SERIES_LIMIT}",
            "ECS_OTEL_SHUTDOWN_TIMEOUT": "5",
        }, log_dir, log_dir / "sidecar.ports")
        children.append(sidecar)
        done = _step("sidecar (file + debug exporters)")
        ports = sidecar.ready_json(START_TIMEOUT_S)
        status_url = f"http://127.0.0.1:{ports['status']}/"
        otlp_port, prometheus_port = ports["otlp_http"], ports["prometheus"]
        done(f"pid {sidecar.pid}, OTLP/HTTP {ports['otlp_http']}, status {ports['status']}")
        shop = Child("shop", ["-m", "examples.shop"], {
            **base_env,
            "ECS_CONTAINER_METADATA_URI_V4": uris["app"],
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_port}",
            "OTEL_LOGS_EXPORTER": "otlp",
            "OTEL_METRIC_EXPORT_INTERVAL": str(METRIC_INTERVAL_MS),
            "OTEL_BSP_SCHEDULE_DELAY": "500",
            "OTEL_BLRP_SCHEDULE_DELAY": "500",
            # Application Signals: RED metrics from every request; traces only from a fraction of them.
            "OTEL_AWS_APPLICATION_SIGNALS_ENABLED": "true",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": str(trace_ratio),
            "ECS_OTEL_LOGGING": "true",
            "AWS_ENDPOINT_URL": stubs.url,
            "AWS_ACCESS_KEY_ID": "AKIADEMODEMODEMODEMO",
            "AWS_SECRET_ACCESS_KEY": "demo-secret-not-a-real-key",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "SHOP_PORT": "0",
            "SHOP_PORT_FILE": str(log_dir / "shop.port"),
            "SHOP_INVENTORY_URL": stubs.url,
        }, log_dir, log_dir / "shop.port")
        children.append(shop)
        done = _step("shop service (import ecs_otel.auto)")
        shop_url = f"http://127.0.0.1:{int(shop.wait_ready(START_TIMEOUT_S))}"
        done(f"pid {shop.pid}, {shop_url}")
        print(f"\n  status page (live while the demo runs): {status_url}\n")

        until = max(deadline - TAIL_S, time.monotonic() + MIN_LOAD_S)
        plan = LoadPlan(base_url=shop_url, until=until)
        done = _step(f"driving load for {until - time.monotonic():.0f} s (≤ {plan.rate_per_s:.0f} requests/s)")
        load = run_load(plan)
        done(f"{load.requests:,} requests")
        prometheus_url = f"http://127.0.0.1:{prometheus_port}/metrics"

        if keep:
            done = _step("waiting for the shop's next export")
            _wait_live_flush(status_url, METRIC_INTERVAL_MS / 1000 + DRAIN_TIMEOUT_S + 2)
            _wait_counted(out_dir, load, 2 * METRIC_INTERVAL_MS / 1000 + DRAIN_TIMEOUT_S)
            done("flushed")
            result = _snapshot(out_dir, status_url, status_default, load, prometheus_url, started, children)
            result.live, result.shop_url, result.trace_ratio = True, shop_url, trace_ratio
            if show is not None:
                show(result)
            _hold(children, LoadPlan(base_url=shop_url, until=math.inf, rate_per_s=KEEP_RATE_PER_S))
            for child in reversed(children):
                child.stop()
            result.live = False
            result.seconds = time.monotonic() - started
            return result

        # The shop's exit flush ends with the sidecar's 200s: from here on everything is in its queues.
        done = _step("stopping the shop (flushes its telemetry)")
        done(f"exit {shop.stop()}")
        _wait_drained(status_url, DRAIN_TIMEOUT_S)  # so the Prometheus endpoint holds the shop's last export
        result = _snapshot(out_dir, status_url, status_default, load, prometheus_url, started, children)
        done = _step("stopping the sidecar (flushes the files)")
        done(f"exit {sidecar.stop()}")
        result.final_counts = _final_counts(sidecar.stderr_path)
        result.trace_ratio = trace_ratio
        result.seconds = time.monotonic() - started
        return result
    finally:
        # Ctrl-C while stopping must not leave anything behind: ignore it until the children are gone.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for child in reversed(children):
            child.stop()
        if stubs is not None:
            stubs.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)


def _snapshot(out_dir: Path, status_url: str, status_default: bool, load: LoadResult, prometheus_url: str,
              started: float, children: Sequence[Child]) -> DemoRun:
    """What the sidecar's endpoints say now (also saved under ``out_dir``), with counts from status.json."""
    cardinality_raw = _get(status_url + "cardinality")
    metrics_raw = _get(status_url + "metrics") or b""
    status_raw = _get(status_url + "status.json")
    prometheus_raw = _get(prometheus_url) or b""
    for name, raw in (("cardinality.json", cardinality_raw), ("status.json", status_raw),
                      ("self-metrics.prom", metrics_raw), ("prometheus.prom", prometheus_raw)):
        if raw:
            (out_dir / name).write_bytes(raw)
    status = json.loads(status_raw) if status_raw else None
    return DemoRun(
        out_dir=out_dir, status_url=status_url, status_port_is_default=status_default, load=load,
        cardinality=json.loads(cardinality_raw) if cardinality_raw else None,
        self_metrics=metrics_raw.decode(errors="replace"),
        status=status,
        final_counts=_live_counts(status),
        prometheus_url=prometheus_url,
        prometheus_text=prometheus_raw.decode(errors="replace"),
        seconds=time.monotonic() - started,
        pids={c.name: c.pid for c in children},
    )


def _truthy(raw: str) -> bool:
    return raw.strip().lower() in ("1", "true", "yes", "on")


def seconds_from_env(env: Mapping[str, str]) -> float:
    """``DEMO_SECONDS`` (default 20, at least 5); ``0`` means the default duration and then keep running."""
    raw = env.get("DEMO_SECONDS", "").strip()
    if not raw:
        return DEFAULT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"DEMO_SECONDS must be a number of seconds, got {raw!r}") from None
    if value == 0:
        return DEFAULT_SECONDS
    if not 5 <= value < math.inf:
        raise SystemExit(f"DEMO_SECONDS must be 5 or more (start-up alone takes a few seconds; 0 keeps the demo "
                         f"running until Ctrl-C), got {raw!r}")
    return value


def trace_ratio_from_env(env: Mapping[str, str]) -> float:
    """``DEMO_TRACE_RATIO``: the share of traces the shop keeps, above 0 and at most 1 (default 0.1)."""
    raw = env.get("DEMO_TRACE_RATIO", "").strip()
    if not raw:
        return DEFAULT_TRACE_RATIO
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:
        raise SystemExit(f"DEMO_TRACE_RATIO must be a share of traces above 0 and at most 1, got {raw!r}")
    return value


def keep_from_env(env: Mapping[str, str]) -> bool:
    """The keep-running mode: ``DEMO_KEEP=1`` (after ``DEMO_SECONDS`` of load) or ``DEMO_SECONDS=0``."""
    if _truthy(env.get("DEMO_KEEP", "")):
        return True
    try:
        return float(env.get("DEMO_SECONDS", "").strip() or "nan") == 0
    except ValueError:
        return False


__all__ = ["DemoRun", "Interrupted", "StartError", "keep_from_env", "run", "seconds_from_env", "trace_ratio_from_env"]
