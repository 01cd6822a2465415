"""Auto-instrumentation in real processes: aiohttp server+client, requests/urllib3, botocore, logging, Flask."""

from __future__ import annotations

import json
import sys

from tests.ecs_otel.conftest import attrs, base_env, hexid, resource_spans, run, write_script

ALB_TRACE = "6578a0e1b2c3d4e5f6a7b8c9d0e1f2a3"
ALB_HEADER = "Root=1-6578a0e1-b2c3d4e5f6a7b8c9d0e1f2a3"

AIOHTTP_APP = """
import ecs_otel.auto
import asyncio, json, logging, sys

import aiohttp
import botocore.session
import requests
from aiohttp import web
from botocore.config import Config

seen = []
records = []

class Capture(logging.Handler):
    def emit(self, record):
        records.append(getattr(record, "otelTraceID", None))

logging.getLogger("app").addHandler(Capture())


async def echo(request):
    seen.append(dict(request.headers))
    return web.json_response({})


async def front(request):
    port = request.app["port"]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/echo") as resp:
            await resp.read()
    await asyncio.to_thread(requests.get, f"http://127.0.0.1:{port}/echo", timeout=5)

    def call_aws():
        client = botocore.session.get_session().create_client(
            "sqs", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{port}/aws",
            aws_access_key_id="x", aws_secret_access_key="y", config=Config(retries={"max_attempts": 0}))
        try:
            client.list_queues()
        except Exception:
            pass

    await asyncio.to_thread(call_aws)
    logging.getLogger("app").warning("handled")
    return web.json_response({})


async def main():
    app = web.Application()
    app.router.add_get("/front", front)
    app.router.add_route("*", "/echo", echo)
    app.router.add_route("*", "/aws", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    app["port"] = port
    async with aiohttp.ClientSession(skip_auto_headers=()) as s:
        pass
    import urllib.request
    req = urllib.request.Request(f"http://127.0.0.1:{port}/front", headers={"X-Amzn-Trace-Id": sys.argv[1]})
    await asyncio.to_thread(lambda: urllib.request.urlopen(req, timeout=10).read())
    await runner.cleanup()
    print("SEEN", json.dumps(seen), flush=True)
    print("RECORDS", json.dumps(records), flush=True)

asyncio.run(main())
"""


def test_aiohttp_requests_botocore_logging(tmp_path, sink):
    script = write_script(tmp_path, AIOHTTP_APP)
    proc = run([sys.executable, str(script), ALB_HEADER], base_env(sink, OTEL_METRICS_EXPORTER="none"), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    seen = json.loads(next(line[5:] for line in proc.stdout.splitlines() if line.startswith("SEEN ")))
    records = json.loads(next(line[8:] for line in proc.stdout.splitlines() if line.startswith("RECORDS ")))

    def kinds(spans):
        return {s["kind"] for _, s in spans}

    got = sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 6)
    spans = [s for _, s in resource_spans(got)]
    front = next(s for s in spans if s["kind"] == "SPAN_KIND_SERVER" and "front" in (
        s["name"] + str(attrs(s.get("attributes")))))
    # The ALB's Root-only header was continued: the server span carries its trace id.
    assert hexid(front["traceId"]) == ALB_TRACE
    children = [s for s in spans if s.get("parentSpanId") == front["spanId"]]
    scopes = {s["name"] for s in children}
    client_spans = [s for s in children if s["kind"] == "SPAN_KIND_CLIENT"]
    assert len(client_spans) >= 3, scopes  # aiohttp client, requests, botocore
    assert any(attrs(s.get("attributes")).get("rpc.system") == "aws-api" for s in client_spans)
    # Outgoing requests carry both W3C and X-Ray headers for the same trace.
    for headers in seen[:2]:
        lower = {k.lower(): v for k, v in headers.items()}
        assert lower["traceparent"].split("-")[1] == ALB_TRACE
        assert lower["x-amzn-trace-id"].startswith("Root=1-6578a0e1-b2c3d4e5f6a7b8c9d0e1f2a3;Parent=")
    # logging instrumentation put the trace id on the record
    assert records == [ALB_TRACE]


FLASK_APP = """
import ecs_otel.auto
from flask import Flask

app = Flask(__name__)

@app.get("/hello/<name>")
def hello(name):
    return {"hi": name}

with app.test_client() as client:
    resp = client.get("/hello/ecs", headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    print("STATUS", resp.status_code, flush=True)
"""


def test_flask(tmp_path, sink):
    script = write_script(tmp_path, FLASK_APP)
    proc = run([sys.executable, str(script)], base_env(sink, OTEL_METRICS_EXPORTER="none"))
    assert proc.returncode == 0, proc.stderr
    assert "STATUS 200" in proc.stdout
    spans = [s for _, s in resource_spans(sink.wait_for("traces", lambda r: len(resource_spans(r)) >= 1))]
    (server,) = [s for s in spans if s["kind"] == "SPAN_KIND_SERVER"]
    assert server["name"] == "GET /hello/<name>"
    assert hexid(server["traceId"]) == "0af7651916cd43dd8448eb211c80319c"
    assert hexid(server["parentSpanId"]) == "b7ad6b7169203331"
