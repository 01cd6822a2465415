"""Run ``python -m ecs_otel.emulator`` as a real process from tests.

>>> emu = EmulatorProcess(tmp_path, "--scenario", "fargate-cgroupv1")
>>> monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", emu.uri)
>>> emu.set_fault("hang")        # the endpoint stops answering, mid-run
>>> emu.set_fault(None)          # healthy again
>>> emu.stop()

The ``ecs_emulator`` fixture yields a synthesised emulator and stops it afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.process import stop_process, wait_for_port_file

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 20.0


class EmulatorProcess:
    """The emulator on a free loopback port; ``uri`` is the advertised container's V4 URI."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        stem = f"emulator-{os.getpid()}-{time.monotonic_ns()}"
        port_file = tmp_path / f"{stem}.port"
        #: The emulator's stderr (a file, so a chatty emulator can never block on a full pipe).
        self.log_path = tmp_path / f"{stem}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ecs_otel.emulator", "--port", "0", "--port-file", str(port_file), *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        try:
            self.port = int(wait_for_port_file(self.proc, port_file, "emulator", START_TIMEOUT_S, self.log_path))
        except RuntimeError:
            self.stop()
            raise
        self.base_url = f"http://127.0.0.1:{self.port}"
        info = self.control()
        self.uri: str = info["uri"]
        #: container name -> V4 URI, for every container of the emulated task.
        self.uris: dict[str, str] = info["uris"]

    def _call(self, method: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.base_url + "/__control", data=data, method=method)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def control(self) -> dict[str, Any]:
        """Current fault, delay, per-route request counts and URIs."""
        return self._call("GET")

    def set_fault(self, name: str | None, delay_s: float | None = None) -> None:
        """Switch the fault (``slow``, ``hang``, ``500``, ``404``, ``malformed`` or ``None``) at run time."""
        payload: dict[str, Any] = {"fault": name}
        if delay_s is not None:
            payload["delay_s"] = delay_s
        self._call("POST", payload)

    def requests(self) -> dict[str, int]:
        """How many metadata requests each route got (``container``, ``task``, ``task/stats`` ...)."""
        return self.control()["requests"]

    def reset_counts(self) -> None:
        self._call("POST", {"reset_counts": True})

    def stop(self) -> None:
        stop_process(self.proc)
        self._log.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def ecs_emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    """A synthesised ECS metadata endpoint (2 containers) running as a real process."""
    emu = EmulatorProcess(tmp_path, "--synthesize")
    try:
        yield emu
    finally:
        emu.stop()
