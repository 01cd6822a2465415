"""A sidecar holding a receiver token and static AWS credentials says none of them anywhere.

Logs are at INFO (the default) and at DEBUG, every AWS call is SigV4-signed (an ``Authorization`` header on every request)
and some are throttled, clients send wrong tokens: then the whole output and every status body
are searched. The fault suite runs the same check on every sidecar it starts.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from tests.faults.aws_stub import AwsStub
from tests.faults.otlp_client import PROTOBUF, send, trace_request
from tests.faults.secrets import AUTH, SECRET_ENV, leaks
from tests.sidecar.test_e2e_ingest import post

STATUS_PATHS = ("/metrics", "/status.json", "/", "/cardinality", "/history.json", "/healthz")


@pytest.mark.parametrize("level", [
    "INFO",
    "DEBUG",
    # botocore named explicitly: its signing logs are printed, and only the masking filter stands between
    # them and the output (header names may show, their values may not).
    "DEBUG,botocore=DEBUG",
])
def test_no_secret_in_any_output(tmp_path: Path, sidecar_factory, level: str) -> None:  # type: ignore[no-untyped-def]
    stub = AwsStub(tmp_path)
    try:
        stub.control(throttle=4)
        sidecar = sidecar_factory({
            **SECRET_ENV,
            "AWS_ENDPOINT_URL": stub.url,
            "ECS_OTEL_LOG_LEVEL": level,
            "ECS_OTEL_TRACES_EXPORTERS": "xray,debug",
            "ECS_OTEL_XRAY_MODE": "segments",
            "ECS_OTEL_XRAY_PROXY_PORT": "0",
            "ECS_OTEL_METRICS_EXPORTERS": "debug",
            "ECS_OTEL_LOGS_EXPORTERS": "cloudwatch,debug",
            "ECS_OTEL_CLOUDWATCH_LOGS_MODE": "api",
            "ECS_OTEL_CLOUDWATCH_LOG_GROUP": "/security/leaks",
            "ECS_OTEL_BATCH_TIMEOUT": "0.1",
            "ECS_OTEL_RETRY_INITIAL": "0.05",
        })
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "Basic dXNlcjpwYXNz"}):
            assert post(sidecar.http_url + "/v1/traces", trace_request(1, "x"), PROTOBUF, headers)[0] == 401
        assert send(sidecar.http_url, 5, "ok") == 200
        logs = ExportLogsServiceRequest()
        logs.resource_logs.add().scope_logs.add().log_records.add(time_unix_nano=time.time_ns()).body.string_value = "hi"
        assert post(sidecar.http_url + "/v1/logs", logs.SerializeToString(), PROTOBUF, AUTH)[0] == 200
        assert post(sidecar.http_url + "/v1/traces", b"\xff garbage", PROTOBUF, AUTH)[0] == 400
        sidecar.wait_metrics(lambda m: m.get_value("ecs_otel_sidecar_exporter_exported_items_total",
                                                   exporter="xray", signal="traces") == 5
                             and m.get_value("ecs_otel_sidecar_exporter_exported_items_total",
                                             exporter="cloudwatch", signal="logs") == 1, timeout_s=30)
        assert stub.control()["signed"] > 0
        bodies = {path: sidecar.get(path)[1].decode(errors="replace") for path in STATUS_PATHS}
        for path, body in bodies.items():
            assert body, path
            assert not leaks(body), (path, leaks(body))
        _, out, err = sidecar.terminate()
    finally:
        stub.stop()
    assert level.startswith("DEBUG") == ('"level":"DEBUG"' in err)  # the level really was what the test says
    if "botocore=DEBUG" in level:
        assert '"logger":"botocore.auth"' in err  # the signing logs really were printed
        assert set(leaks(out + err)) <= {"Authorization"}, leaks(out + err)
    else:
        assert not leaks(out + err), leaks(out + err)
