"""sidecar.aws: region order, endpoint overrides, the ECS task-role chain with refresh, and SigV4."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sidecar.aws import AwsCredentialsError, AwsSession, region_from_arn, resolve_region
from sidecar.context import SidecarContext
from sidecar.exporters.otlp import OtlpExporter
from sidecar.otlp.signals import Signal
from tests.sidecar.exporters import spans

TASK_ARN = "arn:aws:ecs:ap-southeast-2:123456789012:task/prod/0123456789abcdef0123456789abcdef"
CHAIN_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
)


@pytest.fixture
def clean_chain(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:  # type: ignore[no-untyped-def]
    """A credential chain with nothing in it: no env keys, no files, no instance metadata."""
    for name in CHAIN_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def test_region_order() -> None:
    attrs = {"aws.ecs.task.arn": TASK_ARN, "cloud.region": "us-east-2"}
    env = {"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-central-1"}
    assert resolve_region("us-west-2", env, attrs) == "us-west-2"
    assert resolve_region(None, env, attrs) == "eu-west-1"
    assert resolve_region(None, {"AWS_DEFAULT_REGION": "eu-central-1"}, attrs) == "eu-central-1"
    assert resolve_region(None, {}, attrs) == "ap-southeast-2"
    assert resolve_region(None, {}, {"cloud.region": "us-east-2"}) == "us-east-2"
    assert resolve_region(None, {}, {}) is None
    assert region_from_arn("not-an-arn") is None


def test_endpoint_overrides(clean_chain: pytest.MonkeyPatch) -> None:
    default = "https://xray.eu-west-1.amazonaws.com"
    assert AwsSession("eu-west-1", env={}).endpoint_url("xray", default + "/") == default
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000/"}
    assert AwsSession("eu-west-1", env=env).endpoint_url("xray", default) == "http://127.0.0.1:5000"
    env["AWS_ENDPOINT_URL_XRAY"] = "http://127.0.0.1:5001"
    env["AWS_ENDPOINT_URL_CLOUDWATCH_LOGS"] = "http://127.0.0.1:5002"
    aws = AwsSession("eu-west-1", env=env)
    assert aws.endpoint_url("xray", default) == "http://127.0.0.1:5001"
    assert aws.endpoint_url("logs", default) == "http://127.0.0.1:5002"
    assert aws.endpoint_url("cloudwatch", default) == "http://127.0.0.1:5000"
    env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true"
    assert AwsSession("eu-west-1", env=env).endpoint_url("xray", default) == default


class _CredsHandler(BaseHTTPRequestHandler):
    served: list[str] = []
    expirations: list[timedelta] = []

    def do_GET(self) -> None:
        n = len(self.served)
        key = f"ASIATASKROLE{n}"
        self.served.append(self.headers.get("Authorization", ""))
        body = {
            "AccessKeyId": key,
            "SecretAccessKey": f"secret{n}",
            "Token": f"token{n}",
            "Expiration": (datetime.now(UTC) + self.expirations[min(n, len(self.expirations) - 1)]).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        }
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


async def test_ecs_task_role_is_used_and_refreshed(clean_chain: pytest.MonkeyPatch) -> None:
    """Credentials from the container endpoint; ones about to expire are fetched again, others reused."""
    _CredsHandler.served = []
    _CredsHandler.expirations = [timedelta(minutes=5), timedelta(hours=6)]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CredsHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        clean_chain.setenv(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            f"http://127.0.0.1:{server.server_address[1]}/v2/credentials/x",
        )
        clean_chain.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-token")

        async def go() -> list[str]:
            aws = AwsSession("eu-west-1")
            keys = []
            for _ in range(3):
                keys.append((await aws.credentials()).access_key)
            return keys

        keys = await go()
    finally:
        server.shutdown()
        server.server_close()
    # The first fetch expires inside botocore's mandatory refresh window, so it is replaced before
    # it is ever handed out; the replacement lasts hours, so later calls reuse it without I/O.
    assert keys == ["ASIATASKROLE1", "ASIATASKROLE1", "ASIATASKROLE1"]
    assert _CredsHandler.served == ["pod-token", "pod-token"]


async def test_no_credentials_is_a_clear_retryable_outcome(clean_chain: pytest.MonkeyPatch) -> None:
    async def go():  # type: ignore[no-untyped-def]
        aws = AwsSession("eu-west-1")
        with pytest.raises(AwsCredentialsError, match="no AWS credentials"):
            await aws.credentials()
        exp = OtlpExporter(
            OtlpExporter.Settings(endpoint="http://127.0.0.1:9", sigv4_service="xray", region="eu-west-1"),
            SidecarContext(),
        )
        await exp.start()
        try:
            return await exp.export(Signal.TRACES, spans.traces(1))
        finally:
            await exp.shutdown(0)

    outcome = await go()
    assert outcome.retryable and "no AWS credentials" in outcome.reason


async def test_sigv4_signature_verifies_at_the_receiver(otlp_sink, clean_chain: pytest.MonkeyPatch) -> None:
    """The sink's copy of the request re-signed with botocore and the same static keys gives the same signature."""
    clean_chain.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    clean_chain.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    clean_chain.setenv("AWS_SESSION_TOKEN", "session-token-example")
    batch = spans.traces(20)
    exp = OtlpExporter(
        OtlpExporter.Settings(
            endpoint=otlp_sink.url,
            compression="none",
            sigv4_service="xray",
            region="eu-west-1",
            headers={"x-aws-log-group": "grp"},
        ),
        SidecarContext(),
    )

    async def go():  # type: ignore[no-untyped-def]
        await exp.start()
        try:
            return await exp.export(Signal.TRACES, batch)
        finally:
            await exp.shutdown(0)

    assert (await go()).ok
    (got,) = otlp_sink.received("traces")
    headers = {k.lower(): v for k, v in got["headers"].items()}
    auth = headers["authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    scope = auth.split("Credential=")[1].split(",")[0]
    assert scope.endswith("/eu-west-1/xray/aws4_request")
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "content-type", "x-amz-date", "x-amz-security-token", "x-aws-log-group"} <= set(signed)
    assert headers["x-amz-security-token"] == "session-token-example"

    body = ParseDict(got["body"], ExportTraceServiceRequest()).SerializeToString()
    assert body == batch.SerializeToString()
    request = AWSRequest(
        method="POST", url=otlp_sink.url + "/v1/traces", data=body, headers={h: headers[h] for h in signed}
    )
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(
        Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-example"),
        "xray",
        "eu-west-1",
    )
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    assert auth.endswith(f"Signature={expected}")
    assert signer.signature("tampered", request) != expected


async def test_sigv4_default_endpoint_follows_aws_endpoint_url(otlp_sink, clean_chain: pytest.MonkeyPatch) -> None:
    """With no endpoint set, the exporter uses AWS's URL for the service, overridable the botocore way."""
    clean_chain.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    clean_chain.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    exp = OtlpExporter(
        OtlpExporter.Settings(sigv4_service="logs", region="eu-west-1"), SidecarContext(env={"X": "1"})
    )
    assert exp.urls[Signal.LOGS] == "https://logs.eu-west-1.amazonaws.com/v1/logs"
    exp = OtlpExporter(
        OtlpExporter.Settings(sigv4_service="logs", region="eu-west-1", compression="none"),
        SidecarContext(env={"AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": otlp_sink.url}),
    )

    async def go():  # type: ignore[no-untyped-def]
        await exp.start()
        try:
            return await exp.export(Signal.LOGS, spans.logs())
        finally:
            await exp.shutdown(0)

    assert (await go()).ok
    (got,) = otlp_sink.received("logs")
    assert "/eu-west-1/logs/aws4_request" in got["headers"]["Authorization"]
