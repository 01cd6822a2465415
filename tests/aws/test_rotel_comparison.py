"""Side by side: the same spans through rotel's aws-xray exporter and through ours.

rotel (pip ``rotel``) runs as a real process with ``--xray-exporter-custom-endpoint`` at a
recorder of PutTraceSegments bodies (its body is declared gzip but is plain JSON, which is
why it cannot be pointed at moto). Both translations must agree on the trace structure
(trace ids, span ids, parent links, segment versus subsegment); where they differ is recorded
here and in docs/comparisons.md.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import socket
import subprocess
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any

import pytest
import rotel

from sidecar.exporters.xray._internal.segment import SegmentTranslator
from tests.aws.aws_documents import validate_segment
from tests.aws.moto_process import FAKE_CREDENTIALS
from tests.aws.sigv4_recorder import Recorder
from tests.aws.spans import checkout_trace

ROTEL_AGENT = Path(rotel.__file__).parent / "rotel-agent"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _body(raw: bytes) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error):
        return raw  # declared gzip, sent plain


async def through_rotel(request_bytes: bytes) -> list[dict[str, Any]]:
    rec = Recorder()
    url = await rec.start()
    http_port, grpc_port = _free_port(), _free_port()
    proc = subprocess.Popen(
        [str(ROTEL_AGENT), "start", "--exporter", "aws-xray", "--xray-exporter-custom-endpoint", url,
         "--otlp-http-endpoint", f"127.0.0.1:{http_port}", "--otlp-grpc-endpoint", f"127.0.0.1:{grpc_port}"],
        env={**os.environ, **FAKE_CREDENTIALS},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", http_port), 0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.05)

        def post() -> int:
            req = urllib.request.Request(
                f"http://127.0.0.1:{http_port}/v1/traces",
                data=request_bytes,
                headers={"Content-Type": "application/x-protobuf"},
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                return int(resp.status)

        assert await asyncio.to_thread(post) == 200
        for _ in range(200):
            if rec.requests:
                break
            await asyncio.sleep(0.05)
        docs: list[dict[str, Any]] = []
        for r in rec.requests:
            assert r.path == "/TraceSegments" and "Authorization" in r.headers
            docs.extend(json.loads(d) for d in json.loads(_body(r.body))["TraceSegmentDocuments"])
        return docs
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        await rec.stop()


@pytest.mark.skipif(not ROTEL_AGENT.exists(), reason="rotel agent binary not installed")
async def test_same_spans_same_structure_richer_translation_here() -> None:
    request = checkout_trace()
    theirs = {d["id"]: d for d in await through_rotel(request.SerializeToString())}
    ours = {d["id"]: d for d in map(validate_segment, SegmentTranslator().translate(request, time.time()))}

    # Same structure: ids, trace id, parent links, which spans are segments.
    assert set(theirs) == set(ours) and len(ours) == 5
    for sid, doc in ours.items():
        assert theirs[sid]["trace_id"] == doc["trace_id"]
        assert theirs[sid].get("parent_id") == doc.get("parent_id")
        assert (theirs[sid].get("type") == "subsegment") == (doc.get("type") == "subsegment")

    by_span = {d["metadata"]["otel"]["span.name"]: d["id"] for d in ours.values()}
    server, db, ddb, http = (
        by_span[n] for n in ("GET /users/{id}", "SELECT users", "DynamoDB.GetItem", "POST")
    )
    # Differences documented in docs/comparisons.md:
    # 1. Names: rotel keeps span names; we name segments after the service and remote calls after the callee.
    assert theirs[server]["name"] == "GET /users/{id}" and ours[server]["name"] == "checkout"
    assert theirs[db]["name"] == "SELECT users" and ours[db]["name"] == "users@db.local"
    assert ours[ddb]["name"] == "DynamoDB" and ours[http]["name"] == "payments.example.com"
    # 2. Remote namespace (the service map needs it): only ours.
    assert (
        "namespace" not in theirs[db]
        and ours[db]["namespace"] == "remote"
        and ours[ddb]["namespace"] == "aws"
    )
    # 3. http block: ours reads new and old conventions (url, status); rotel only the method here.
    assert (
        ours[server]["http"]["response"]["status"] == 500
        and "status" not in theirs[server]["http"]["response"]
    )
    assert "http" not in theirs[http] and ours[http]["http"]["request"]["url"].startswith("https://payments")
    # 4. error/fault/throttle and cause: only ours.
    assert ours[server]["fault"] and "fault" not in theirs[server] and "cause" not in theirs[server]
    assert ours[http]["throttle"] and "throttle" not in theirs[http]
    # 5. sql block, ECS origin and aws.ecs block, AWS SDK operation/table: only ours.
    assert "sql" in ours[db] and "sql" not in theirs[db]
    assert ours[server]["origin"] == "AWS::ECS::Fargate" and "origin" not in theirs[server]
    assert theirs[ddb]["aws"] == {"region": "us-east-1", "request_id": "REQ123"}
    assert ours[ddb]["aws"]["operation"] == "GetItem" and ours[ddb]["aws"]["table_name"] == "users"
