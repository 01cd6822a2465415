"""``python -m examples.detect_resource`` (what ``make demo`` runs for now) shows a real resource."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_detect_resource_example_prints_the_detected_resource() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "examples.detect_resource"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert "export ECS_CONTAINER_METADATA_URI_V4=http://127.0.0.1:" in out.stdout
    rows = dict(line.split(None, 1) for line in out.stdout.splitlines() if line.startswith(("aws.", "cloud.", "container.")))
    assert rows["cloud.platform"] == "aws_ecs"
    assert rows["container.name"] == "app"
    assert rows["aws.ecs.launchtype"] == "fargate"
    assert rows["aws.ecs.task.id"] in rows["aws.ecs.task.arn"]
