"""The container artefacts: the Fargate task definition and the sidecar Dockerfile.

No Docker engine runs here, so the Dockerfile is checked by reading it: the properties that
matter in production (non-root, healthcheck through the CLI, no toolchain in the final image,
read-only root filesystem friendly, no architecture-specific steps) are all visible in the text.
"""

from __future__ import annotations

import json
import re
import shlex

import botocore.session
import pytest
from botocore.validate import ParamValidator

from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
TASK_DEF = ROOT / "examples" / "task-definition.json"
DOCKERFILE = ROOT / "sidecar" / "Dockerfile"
ROLE_ARN = re.compile(r"^arn:aws:iam::\d{12}:role/[\w+=,.@/-]+$")


@pytest.fixture(scope="module")
def task_def() -> dict:
    return json.loads(TASK_DEF.read_text())


def test_task_definition_matches_the_ecs_api_model(task_def: dict) -> None:
    model = botocore.session.get_session().get_service_model("ecs")
    shape = model.operation_model("RegisterTaskDefinition").input_shape
    report = ParamValidator().validate(task_def, shape)
    assert not report.has_errors(), report.generate_report()


def test_task_definition_wiring(task_def: dict) -> None:
    assert task_def["requiresCompatibilities"] == ["FARGATE"] and task_def["networkMode"] == "awsvpc"
    assert ROLE_ARN.match(task_def["taskRoleArn"]) and ROLE_ARN.match(task_def["executionRoleArn"])
    containers = {c["name"]: c for c in task_def["containerDefinitions"]}
    sidecar, app = containers["otel-sidecar"], containers["app"]
    assert sidecar["essential"] is True
    assert sidecar["healthCheck"]["command"] == ["CMD", "ecs-otel-sidecar", "healthcheck"]
    assert {"containerName": "otel-sidecar", "condition": "HEALTHY"} in app["dependsOn"]
    for c in containers.values():
        assert c["logConfiguration"]["logDriver"] == "awslogs"
        assert {"awslogs-group", "awslogs-region", "awslogs-stream-prefix"} <= set(
            c["logConfiguration"]["options"]
        )
    # read-only root filesystem with /tmp on task storage, as the image expects
    assert sidecar["readonlyRootFilesystem"] is True
    volumes = {v["name"] for v in task_def["volumes"]}
    assert [m["containerPath"] for m in sidecar["mountPoints"] if m["sourceVolume"] in volumes] == ["/tmp"]
    # the sidecar gets time to flush after SIGTERM (its default flush budget is 10 s)
    shutdown = {e["name"]: e["value"] for e in sidecar["environment"]}.get("ECS_OTEL_SHUTDOWN_TIMEOUT", "10")
    assert sidecar["stopTimeout"] > float(shutdown)
    app_env = {e["name"]: e["value"] for e in app["environment"]}
    assert app_env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://127.0.0.1:4318"


def test_task_definition_uses_only_settings_that_exist(task_def: dict) -> None:
    """Every ECS_OTEL_* variable in the example is declared somewhere in the code (no dead knobs)."""
    sources = "\n".join(
        p.read_text(encoding="utf-8") for d in ("sidecar", "ecs_otel") for p in (ROOT / d).rglob("*.py")
    )
    for container in task_def["containerDefinitions"]:
        for env in container.get("environment", []):
            assert env["name"].startswith(("OTEL_", "ECS_OTEL_")), env["name"]
            if env["name"].startswith("ECS_OTEL_"):
                assert f'"{env["name"]}"' in sources, f"{env['name']} is not a declared setting"


def _stages(text: str) -> list[list[tuple[str, str]]]:
    """Dockerfile instructions (continuations joined), grouped by FROM."""
    joined = re.sub(r"\\\n", " ", text)
    stages: list[list[tuple[str, str]]] = []
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((op, rest.strip()))
    return stages


def test_dockerfile_is_multi_stage_non_root_with_healthcheck() -> None:
    text = DOCKERFILE.read_text()
    stages = _stages(text)
    assert len(stages) >= 2
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.12-slim$", text, re.M)
    final = stages[-1]
    ops = [op for op, _ in final]
    users = [arg for op, arg in final if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    (health,) = [arg for op, arg in final if op == "HEALTHCHECK"]
    assert health.split("CMD", 1)[1].strip() == '["ecs-otel-sidecar", "healthcheck"]'
    assert ops.index("USER") < ops.index("ENTRYPOINT")
    final_runs = " ".join(arg for op, arg in final if op == "RUN")
    for tool in ("build-essential", "gcc", "g++", "make ", "apt-get install"):
        assert tool not in final_runs, f"final stage installs {tool!r}"
    assert "from=build" in final_runs and "--no-index" in final_runs  # installs only the built wheels
    build_runs = " ".join(arg for op, arg in stages[0] if op == "RUN")
    assert "pip wheel" in build_runs


def test_dockerfile_fits_a_read_only_root_and_any_arch() -> None:
    text = DOCKERFILE.read_text()
    final = _stages(text)[-1]
    env = " ".join(arg for op, arg in final if op == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env and "HOME=/tmp" in env and "TMPDIR=/tmp" in env
    assert ("WORKDIR", "/tmp") in final
    assert "compileall" in " ".join(
        arg for op, arg in final if op == "RUN"
    )  # .pyc baked in, none written later
    for arch in ("amd64", "arm64", "x86_64", "aarch64", "--platform"):
        assert arch not in "\n".join(f"{o} {a}" for s in _stages(text) for o, a in s), arch
    # every path copied into the build exists in the repository (build context = repo root)
    for op, arg in _stages(text)[0]:
        if op == "COPY" and "--from" not in arg:
            for src in shlex.split(arg)[:-1]:
                assert (ROOT / src).exists(), src
