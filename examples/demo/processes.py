"""The demo's child processes: started in their own session, stopped by PID, always.

Each child gets its own process group so a Ctrl-C in the terminal reaches only the driver,
which then stops the children in order (app first, so its last telemetry still reaches the
sidecar; the sidecar next, so it flushes to the files). Output goes to files under the
output directory: the terminal is kept for the summary.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


class StartError(RuntimeError):
    """A child did not come up; the message says which one and ends with its last log lines."""


class Child:
    def __init__(self, name: str, args: Sequence[str], env: Mapping[str, str], log_dir: Path,
                 ready_file: Path | None = None) -> None:
        self.name = name
        self.ready_file = ready_file
        self.stdout_path = log_dir / f"{name}.stdout.log"
        self.stderr_path = log_dir / f"{name}.stderr.log"
        self._out = self.stdout_path.open("wb")
        self._err = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, *args], env=dict(env), stdout=self._out, stderr=self._err,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, timeout_s: float) -> str:
        """The ready file's text once it exists; StartError if the child exits or time runs out."""
        assert self.ready_file is not None
        deadline = time.monotonic() + timeout_s
        while not self.ready_file.exists():
            if self.proc.poll() is not None:
                raise StartError(f"{self.name} exited with code {self.proc.returncode} while starting"
                                 f"{self._tail()}")
            if time.monotonic() > deadline:
                raise StartError(f"{self.name} did not start within {timeout_s:.0f} s{self._tail()}")
            time.sleep(0.05)
        return self.ready_file.read_text()

    def ready_json(self, timeout_s: float) -> dict[str, Any]:
        return json.loads(self.wait_ready(timeout_s))

    def _tail(self, lines: int = 8) -> str:
        self._err.flush()
        text = self.stderr_path.read_text(errors="replace").strip().splitlines()[-lines:]
        return (":\n    " + "\n    ".join(text)) if text else ""

    def stop(self, timeout_s: float = 15.0) -> int | None:
        """SIGTERM, wait, SIGKILL if needed; safe to call twice; returns the exit code."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._out.close()
        self._err.close()
        return self.proc.returncode
