"""A short bounded run of ``python -m tests.fuzz`` inside the normal test run."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.__main__ import run_random
from tests.fuzz.targets import TARGETS
from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT


def test_atheris_short_run(tmp_path: Path) -> None:
    if importlib.util.find_spec("atheris") is None:
        pytest.skip("atheris not installed (pip install -e '.[fuzz]'); the hypothesis tests still run")
    proc = subprocess.run([sys.executable, "-m", "tests.fuzz", "--runs", "300", "--seconds", "20",
                           "--artifacts", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert proc.stdout.count("exit 0") == 3 and not list(tmp_path.iterdir())


def test_fallback_random_runner(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What ``make fuzz`` does without atheris: seeded random inputs through every target."""
    for name in TARGETS:
        assert run_random(name, seconds=5, runs=150, artifacts=tmp_path, seed=7), capsys.readouterr().out
    assert capsys.readouterr().out.count("150 random inputs, no failure") == len(TARGETS)
    assert not list(tmp_path.iterdir())
