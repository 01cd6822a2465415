"""The library's own diagnostics: ``ECS_OTEL_LOG_LEVEL=DEBUG`` shows why ECS detection was skipped.

The README's troubleshooting advice used to print nothing: the "not on ECS" line was logged while the
environment was being detected, before logging was set up, and met a root logger still at ``WARNING``.
Each case is a real ``python -c 'import ecs_otel.auto'`` outside ECS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
NOT_ON_ECS = "not on ECS (no ECS_CONTAINER_METADATA_URI_V4)"


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("ECS_OTEL_", "OTEL_", "ECS_CONTAINER_METADATA", "AWS_EXECUTION_ENV"))}
    clean.update({"PYTHONPATH": str(ROOT), "OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none",
                  "OTEL_LOGS_EXPORTER": "none", **env})
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


APP = "import ecs_otel.auto\nimport logging\nlogging.getLogger('app').info('app info line')\n"


def test_debug_level_off_ecs_shows_the_not_on_ecs_line_without_taking_over_logging() -> None:
    proc = _run(APP, ECS_OTEL_LOG_LEVEL="DEBUG")
    [line] = [ln for ln in proc.stderr.splitlines() if NOT_ON_ECS in ln]
    assert " DEBUG [ecs_otel] " in line
    # Only the library's logger was given a level and a handler: the app's logging is still its own.
    assert "app info line" not in proc.stdout + proc.stderr


def test_without_a_level_the_line_stays_quiet() -> None:
    proc = _run(APP)
    assert NOT_ON_ECS not in proc.stdout + proc.stderr


def test_with_json_logging_forced_the_line_is_a_json_record() -> None:
    proc = _run(APP, ECS_OTEL_LOG_LEVEL="DEBUG", ECS_OTEL_LOGGING="true")
    records = [json.loads(ln) for ln in proc.stdout.splitlines()]
    mine = [r for r in records if NOT_ON_ECS in r["message"]]
    assert len(mine) == 1 and mine[0]["logger"] == "ecs_otel" and mine[0]["level"] == "DEBUG", records
    # Replayed in order, before the app's own line.
    assert records.index(mine[0]) < [r["message"] for r in records].index("app info line")


@pytest.mark.parametrize("spec", ["DEBUG", "WARNING,ecs_otel=DEBUG"])
def test_an_app_that_configured_logging_gets_the_line_through_its_own_handler(spec: str) -> None:
    code = "import logging, sys\nlogging.basicConfig(stream=sys.stdout, format='APP %(levelname)s %(name)s %(message)s')\n"
    proc = _run(code + APP, ECS_OTEL_LOG_LEVEL=spec)
    assert f"APP DEBUG ecs_otel ecs_otel: {NOT_ON_ECS}" in proc.stdout, proc.stdout + proc.stderr
    assert NOT_ON_ECS not in proc.stderr
