"""Serve recorded documents: a named scenario from the repository's fixtures, or explicit files.

Scenarios pair task metadata with the task stats captured in the same task (matching Docker ids),
so a scraper sees a consistent task. They need the fixture directory of a source checkout
(``tests/fixtures/ecs``) or one given with ``--fixtures-dir``.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where the fixtures live in a source checkout (absent from an installed wheel).
DEFAULT_FIXTURES_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "ecs"


@dataclass(frozen=True, slots=True)
class Scenario:
    description: str
    task: str
    container_name: str
    task_stats: str | None = None
    container_stats: str | None = None
    task_with_tags: str | None = None
    container: str | None = None
    tasks: str | None = None


SCENARIOS: dict[str, Scenario] = {
    "fargate-cgroupv1": Scenario(
        "Fargate 2025 capture: 3 containers (one STOPPED, stats null), cgroup v1 stats, awslogs",
        task="fargate-task-metadata-multi-container.json",
        task_stats="fargate-task-stats-cgroupv1.json",
        container_name="ecs-exporter",
    ),
    "ec2-cgroupv2": Scenario(
        "EC2 2025 capture: bridge mode, service name, 3 containers (one STOPPED, stats {}), cgroup v2 stats",
        task="ec2-task-metadata-service-multi-container.json",
        task_stats="ec2-task-stats-cgroupv2.json",
        container_name="ecs-exporter",
    ),
    "fargate-stopped": Scenario(
        "Fargate 2021: essential container plus a STOPPED one (exit code 42, stats {})",
        task="fargate-task-metadata-stopped-container.json",
        task_stats="fargate-task-stats-stopped-empty-object.json",
        container_name="essential",
    ),
    "fargate-2020": Scenario(
        "Fargate 2020 single container with task-level limits and IPv6",
        task="fargate-task-metadata-2020.json",
        container_name="curl",
    ),
    "ec2-awsvpc": Scenario(
        "EC2 awsvpc task with the ~internal~ecs~pause container (AWS docs example)",
        task="ec2-task-metadata-awsvpc-pause.json",
        container_stats="ec2-container-stats-bridge-docs.json",
        container_name="curl",
    ),
    "ec2-tags": Scenario(
        "EC2 service task; /taskWithTags returns task and container-instance tags",
        task="ec2-task-metadata-service-docs.json",
        task_with_tags="ec2-task-metadata-with-tags-docs.json",
        container_name="curl",
    ),
    "ec2-tags-error": Scenario(
        "EC2 service task; /taskWithTags carries Errors[] (AccessDenied on ListTagsForResource)",
        task="ec2-task-metadata-service-docs.json",
        task_with_tags="ec2-task-metadata-with-tags-error-docs.json",
        container_name="curl",
    ),
    "managed-instances": Scenario(
        "ECS Managed Instances: /tasks array; the served task is the service task (web-frontend)",
        task="managed-instances-daemon-tasks-metadata.json#1",
        tasks="managed-instances-daemon-tasks-metadata.json",
        container_name="nginx-proxy",
    ),
}


def load_json(path: Path) -> Any:
    """A JSON file, or element ``N`` of a JSON array with ``file.json#N``."""
    name, _, index = str(path).partition("#")
    with open(name, encoding="utf-8") as fh:
        doc = json.load(fh)
    if index:
        if not isinstance(doc, list):
            raise ValueError(f"{name}: '#{index}' given but the file is not a JSON array")
        doc = doc[int(index)]
    return doc


def container_id_of(container: dict[str, Any]) -> str:
    """The path id of a container: its Docker id, else a slug of its name."""
    docker_id = container.get("DockerId")
    if isinstance(docker_id, str) and docker_id:
        return docker_id
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", str(container.get("Name", "container"))).strip("-") or "container"


class FixtureSource:
    """Fixed documents; each of the task's containers is reachable under its own id."""

    def __init__(
        self,
        task: dict[str, Any],
        *,
        container_name: str | None = None,
        container: dict[str, Any] | None = None,
        task_stats: dict[str, Any] | None = None,
        container_stats: dict[str, Any] | None = None,
        task_with_tags: dict[str, Any] | None = None,
        tasks: list[dict[str, Any]] | None = None,
    ) -> None:
        if not isinstance(task, dict) or not isinstance(task.get("Containers", []), list):
            raise ValueError("the task document must be a JSON object with a Containers list")
        self._task = task
        self._task_stats = task_stats if task_stats is not None else {}
        self._task_with_tags = task_with_tags
        self._tasks = tasks
        self._containers: dict[str, dict[str, Any]] = {}
        for entry in task.get("Containers", []):
            if isinstance(entry, dict):
                self._containers[container_id_of(entry)] = entry
        chosen: str | None = None
        if container is not None:
            chosen = container_id_of(container)
            self._containers[chosen] = container
        elif container_name is not None:
            chosen = next((cid for cid, c in self._containers.items() if c.get("Name") == container_name), None)
            if chosen is None:
                names = ", ".join(str(c.get("Name")) for c in self._containers.values())
                raise ValueError(f"no container named {container_name!r} in the task (have: {names})")
        else:
            chosen = next((cid for cid, c in self._containers.items() if c.get("Type") != "CNI_PAUSE"), None)
        if chosen is None:
            raise ValueError("the task has no container to serve")
        self._default = chosen
        self._container_stats = container_stats

    @classmethod
    def from_scenario(
        cls, name: str, fixtures_dir: Path = DEFAULT_FIXTURES_DIR, *, container_name: str | None = None
    ) -> FixtureSource:
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
        if not fixtures_dir.is_dir():
            raise ValueError(f"fixture directory {fixtures_dir} not found (scenarios need a source checkout "
                             "or --fixtures-dir)")
        s = SCENARIOS[name]

        def opt(file: str | None) -> Any:
            return None if file is None else load_json(fixtures_dir / file)

        return cls(
            load_json(fixtures_dir / s.task),
            container_name=container_name or s.container_name,
            container=opt(s.container),
            task_stats=opt(s.task_stats),
            container_stats=opt(s.container_stats),
            task_with_tags=opt(s.task_with_tags),
            tasks=opt(s.tasks),
        )

    def container_ids(self) -> list[str]:
        return [self._default, *(cid for cid in self._containers if cid != self._default)]

    def container(self, container_id: str) -> dict[str, Any] | None:
        return self._containers.get(container_id)

    def container_stats(self, container_id: str) -> dict[str, Any] | None:
        if container_id not in self._containers:
            return None
        if container_id == self._default and self._container_stats is not None:
            return self._container_stats
        docker_id = self._containers[container_id].get("DockerId")
        stats = self._task_stats.get(docker_id) if isinstance(docker_id, str) else None
        return stats if stats is not None else {}

    def task(self) -> dict[str, Any]:
        return self._task

    def task_with_tags(self) -> dict[str, Any]:
        if self._task_with_tags is not None:
            return self._task_with_tags
        doc = copy.deepcopy(self._task)
        doc.setdefault("TaskTags", {})
        doc.setdefault("ContainerInstanceTags", {})
        return doc

    def task_stats(self) -> dict[str, Any]:
        return self._task_stats

    def tasks(self) -> list[dict[str, Any]] | None:
        return self._tasks
