"""Run the real sidecar (``python -m sidecar``) as a subprocess on free ports, for tests.

``SidecarProcess(tmp_path, env, config_toml)`` starts it with ports 0 and reads the bound
ports back from ``--ports-file``; ``metrics()`` parses ``/metrics`` into
``{(name, frozenset(labels.items())): value}``; ``terminate()`` sends SIGTERM and returns
the exit code and captured output.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.process import stop_process, wait_for_port_file

ROOT = Path(__file__).resolve().parents[2]
MetricKey = tuple[str, frozenset[tuple[str, str]]]
_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text: str) -> dict[MetricKey, float]:
    out: dict[MetricKey, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        labels = frozenset((k, v.replace('\\"', '"').replace("\\\\", "\\")) for k, v in _LABEL.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


class Metrics(dict[MetricKey, float]):
    """Parsed self-metrics with helpers to read one series or a sum over matching series."""

    def get_value(self, name: str, **labels: str) -> float:
        return self.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        want = set(labels.items())
        return sum(v for (n, ls), v in self.items() if n == name and want <= ls)


class SidecarProcess:
    def __init__(
        self,
        tmp_path: Path,
        env: dict[str, str],
        config_toml: str | None = None,
        *,
        wait: bool = True,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.tmp_path = tmp_path
        tag = f"{os.getpid()}-{time.monotonic_ns()}"
        self.ports_file = tmp_path / f"sidecar-ports-{tag}.json"
        self.stdout_path = tmp_path / f"sidecar-{tag}.out"
        self.stderr_path = tmp_path / f"sidecar-{tag}.err"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_", "ECS_CONTAINER"))}
        full_env.update({
            "ECS_OTEL_OTLP_HTTP_PORT": "0",
            "ECS_OTEL_OTLP_GRPC_PORT": "0",
            "ECS_OTEL_STATUS_PORT": "0",
            "PYTHONUNBUFFERED": "1",
        })
        full_env.update(env)
        if config_toml is not None:
            path = tmp_path / f"sidecar-{tag}.toml"
            path.write_text(config_toml)
            full_env["ECS_OTEL_SIDECAR_CONFIG"] = str(path)
        self._out = self.stdout_path.open("wb")
        self._err = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sidecar", "--ports-file", str(self.ports_file)],
            cwd=ROOT, env=full_env, stdout=self._out, stderr=self._err,
        )
        self.ports: dict[str, Any] = {}
        self._exit: tuple[int, str, str] | None = None
        if wait:
            self.wait_started(start_timeout_s)

    def wait_started(self, timeout_s: float = 30.0) -> None:
        try:
            text = wait_for_port_file(self.proc, self.ports_file, "sidecar", timeout_s, self.stderr_path)
        except RuntimeError:
            self.terminate()
            raise
        self.ports = json.loads(text)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['otlp_http']}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.ports['otlp_grpc']}"

    @property
    def status_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['status']}"

    def get(self, path: str, timeout_s: float = 10.0) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.status_url + path, timeout=timeout_s) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def metrics(self) -> Metrics:
        status, body = self.get("/metrics")
        assert status == 200, body
        return Metrics(parse_prometheus(body.decode()))

    def status(self) -> dict[str, Any]:
        return json.loads(self.get("/status.json")[1])

    def wait_metrics(self, predicate: Callable[[Metrics], bool], timeout_s: float = 20.0) -> Metrics:
        deadline = time.monotonic() + timeout_s
        m = self.metrics()
        while not predicate(m):
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for sidecar metrics condition")
            time.sleep(0.1)
            m = self.metrics()
        return m

    def send_signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def terminate(self, timeout: float = 30.0) -> tuple[int, str, str]:
        """SIGTERM, wait (then SIGKILL); returns (exit code, stdout, stderr). Safe to call twice."""
        if self._exit is not None:
            return self._exit
        stop_process(self.proc, timeout)
        self._out.close()
        self._err.close()
        self._exit = (self.proc.returncode, self.stdout_path.read_text(errors="replace"),
                      self.stderr_path.read_text(errors="replace"))
        return self._exit

    def log_records(self) -> list[dict[str, Any]]:
        """The sidecar's JSON log lines so far (stderr)."""
        out = []
        for line in self.stderr_path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out


def run_sidecar_command(args: list[str], env: dict[str, str], timeout_s: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sidecar ARGS`` to completion (healthcheck, validate-config, a bad config)."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_", "ECS_CONTAINER"))}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "sidecar", *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, timeout=timeout_s)


@pytest.fixture
def sidecar_factory(tmp_path: Path) -> Iterator[Callable[..., SidecarProcess]]:
    """``sidecar_factory(env, config_toml=None)`` starts a sidecar that is stopped after the test."""
    started: list[SidecarProcess] = []

    def make(env: dict[str, str] | None = None, config_toml: str | None = None, **kw: Any) -> SidecarProcess:
        proc = SidecarProcess(tmp_path, env or {}, config_toml, **kw)
        started.append(proc)
        return proc

    try:
        yield make
    finally:
        for proc in started:
            proc.terminate(timeout=15)


def otlp_env(sink: Any, **extra: str) -> dict[str, str]:
    return {
        "ECS_OTEL_OTLP_ENDPOINT": sink.url,
        "ECS_OTEL_OTLP_COMPRESSION": "none",
        "ECS_OTEL_TRACES_EXPORTERS": "otlp",
        "ECS_OTEL_METRICS_EXPORTERS": "none",
        "ECS_OTEL_LOGS_EXPORTERS": "none",
        "ECS_OTEL_BATCH_TIMEOUT": "0.1",
        "ECS_OTEL_RETRY_INITIAL": "0.05",
        "ECS_OTEL_RETRY_MAX_INTERVAL": "0.3",
        **extra,
    }
