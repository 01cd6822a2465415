"""End to end: an app with Application Signals on and a trace sampling ratio of 0 serves requests;
the real sidecar's cloudwatch exporter writes the RED metrics to moto as the CloudWatch agent would.

Every request is counted although no trace is sampled: ``Latency`` sample counts equal the requests
served, ``Error``/``Fault`` sums equal the 4xx/5xx served, per operation and per dependency.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from ecs_otel.metadata import parse_container, parse_task
from ecs_otel.resource import default_service_version, task_attributes
from sidecar.exporters.cloudwatch._internal.application_signals import (
    DEPENDENCY_DIMENSION_SETS,
    LOG_GROUP,
    NAMESPACE,
    SERVICE_DIMENSION_SETS,
    VERSION_DIMENSION_SET,
)
from sidecar.exporters.cloudwatch._internal.naming import placeholders
from tests.aws.aws_documents import validate_emf
from tests.aws.emf_schema import validate
from tests.aws.moto_process import MotoProcess
from tests.support.aws import read_all
from tests.support.emulator import EmulatorProcess
from tests.support.paths import REPO_ROOT
from tests.support.polling import wait_for
from tests.support.process import stop_process, wait_for_port_file
from tests.support.sidecar import SidecarProcess, sidecar_factory  # noqa: F401 - fixture

ROOT = REPO_ROOT
SERVED = {"/ok": 6, "/missing": 3, "/boom": 2}


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess(tmp_path)
    try:
        yield emu
    finally:
        emu.stop()


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def _sum(events: list[dict[str, Any]], metric: str, field: str, **dims: str) -> float:
    return sum(e[metric][field] for e in events if metric in e and all(e.get(k) == v for k, v in dims.items()))


def test_red_metrics_from_every_request_reach_application_signals_log_group(
    moto: MotoProcess,
    aws_env: dict[str, str],
    emulator: EmulatorProcess,
    sidecar_factory: Callable[..., SidecarProcess],  # noqa: F811
    tmp_path: Path,
) -> None:
    with urllib.request.urlopen(emulator.uri + "/task", timeout=10) as resp:
        task = parse_task(json.loads(resp.read()))
    with urllib.request.urlopen(emulator.uri, timeout=10) as resp:
        container = parse_container(json.loads(resp.read()))
    names = placeholders(task_attributes(task))
    version = default_service_version(task, container)  # what the app's resource says, by default
    assert version
    unique = uuid.uuid4().hex[:8]
    table = f"orders-{unique}"
    ddb = botocore.session.get_session().create_client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")  # fmt: skip
    sidecar = sidecar_factory({
        **moto.env(),
        "ECS_CONTAINER_METADATA_URI_V4": emulator.uri,
        "ECS_OTEL_METRICS_EXPORTERS": "cloudwatch",
        "ECS_OTEL_TRACES_EXPORTERS": "debug",
        "ECS_OTEL_LOGS_EXPORTERS": "debug",
        "ECS_OTEL_CLOUDWATCH_METRICS_LOG_GROUP": f"/e2e/{unique}/metrics",
    })
    app_env = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_", "ECS_CONTAINER"))}
    app_env.update({
        **moto.env(),
        "ECS_CONTAINER_METADATA_URI_V4": emulator.uri,
        "OTEL_AWS_APPLICATION_SIGNALS_ENABLED": "true",
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0",
        "OTEL_SERVICE_NAME": f"shop-{unique}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": sidecar.http_url,
        "OTEL_METRIC_EXPORT_INTERVAL": "1000",  # several exports: the deltas must add up
        "ECS_OTEL_RUNTIME_METRICS": "false",
        "ECS_OTEL_LOGGING": "false",
        "APP_TABLE": table,
        "APP_DOWNSTREAM": sidecar.status_url + "/healthz",
        "PYTHONPATH": str(ROOT),
    })
    port_file = tmp_path / "app.port"
    log_path = tmp_path / "app.log"
    with log_path.open("wb") as log:
        app = subprocess.Popen([sys.executable, "-m", "tests.ecs_otel.app_signals.app", str(port_file)], cwd=ROOT,
                               env=app_env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            port = int(wait_for_port_file(app, port_file, "app", 60, log_path))
            codes = Counter()
            for path, times in SERVED.items():
                for _ in range(times):
                    codes[_get(f"http://127.0.0.1:{port}{path}")] += 1
            assert codes == {200: SERVED["/ok"], 404: SERVED["/missing"], 500: SERVED["/boom"]}
            app.terminate()  # SIGTERM: ecs_otel flushes its metrics before the process exits
            assert app.wait(30) is not None
        finally:
            stop_process(app)

    service = f"shop-{unique}"
    environment = f"ecs:{names['cluster']}"

    def events() -> list[dict[str, Any]]:
        found = [validate(e["message"]) for e in read_all(aws_env, LOG_GROUP, names["task_id"])]
        found = [e for e in found if e.get("Service") == service]
        served = _sum(found, "Latency", "Count", **{"Telemetry.Source": "LocalRootSpan"})
        return found if served >= sum(SERVED.values()) else []

    found = wait_for(events, timeout_s=60)
    raw = [e["message"] for e in read_all(aws_env, LOG_GROUP, names["task_id"])]
    for message in raw:
        validate_emf(message)

    entries = [e for e in found if e.get("Telemetry.Source") == "LocalRootSpan"]
    by_operation = {op: _sum(entries, "Latency", "Count", Operation=op) for op in {e["Operation"] for e in entries}}
    assert by_operation == {"GET /ok": 6, "GET /missing": 3, "GET /boom": 2}
    assert _sum(entries, "Error", "Sum", Operation="GET /missing") == SERVED["/missing"]
    assert _sum(entries, "Error", "Sum") == SERVED["/missing"]
    assert _sum(entries, "Fault", "Sum", Operation="GET /boom") == SERVED["/boom"]
    assert _sum(entries, "Fault", "Sum") == SERVED["/boom"]
    # The per-version fault rate a deployment alarm watches (examples/deployment-alarm.json).
    assert _sum(entries, "Fault", "Sum", Version=version) == SERVED["/boom"]
    assert _sum(entries, "Fault", "Count", Version=version) == sum(SERVED.values())
    for e in entries:
        assert e["Environment"] == environment
        assert e["PlatformType"] == "AWS::ECS" and e["ECS.Cluster"] == names["cluster"]
        directive = e["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == NAMESPACE
        assert directive["Dimensions"] == [*SERVICE_DIMENSION_SETS, VERSION_DIMENSION_SET]
        assert e["Version"] == version
        assert {m["Name"]: m.get("Unit") for m in directive["Metrics"]}["Latency"] == "Milliseconds"

    calls = [e for e in found if e.get("Telemetry.Source") == "ClientSpan"]
    dynamo = [e for e in calls if e.get("RemoteService") == "AWS::DynamoDB"]
    assert _sum(dynamo, "Latency", "Count") == SERVED["/ok"]
    assert {(e["Operation"], e["RemoteOperation"], e["RemoteResourceType"], e["RemoteResourceIdentifier"])
            for e in dynamo} == {("GET /ok", "GetItem", "AWS::DynamoDB::Table", table)}  # fmt: skip
    assert all(e["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == DEPENDENCY_DIMENSION_SETS for e in dynamo)
    downstream = sidecar.status_url.split("//", 1)[1]
    http = [e for e in calls if e.get("RemoteService") == downstream]
    assert _sum(http, "Latency", "Count") == SERVED["/ok"]
    assert {e["RemoteOperation"] for e in http} == {"GET /healthz"}
    # Sampling at 0 exported no span at all, yet every request was counted above.
    assert not any(r.get("message", "").startswith("span") for r in sidecar.log_records())
