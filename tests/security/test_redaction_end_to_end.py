"""Issue 14's "done when": every secret-carrying key, and secrets inside an exception's message and traceback,
go from a real app (``import ecs_otel.auto``) through the real sidecar to every exporter that runs here, and no
secret value appears in any output.

Outputs searched: the app's stdout and stderr (JSON log lines), the sidecar's stdout (``debug`` exporter, detailed)
and stderr (its own logs at DEBUG, including aiohttp's traceback for a malformed request that carries the live
receiver token), the ``file`` exporter's files, what the ``otlp`` exporter delivered to the project's sink, the
``prometheus`` exporter's scrape, what the ``xray`` (segments) and ``cloudwatch`` (EMF metrics, log events)
exporters wrote to moto, and the status server's ``/``, ``/status.json``, ``/healthz``, ``/cardinality`` and
``/metrics``. Each secret is a distinct random value, so a failure names the key that leaked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from tests.aws.moto_process import MotoProcess
from tests.support.otlp_sink import SinkProcess
from tests.support.sidecar import ROOT, SidecarProcess, sidecar_factory  # noqa: F401 - fixture

pytestmark = pytest.mark.timeout(240)

NAMES = (
    "authorization", "proxy_authorization", "set_cookie", "amz_security_token", "x_api_key", "access_token",
    "refresh_token", "client_secret", "secret_access_key", "password_trailing_space", "user_password", "userinfo",
    "q_access_token", "q_api_key", "q_client_secret", "q_code", "q_sig", "q_signature", "q_amz_signature",
    "q_amz_credential", "q_amz_security_token", "original_token", "target_password", "query_token", "db_statement",
    "db_query_text", "name_userinfo", "name_code", "metric_api_key", "extra_access_token", "extra_password",
    "extra_url", "extra_header", "extra_nested", "exception_password", "exception_bearer", "exception_arg",
    "deep_password", "receiver_token",
)

APP = '''
import json, logging, sys
import ecs_otel.auto
from opentelemetry import metrics, trace

S = json.load(open(sys.argv[1]))
log = logging.getLogger("app.e2e")
tracer = trace.get_tracer("app.e2e")
requests = metrics.get_meter("app.e2e").create_counter("e2e.requests")
query = ("access_token={q_access_token}&api_key={q_api_key}&client_secret={q_client_secret}&code={q_code}"
         "&sig={q_sig}&signature={q_signature}&X-Amz-Signature={q_amz_signature}"
         "&X-Amz-Credential={q_amz_credential}&X-Amz-Security-Token={q_amz_security_token}&page=2").format(**S)
attributes = {
    "http.request.header.authorization": ["Bearer " + S["authorization"]],
    "http.request.header.proxy-authorization": ["Basic " + S["proxy_authorization"]],
    "http.response.header.set-cookie": ["sid=" + S["set_cookie"] + "; HttpOnly"],
    "http.request.header.x-amz-security-token": [S["amz_security_token"]],
    "http.request.header.x-api-key": [S["x_api_key"]],
    "access_token": S["access_token"],
    "refresh_token": S["refresh_token"],
    "oauth.client_secret": S["client_secret"],
    "aws.secret_access_key": S["secret_access_key"],
    "Password ": S["password_trailing_space"],
    "user.password": S["user_password"],
    "url.full": "https://bob:" + S["userinfo"] + "@api.example.com/cb?" + query,
    "url.original": "/cb?x=1&access_token=" + S["original_token"],
    "http.target": "/login?password=" + S["target_password"],
    "url.query": "token=" + S["query_token"] + "&page=1",
    "db.statement": "ALTER USER app IDENTIFIED BY '" + S["db_statement"] + "'",
    "db.query.text": "UPDATE users SET password = '" + S["db_query_text"] + "' WHERE id = 1",
    "gen_ai.usage.input_tokens": 42,
}
name = "GET https://u:" + S["name_userinfo"] + "@api.example.com/cb?code=" + S["name_code"]
with tracer.start_as_current_span(name, attributes=attributes) as span:
    requests.add(1, {"api_key": S["metric_api_key"], "http.route": "/e2e"})
    log.warning("login attempt", extra={
        "access_token": S["extra_access_token"], "Password ": S["extra_password"],
        "url.full": "https://h.example/cb?code=" + S["extra_url"],
        "http.request.header.x-api-key": [S["extra_header"]],
        "request": {"headers": {"Authorization": "Bearer " + S["extra_nested"]}},
    })
    try:
        with tracer.start_as_current_span("login"):
            raise PermissionError("login failed: password=" + S["exception_password"]
                                  + " Authorization: Bearer " + S["exception_bearer"])
    except PermissionError:
        log.exception("login failed with api_key=%s", S["exception_arg"])
    deep = {"password": S["deep_password"]}
    for _ in range(20):
        deep = {"level": deep}
    log.error(deep)  # a structured OTLP body nested past the depth limit
    print("TRACE", format(span.get_span_context().trace_id, "032x"), flush=True)
'''


def _secrets() -> dict[str, str]:
    return {name: f"{name[:4]}{uuid.uuid4().hex[:14]}" for name in NAMES}


def _leaks(secrets: dict[str, str], where: str, text: str) -> list[str]:
    return [f"{name} in {where}" for name, value in secrets.items() if value in text]


def _wait(fn: Callable[[], Any], what: str, timeout_s: float = 60.0) -> Any:
    """Poll ``fn`` until it returns something truthy (a generous bound on a hang, not a timing assumption)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = fn()
        except Exception:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _client(moto: MotoProcess, service: str) -> Any:
    env = moto.env()
    return botocore.session.get_session().create_client(
        service, region_name=env["AWS_REGION"], endpoint_url=moto.url,
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def _log_events(moto: MotoProcess, group: str, stream: str) -> list[str]:
    events = _client(moto, "logs").get_log_events(logGroupName=group, logStreamName=stream)["events"]
    return [e["message"] for e in events]


def _bad_request(port: int, token: str) -> bytes:
    """A request aiohttp refuses while parsing, with the live token in the offending header line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\x01\r\n\r\n".encode())
        return sock.recv(4096)


def _status_bodies(sidecar: SidecarProcess) -> dict[str, str]:
    return {path: sidecar.get(path)[1].decode(errors="replace")
            for path in ("/", "/status.json", "/healthz", "/cardinality", "/metrics")}


def test_no_secret_reaches_any_output(tmp_path: Path, otlp_sink: SinkProcess,
                                      sidecar_factory: Callable[..., SidecarProcess]) -> None:  # noqa: F811
    secrets = _secrets()
    token = secrets["receiver_token"]
    unique = uuid.uuid4().hex[:8]
    moto = MotoProcess(tmp_path)
    try:
        files = tmp_path / "file-exporter"
        sidecar = sidecar_factory({
            **moto.env(),
            "ECS_OTEL_RECEIVER_TOKEN": token,
            "ECS_OTEL_LOG_LEVEL": "DEBUG",
            "ECS_OTEL_TRACES_EXPORTERS": "otlp,xray,debug,file",
            "ECS_OTEL_METRICS_EXPORTERS": "otlp,cloudwatch,prometheus,debug,file",
            "ECS_OTEL_LOGS_EXPORTERS": "otlp,cloudwatch,debug,file",
            "ECS_OTEL_OTLP_ENDPOINT": otlp_sink.url,
            "ECS_OTEL_OTLP_COMPRESSION": "none",
            "ECS_OTEL_XRAY_MODE": "segments",
            "ECS_OTEL_XRAY_PROXY_PORT": "0",
            "ECS_OTEL_CLOUDWATCH_LOGS_MODE": "api",
            "ECS_OTEL_CLOUDWATCH_METRICS_LOG_GROUP": f"/redaction/{unique}/metrics",
            "ECS_OTEL_CLOUDWATCH_METRICS_LOG_STREAM": "m",
            "ECS_OTEL_CLOUDWATCH_LOG_GROUP": f"/redaction/{unique}/logs",
            "ECS_OTEL_CLOUDWATCH_LOG_STREAM": "l",
            "ECS_OTEL_PROMETHEUS_PORT": "0",
            "ECS_OTEL_DEBUG_VERBOSITY": "detailed",
            "ECS_OTEL_FILE_PATH": str(files),
            "ECS_OTEL_BATCH_TIMEOUT": "0.1",
        })
        assert b"400 Bad Request" in _bad_request(sidecar.ports["otlp_http"], token)

        secrets_file = tmp_path / "secrets.json"
        secrets_file.write_text(json.dumps(secrets))
        script = tmp_path / "app.py"
        script.write_text(textwrap.dedent(APP))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ECS_", "AWS_"))}
        env.update({
            "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1",
            "OTEL_EXPORTER_OTLP_ENDPOINT": sidecar.http_url, "ECS_OTEL_RECEIVER_TOKEN": token,
            "OTEL_LOGS_EXPORTER": "otlp", "ECS_OTEL_LOGGING": "true", "OTEL_SERVICE_NAME": f"redaction-{unique}",
            "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_BLRP_SCHEDULE_DELAY": "100",
        })
        app = subprocess.run([sys.executable, str(script), str(secrets_file)], env=env, capture_output=True,
                             text=True, timeout=60, cwd=ROOT)
        assert app.returncode == 0, app.stderr
        trace_id = next(line.split()[1] for line in app.stdout.splitlines() if line.startswith("TRACE "))
        app_lines = [json.loads(line) for line in app.stdout.splitlines() if line.startswith("{")]
        assert any("exception.stacktrace" in line for line in app_lines), app.stdout  # the traceback was logged

        # Everything arrived where it was sent (so the searches below are not searching nothing).
        traces = _wait(lambda: [r for r in otlp_sink.received("traces") if '"login"' in json.dumps(r)], "otlp traces")
        logs = _wait(lambda: [r for r in otlp_sink.received("logs") if "stacktrace" in json.dumps(r)], "otlp logs")
        metrics = _wait(lambda: [r for r in otlp_sink.received("metrics") if "e2e.requests" in json.dumps(r)],
                        "otlp metrics")
        xray_id = f"1-{trace_id[:8]}-{trace_id[8:]}"
        segments = _wait(lambda: [s["Document"] for t in _client(moto, "xray").batch_get_traces(
            TraceIds=[xray_id])["Traces"] for s in t["Segments"]], "x-ray segments")
        emf = _wait(lambda: [m for m in _log_events(moto, f"/redaction/{unique}/metrics", "m")
                             if "e2e.requests" in m], "EMF events")
        log_events = _wait(lambda: [m for m in _log_events(moto, f"/redaction/{unique}/logs", "l")
                                    if "stacktrace" in m], "CloudWatch log events")
        prometheus_url = sidecar.status()["components"]["prometheus"]["url"]
        scrape = _wait(lambda: [t for t in [urllib.request.urlopen(prometheus_url, timeout=10).read().decode()]
                                if "e2e_requests" in t], "prometheus series")[0]
        status = _status_bodies(sidecar)
        code, sidecar_out, sidecar_err = sidecar.terminate()
    finally:
        moto.stop()

    file_outputs = {p.name: p.read_text(errors="replace") for p in sorted(files.iterdir())}
    assert {"traces.jsonl", "metrics.jsonl", "logs.jsonl"} <= set(file_outputs)
    outputs: dict[str, str] = {
        "app stdout": app.stdout, "app stderr": app.stderr,
        "sidecar stdout (debug exporter)": sidecar_out, "sidecar stderr (its logs)": sidecar_err,
        "otlp traces": json.dumps(traces), "otlp logs": json.dumps(logs), "otlp metrics": json.dumps(metrics),
        "x-ray segments": json.dumps(segments), "EMF": json.dumps(emf), "CloudWatch logs": json.dumps(log_events),
        "prometheus scrape": scrape,
        **{f"file {name}": text for name, text in file_outputs.items()},
        **{f"status {path}": body for path, body in status.items()},
    }
    leaks = [leak for where, text in outputs.items() for leak in _leaks(secrets, where, text)]
    assert not leaks, leaks

    # The data is there, redacted rather than dropped.
    assert '"[REDACTED]"' in outputs["otlp traces"] and "IDENTIFIED BY ?" in outputs["otlp traces"]
    assert "[REDACTED]" in outputs["sidecar stdout (debug exporter)"] and "[REDACTED]" in outputs["file traces.jsonl"]
    assert "login failed with api_key=[REDACTED]" in outputs["otlp logs"]
    assert "Invalid header value char" in sidecar_err  # aiohttp's traceback was logged, token masked
    assert code == 0
