"""Every example a user copies is checked: JSON against botocore's service models, the compose file
structurally (and as YAML when PyYAML is present), the server configurations by loading them."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from tests.support.paths import REPO_ROOT

ROOT = REPO_ROOT
EXAMPLES = ROOT / "examples"
TASK_DEFINITIONS = sorted(EXAMPLES.glob("task-definition*.json"))
IAM_POLICIES = sorted(EXAMPLES.glob("iam-policy*.json"))
DEPLOYMENT_ALARM = EXAMPLES / "deployment-alarm.json"
#: IAM's limit for a managed policy document, counted without whitespace.
MANAGED_POLICY_MAX_CHARS = 6144


def _input_shape(service: str, operation: str) -> Any:
    model = botocore.session.get_session().get_service_model(service)
    return model.operation_model(operation).input_shape


def _errors(params: dict[str, Any], shape: Any) -> str:
    report = ParamValidator().validate(params, shape)
    return report.generate_report() if report.has_errors() else ""


def test_every_json_example_is_covered() -> None:
    covered = set(TASK_DEFINITIONS) | set(IAM_POLICIES) | {DEPLOYMENT_ALARM}
    assert TASK_DEFINITIONS and IAM_POLICIES
    assert set(EXAMPLES.glob("*.json")) == covered, "a new kind of JSON example needs a validation here"


@pytest.mark.parametrize("path", TASK_DEFINITIONS, ids=lambda p: p.name)
def test_task_definition_matches_register_task_definition(path: Path) -> None:
    doc = json.loads(path.read_text())
    assert _errors(doc, _input_shape("ecs", "RegisterTaskDefinition")) == ""
    containers = {c["name"]: c for c in doc["containerDefinitions"]}
    sidecars = [c for c in containers.values() if "ecs-otel-sidecar" in c["image"]]
    assert len(sidecars) == 1, "one sidecar per task"
    sidecar = sidecars[0]
    assert sidecar["essential"] is True
    assert sidecar["healthCheck"]["command"][1:] == ["ecs-otel-sidecar", "healthcheck"]
    env = {e["name"]: e["value"] for e in sidecar.get("environment", [])}
    apps = [c for c in containers.values() if c is not sidecar]
    for app in apps:
        assert {"containerName": sidecar["name"], "condition": "HEALTHY"} in app.get("dependsOn", [])
        app_env = {e["name"]: e["value"] for e in app.get("environment", [])}
        endpoint = app_env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
        if doc.get("networkMode") == "bridge":
            # Containers in bridge mode have their own loopback: reach the sidecar by its link name,
            # and the sidecar must listen beyond 127.0.0.1.
            assert sidecar["name"] in app.get("links", [])
            assert endpoint == f"http://{sidecar['name']}:4318"
            assert env.get("ECS_OTEL_RECEIVER_HOST") == "0.0.0.0"
        else:
            assert endpoint == "http://127.0.0.1:4318"
    if doc.get("networkMode") == "bridge" and env.get("ECS_OTEL_RECEIVER_HOST") == "0.0.0.0":
        secret_names = {s["name"] for s in sidecar.get("secrets", [])}
        assert "ECS_OTEL_RECEIVER_TOKEN" in secret_names | set(env), "a receiver on 0.0.0.0 wants a token"
        for app in apps:
            assert "ECS_OTEL_RECEIVER_TOKEN" in {s["name"] for s in app.get("secrets", [])}


def test_validation_catches_a_broken_task_definition() -> None:
    doc = json.loads(TASK_DEFINITIONS[0].read_text())
    doc["containerDefinitions"][0]["memory"] = "a lot"
    doc["containerDefinitions"][0]["portMappings"] = [{"containerPort": 8080, "protocl": "tcp"}]
    report = _errors(doc, _input_shape("ecs", "RegisterTaskDefinition"))
    assert "memory" in report and "protocl" in report


@pytest.mark.parametrize("path", IAM_POLICIES, ids=lambda p: p.name)
def test_iam_policy_matches_create_policy_and_is_well_formed(path: Path) -> None:
    text = path.read_text()
    doc = json.loads(text)
    params = {"PolicyName": path.stem, "PolicyDocument": json.dumps(doc), "Description": f"ecs-otel {path.stem}"}
    assert _errors(params, _input_shape("iam", "CreatePolicy")) == ""
    assert len("".join(json.dumps(doc).split())) <= MANAGED_POLICY_MAX_CHARS
    assert doc["Version"] == "2012-10-17"
    statements = doc["Statement"]
    assert isinstance(statements, list) and statements
    sids = [s["Sid"] for s in statements if "Sid" in s]
    assert len(sids) == len(set(sids)), "Sids must be unique"
    for st in statements:
        assert st["Effect"] in ("Allow", "Deny")
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        assert actions and all(isinstance(a, str) and ":" in a and a.split(":")[0].islower() for a in actions)
        resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        assert resources and all(r == "*" or r.startswith("arn:") for r in resources)


def test_deployment_alarm_matches_put_metric_alarm_and_update_service() -> None:
    """The per-version fault-rate alarm ECS watches during a deployment: both calls validate against
    botocore's models, the alarm reads the series the sidecar publishes, and the service names it."""
    from sidecar.exporters.cloudwatch._internal.application_signals import NAMESPACE, VERSION_DIMENSION_SET

    doc = json.loads(DEPLOYMENT_ALARM.read_text())
    assert set(doc) == {"PutMetricAlarm", "UpdateService"}
    alarm, service = doc["PutMetricAlarm"], doc["UpdateService"]
    assert _errors(alarm, _input_shape("cloudwatch", "PutMetricAlarm")) == ""
    assert _errors(service, _input_shape("ecs", "UpdateService")) == ""
    assert (alarm["Namespace"], alarm["MetricName"]) == (NAMESPACE, "Fault")
    assert [d["Name"] for d in alarm["Dimensions"]] == VERSION_DIMENSION_SET
    assert alarm["Statistic"] == "Average"  # Fault is a statistic set: its Average is the fault rate
    assert 0 < alarm["Threshold"] < 1
    alarms = service["deploymentConfiguration"]["alarms"]
    assert alarms["alarmNames"] == [alarm["AlarmName"]] and alarms["enable"] and alarms["rollback"]
    # Version is the task definition revision when the image tag is `latest`: the one being deployed.
    version = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}["Version"]
    assert service["taskDefinition"].rsplit(":", 1)[-1] == version


def test_validation_catches_a_broken_alarm() -> None:
    alarm = json.loads(DEPLOYMENT_ALARM.read_text())["PutMetricAlarm"]
    alarm["Threshold"] = "five percent"
    alarm["Dimension"] = alarm.pop("Dimensions")
    report = _errors(alarm, _input_shape("cloudwatch", "PutMetricAlarm"))
    assert "Threshold" in report and "Dimension" in report


def _compose() -> dict[str, Any]:
    path = EXAMPLES / "docker-compose.yml"
    yaml = pytest.importorskip("yaml", reason="PyYAML parses the compose file")
    return yaml.safe_load(path.read_text())


def test_docker_compose_wires_app_sidecar_and_emulator() -> None:
    compose = _compose()
    services = compose["services"]
    assert {"app", "sidecar", "emulator"} <= set(services)
    for name, svc in services.items():
        build = svc["build"]
        assert (EXAMPLES / build["context"] / build["dockerfile"]).is_file(), name
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown {dep}"
    sidecar, app = services["sidecar"]["environment"], services["app"]["environment"]
    assert sidecar["ECS_OTEL_RECEIVER_HOST"] == "0.0.0.0"
    assert app["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://sidecar:4318"
    assert services["app"]["depends_on"]["sidecar"]["condition"] == "service_healthy"
    # The emulator's port in its command is the one the others ask for their metadata URI.
    assert "51678" in services["emulator"]["command"] and ":51678/" in sidecar["URI_SCRIPT"]
    compile(sidecar["URI_SCRIPT"], "URI_SCRIPT", "exec")  # the inline Python is valid
    for svc in ("app", "sidecar"):
        assert "$$(python -c \"$$URI_SCRIPT\"" in services[svc]["command"][0]


def test_gunicorn_config_loads_and_flushes_workers() -> None:
    conf = runpy.run_path(str(EXAMPLES / "servers" / "gunicorn.conf.py"))
    assert conf["wsgi_app"] == "examples.servers.flask_app:app"
    assert conf["workers"] >= 2 and conf["preload_app"] is True
    assert callable(conf["worker_exit"])
    from gunicorn.config import Config

    cfg = Config()
    for key in ("wsgi_app", "bind", "workers", "preload_app", "graceful_timeout", "worker_exit"):
        cfg.set(key, conf[key] if key != "bind" else [conf[key]])  # gunicorn validates each value
    assert cfg.worker_exit is not None
