"""Our detector reports at least what opentelemetry-sdk-extension-aws's AwsEcsResourceDetector does.

Both detectors run against the same emulator process, for every container of every fixture task.
Two attributes are deliberately different and excluded from the value comparison:

- ``container.name``: upstream uses ``socket.gethostname()`` (under awsvpc a random id like
  ``ip-10-0-2-61``); ours is the ECS container ``Name`` from the metadata.
- ``container.id``: upstream takes the last 64 characters of a long ``/proc/self/cgroup`` line
  (empty under cgroup v2 and wrong on Fargate, whose ids are ``<task>-<n>``); ours is the
  metadata's ``DockerId``.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from opentelemetry.sdk.extension.aws.resource.ecs import AwsEcsResourceDetector

from ecs_otel.resource import EcsResourceDetector
from tests.conftest import FIXTURES
from tests.support.emulator import EmulatorProcess

FROM_ELSEWHERE_UPSTREAM = {"container.name", "container.id"}

# (emulator arguments, label) for every task fixture, the two standalone container documents,
# and both tasks of the managed-instances array.
CASES = [
    *((["--task", str(FIXTURES / p.name)], p.stem) for p in sorted(FIXTURES.glob("*task-metadata*.json"))
      if not p.name.startswith("managed-instances")),
    (["--task", str(FIXTURES / "ec2-task-metadata-awsvpc-pause.json"),
      "--container", str(FIXTURES / "ec2-container-metadata-awsvpc.json")], "ec2-container-document"),
    (["--task", str(FIXTURES / "fargate-task-metadata-2020.json"),
      "--container", str(FIXTURES / "fargate-container-metadata.json")], "fargate-container-document"),
    (["--task", str(FIXTURES / "managed-instances-daemon-tasks-metadata.json") + "#0"], "managed-instances-0"),
    (["--task", str(FIXTURES / "managed-instances-daemon-tasks-metadata.json") + "#1"], "managed-instances-1"),
]


@pytest.mark.parametrize(("args", "label"), CASES, ids=[label for _, label in CASES])
def test_superset_of_upstream_with_same_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], label: str
) -> None:
    monkeypatch.delenv("ECS_CONTAINER_METADATA_URI", raising=False)
    with EmulatorProcess(tmp_path, *args) as emu:
        compared = 0
        for name, uri in emu.uris.items():
            monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", uri)
            upstream = dict(AwsEcsResourceDetector().detect().attributes)
            ours = dict(EcsResourceDetector().detect().attributes)
            assert ours, f"{label}/{name}: our detector found nothing"
            assert ours["container.name"] == name
            if not upstream:
                # Upstream gives up on containers without a ContainerARN (the pause container).
                with urllib.request.urlopen(uri, timeout=5) as resp:
                    container = json.loads(resp.read())
                assert "ContainerARN" not in container, f"{label}/{name}: upstream found nothing"
                continue
            missing = set(upstream) - set(ours)
            assert not missing, f"{label}/{name}: upstream has {sorted(missing)} which we lack"
            for key in set(upstream) - FROM_ELSEWHERE_UPSTREAM:
                assert ours[key] == upstream[key], f"{label}/{name}: {key}"
            compared += 1
        assert compared >= 1, f"{label}: no container comparable with upstream"
