"""Fixtures of the fault suite: sidecars that carry secrets and are checked for leaks when they stop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.secrets import SECRET_ENV, leaks
from tests.support.sidecar import SidecarProcess


@pytest.fixture
def fault_sidecar(tmp_path: Path) -> Iterator[Callable[..., SidecarProcess]]:
    """``fault_sidecar(env)`` starts a sidecar with the suite's secrets in its environment.

    At teardown every sidecar is stopped and its complete stdout and stderr must contain none
    of the secrets: the fault suite's whole output is the leak test.
    """
    started: list[SidecarProcess] = []

    def make(env: dict[str, str] | None = None, config_toml: str | None = None, **kw: Any) -> SidecarProcess:
        proc = SidecarProcess(tmp_path, {**SECRET_ENV, **(env or {})}, config_toml, **kw)
        started.append(proc)
        return proc

    yield make
    problems = []
    for proc in started:
        _, out, err = proc.terminate(timeout=20)
        found = leaks(out + err)
        if found:
            problems.append(f"sidecar {proc.proc.pid} output leaks {found}")
    assert not problems, problems
