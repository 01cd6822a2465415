"""Virtualenvs holding another OpenTelemetry SDK release, for tests that must pass across the supported range.

The lowest release ``pyproject.toml`` allows is read from it (``opentelemetry-sdk>=X``), so the test follows
the declared range. A venv is built once per (release, Python version) under a cache directory outside the
work tree (``$ECS_OTEL_TEST_CACHE``, else ``$XDG_CACHE_HOME/ecs-otel``, else ``~/.cache/ecs-otel``) and
reused; it is built in a temporary directory and renamed into place, so an interrupted build is never
mistaken for a finished one. The library itself is not installed there: the tests put the checkout on
``PYTHONPATH``. When the venv cannot be built (no network to the package registry) the caller skips, saying
what is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support.paths import REPO_ROOT

#: What the fast span export needs: the SDK and the OTLP/HTTP exporter (the meta package's gRPC half is
#: not exercised by it and would only make the venv slower to build).
PACKAGES = ("opentelemetry-api", "opentelemetry-sdk", "opentelemetry-exporter-otlp-proto-http")
BUILD_TIMEOUT_S = 600


def lowest_allowed(package: str = "opentelemetry-sdk") -> str:
    """The lower bound of ``package`` among pyproject.toml's base dependencies (``>=1.30`` → ``1.30``)."""
    data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    for requirement in data["project"]["dependencies"]:
        name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip()
        if name == package:
            found = re.search(r">=\s*([0-9][0-9a-z.]*)", requirement)
            if found:
                return found.group(1)
    raise LookupError(f"pyproject.toml declares no lower bound for {package}")


def cache_root() -> Path:
    explicit = os.environ.get("ECS_OTEL_TEST_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ecs-otel"


def sdk_venv(version: str) -> tuple[Path | None, str]:
    """Python of a venv with ``PACKAGES`` at ``version`` (``==version``), and why when it is ``None``."""
    key = f"otel-sdk-{version}-py{sys.version_info.major}{sys.version_info.minor}"
    final = cache_root() / "test-venvs" / key
    python = final / "bin" / "python"
    if (final / ".complete").exists() and python.exists():
        return python, ""
    building = final.with_name(f"{key}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    pins = [f"{name}=={version}" for name in PACKAGES]
    try:
        building.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(building)], check=True, capture_output=True,
                       timeout=BUILD_TIMEOUT_S)
        subprocess.run([str(building / "bin" / "python"), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", *pins], check=True, capture_output=True, text=True,
                       timeout=BUILD_TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(building, ignore_errors=True)
        tail = (exc.stderr or "").strip().splitlines()[-1:] if isinstance(exc.stderr, str) else []
        return None, f"cannot install {' '.join(pins)} into a venv under {final.parent}: {' '.join(tail)}"
    except (OSError, subprocess.SubprocessError) as exc:
        shutil.rmtree(building, ignore_errors=True)
        return None, f"cannot build a venv with {' '.join(pins)} under {final.parent}: {exc}"
    (building / ".complete").write_text(" ".join(pins) + "\n")
    try:
        building.rename(final)
    except OSError:  # another run finished the same venv first: use that one
        shutil.rmtree(building, ignore_errors=True)
    if not python.exists():
        return None, f"venv {final} has no bin/python"
    return python, ""
