"""A tiny AWS look-alike that answers ``ThrottlingException`` on demand (moto cannot throttle).

``python -m tests.faults.aws_stub PORT_FILE`` serves every path on 127.0.0.1. The operation is
read as botocore writes it: ``X-Amz-Target`` for JSON-protocol services (CloudWatch Logs),
the path for REST ones (X-Ray's ``/TraceSegments``). ``POST /__control {"throttle": N}``
makes the next N calls of the throttled operations fail; ``GET /__control`` returns the calls
seen per operation and outcome, with their times, and how many were SigV4-signed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.paths import REPO_ROOT

THROTTLED_OPERATIONS = frozenset({"PutTraceSegments", "PutLogEvents"})
_OK_BODIES = {
    "PutTraceSegments": {"UnprocessedTraceSegments": []},
    "PutLogEvents": {"nextSequenceToken": "1"},
    "DescribeLogStreams": {"logStreams": []},
}


def main(port_file: str) -> None:
    from aiohttp import web

    state: dict[str, Any] = {"throttle": 0, "calls": [], "signed": 0, "unsigned": 0}

    async def control(request: web.Request) -> web.Response:
        if request.method == "POST":
            state.update(await request.json())
        return web.json_response(state)

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        target = request.headers.get("X-Amz-Target", "")
        operation = target.rsplit(".", 1)[-1] if target else {"/TraceSegments": "PutTraceSegments"}.get(
            request.path, request.path)
        auth = request.headers.get("Authorization", "")
        state["signed" if auth.startswith("AWS4-HMAC-SHA256 Credential=") else "unsigned"] += 1
        throttled = operation in THROTTLED_OPERATIONS and state["throttle"] > 0
        state["calls"].append({"operation": operation, "throttled": throttled, "at": time.time()})
        if throttled:
            state["throttle"] -= 1
            return web.Response(status=400, content_type="application/x-amz-json-1.1",
                                headers={"x-amzn-ErrorType": "ThrottlingException"},
                                text=json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"}))
        return web.Response(status=200, content_type="application/x-amz-json-1.1",
                            text=json.dumps(_OK_BODIES.get(operation, {})))

    app = web.Application(client_max_size=16 << 20)
    app.router.add_route("*", "/__control", control)
    app.router.add_route("*", "/{tail:.*}", handle)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    # Listen before announcing the port: a client that reads the port file may connect at once,
    # and a bound socket that is not listening yet refuses it (a flake under load).
    sock.listen(128)
    tmp = port_file + ".tmp"
    Path(tmp).write_text(str(sock.getsockname()[1]))
    os.replace(tmp, port_file)
    web.run_app(app, sock=sock, print=None)


class AwsStub:
    def __init__(self, workdir: Path) -> None:
        port_file = workdir / f"aws-stub-{time.monotonic_ns()}.port"
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.faults.aws_stub", str(port_file)],
                                     cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("AWS stub did not start")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{int(port_file.read_text())}"

    def control(self, **update: Any) -> dict[str, Any]:
        data = json.dumps(update).encode() if update else None
        req = urllib.request.Request(self.url + "/__control", data=data, method="POST" if update else "GET")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def calls(self, operation: str, throttled: bool | None = None) -> list[dict[str, Any]]:
        return [c for c in self.control()["calls"] if c["operation"] == operation
                and (throttled is None or c["throttled"] == throttled)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


if __name__ == "__main__":
    main(sys.argv[1])


def stub_env(stub: AwsStub) -> dict[str, str]:
    """Sidecar settings that send traces (segments) and logs (PutLogEvents) to this stub."""
    return {
        "AWS_ENDPOINT_URL": stub.url,
        "ECS_OTEL_TRACES_EXPORTERS": "xray",
        "ECS_OTEL_METRICS_EXPORTERS": "none",
        "ECS_OTEL_LOGS_EXPORTERS": "cloudwatch",
        "ECS_OTEL_XRAY_MODE": "segments",
        "ECS_OTEL_XRAY_PROXY_PORT": "0",
        "ECS_OTEL_CLOUDWATCH_LOGS_MODE": "api",
        "ECS_OTEL_CLOUDWATCH_LOG_GROUP": "/faults/throttle",
        "ECS_OTEL_CLOUDWATCH_LOG_STREAM": "s",
        "ECS_OTEL_BATCH_TIMEOUT": "0.1",
        "ECS_OTEL_RETRY_INITIAL": "0.05",
        "ECS_OTEL_RETRY_MAX_INTERVAL": "0.3",
    }
