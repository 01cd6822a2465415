"""Helpers for the library tests: run a real Python process against the OTLP sink and the emulator."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.emulator import EmulatorProcess, ecs_emulator  # noqa: F401  (fixture)
from tests.support.otlp_sink import SinkProcess
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
BIN = Path(sys.executable).parent


def base_env(sink: SinkProcess | None = None, emulator: EmulatorProcess | None = None, **extra: str) -> dict[str, str]:
    """A clean environment: no inherited OTEL_*/ECS_* settings, fast batch intervals."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ECS_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "OTEL_BLRP_SCHEDULE_DELAY": "200",
            "OTEL_METRIC_EXPORT_INTERVAL": "500",
        }
    )
    if sink is not None:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.url
    else:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{free_closed_port()}"
    if emulator is not None:
        env["ECS_CONTAINER_METADATA_URI_V4"] = emulator.uri
    env.update(extra)
    return env


_HELD: list[socket.socket] = []


def free_closed_port() -> int:
    """A loopback port where connections are refused, for the whole test session.

    The socket stays bound but never listens: a port merely released could be taken by the next server
    any test (or anything else on the machine) starts, and the app would export to it.
    """
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    _HELD.append(s)
    return int(s.getsockname()[1])


def write_script(tmp_path: Path, body: str, name: str = "app.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def run(args: list[str], env: dict[str, str], timeout: float = 40, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd or ROOT)


def run_timed(args: list[str], env: dict[str, str], timeout: float = 60,
              cwd: Path | None = None) -> tuple[subprocess.CompletedProcess[str], float]:
    """:func:`run`, and how long the child took from start to exit (seconds), for tests that bound an exit path."""
    started = time.monotonic()
    proc = run(args, env, timeout=timeout, cwd=cwd)
    return proc, time.monotonic() - started


@contextlib.contextmanager
def started_app(script: Path, env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """``python script`` running with pipes for its output; killed on the way out if it is still running."""
    proc = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def read_until(proc: subprocess.Popen[str], marker: str, timeout_s: float = 30) -> str:
    """The first stdout line of ``proc`` that contains ``marker``; fails with its stderr if it exits first or is late.

    The deadline is checked between lines: an app that prints nothing at all is caught by the caller's own timeout.
    """
    assert proc.stdout is not None and proc.stderr is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if marker in line:
            return line
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no {marker!r} from the app: {proc.stderr.read()}")


def terminate_timed(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[str, str, float]:
    """Send SIGTERM and wait for the exit: ``(stdout, stderr, seconds from the signal to the exit)``."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=timeout)
    return out, err, time.monotonic() - sent


def hexid(b64: str) -> str:
    """The sink returns protobuf JSON (bytes as base64); ids as lowercase hex."""
    import base64

    return base64.b64decode(b64).hex()


def attrs(kvs: list[dict[str, Any]] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs or []:
        value = kv.get("value", {})
        out[kv["key"]] = next(iter(value.values()), None) if value else None
    return out


def resource_spans(requests: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(resource attributes, span) for every span received."""
    out = []
    for r in requests:
        for rs in r["body"].get("resourceSpans", []):
            res = attrs(rs.get("resource", {}).get("attributes"))
            for ss in rs.get("scopeSpans", []):
                for span in ss.get("spans", []):
                    out.append((res, span))
    return out


def metric_names(requests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """metric name → resource attributes of one request carrying it."""
    out: dict[str, dict[str, Any]] = {}
    for r in requests:
        for rm in r["body"].get("resourceMetrics", []):
            res = attrs(rm.get("resource", {}).get("attributes"))
            for sm in rm.get("scopeMetrics", []):
                for m in sm.get("metrics", []):
                    out[m["name"]] = res
    return out


def log_records(requests: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    out = []
    for r in requests:
        for rl in r["body"].get("resourceLogs", []):
            res = attrs(rl.get("resource", {}).get("attributes"))
            for sl in rl.get("scopeLogs", []):
                for rec in sl.get("logRecords", []):
                    out.append((res, rec))
    return out


@pytest.fixture
def sink(otlp_sink: SinkProcess) -> Iterator[SinkProcess]:
    yield otlp_sink
