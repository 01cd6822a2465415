"""The ``otlp`` exporter against a real OTLP/HTTP sink process on loopback."""

from __future__ import annotations

import asyncio
import gzip
import socket
import time
from email.utils import formatdate
from typing import Any

import pytest
from aiohttp import web
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from sidecar.config import ConfigError
from sidecar.context import SidecarContext
from sidecar.exporters.otlp import OtlpExporter, parse_retry_after
from sidecar.otlp import json_codec
from sidecar.otlp.signals import Signal
from tests.sidecar.exporters import spans
from tests.sidecar.exporters.raw_server import RawServer


def make(endpoint: str, env: dict[str, str] | None = None, **kw: Any) -> OtlpExporter:
    # The shared sink gunzips twice (aiohttp already decodes Content-Encoding), so sink tests send
    # plain bodies; gzip on the wire is checked against RawServer instead.
    kw.setdefault("compression", "none")
    settings = OtlpExporter.Settings(endpoint=endpoint, **kw)
    return OtlpExporter(settings, SidecarContext(env=env or {}))


async def run_export(exporter: OtlpExporter, signal: Signal, batch: Any):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        await exporter.start()
        try:
            return await exporter.export(signal, batch)
        finally:
            await exporter.shutdown(asyncio.get_running_loop().time() + 5)

    return await go()


async def test_bodies_arrive_intact_with_headers(otlp_sink) -> None:
    batch = spans.traces(50)
    exp = make(otlp_sink.url + "/", compression="none", headers={"x-tenant": "a%20b", "api-key": "k1"})
    outcome = await run_export(exp, Signal.TRACES, batch)
    assert outcome.ok and not outcome.retryable
    (req,) = otlp_sink.received("traces")
    assert ParseDict(req["body"], ExportTraceServiceRequest()) == batch
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["x-tenant"] == "a b"  # percent-decoded like OTEL_EXPORTER_OTLP_HEADERS
    assert headers["api-key"] == "k1"
    assert "content-encoding" not in headers
    assert exp.context.telemetry.counter("ecs_otel_sidecar_exporter_sent_bytes_total", "").total() > 0


async def test_gzip_body_on_the_wire() -> None:
    """The wire bytes are one gzip member whose content is exactly the serialized batch."""
    batch = spans.traces(100)

    async def go():  # type: ignore[no-untyped-def]
        async with RawServer() as server:
            exp = make(server.url, compression="gzip")
            await exp.start()
            try:
                outcome = await exp.export(Signal.TRACES, batch)
            finally:
                await exp.shutdown(0)
            return outcome, server.requests

    outcome, requests = await go()
    assert outcome.ok
    (req,) = requests
    assert req.path == "/v1/traces"
    assert req.headers["Content-Encoding"] == "gzip"
    assert req.body[:2] == b"\x1f\x8b"
    assert gzip.decompress(req.body) == batch.SerializeToString()
    assert len(req.body) < len(batch.SerializeToString()) / 3


async def test_all_signals_go_to_their_paths(otlp_sink) -> None:
    exp = make(otlp_sink.url)

    async def go():  # type: ignore[no-untyped-def]
        await exp.start()
        try:
            return [
                await exp.export(Signal.METRICS, spans.metrics()),
                await exp.export(Signal.LOGS, spans.logs()),
            ]
        finally:
            await exp.shutdown(0)

    assert all(o.ok for o in await go())
    assert len(otlp_sink.received("metrics")) == 1
    assert len(otlp_sink.received("logs")) == 1


STATUSES = {429: True, 502: True, 503: True, 504: True, 400: False, 401: False, 404: False, 500: False}


async def test_status_mapping(otlp_sink) -> None:
    """OTLP/HTTP rules: 429/502/503/504 retryable with their Retry-After, everything else final."""
    for status, retryable in STATUSES.items():
        otlp_sink.script([status], retry_after="7" if retryable else None)
        outcome = await run_export(make(otlp_sink.url), Signal.TRACES, spans.traces(2))
        assert not outcome.ok, status
        assert outcome.retryable is retryable, status
        assert str(status) in outcome.reason
        assert outcome.retry_after_s == (7.0 if retryable else None)
    assert otlp_sink.received("traces") == []


async def test_retry_after_http_date(otlp_sink) -> None:
    otlp_sink.script([503], retry_after=formatdate(time.time() + 30, usegmt=True))
    outcome = await run_export(make(otlp_sink.url), Signal.TRACES, spans.traces(1))
    assert outcome.retryable and outcome.retry_after_s is not None
    assert 20 <= outcome.retry_after_s <= 31


def test_parse_retry_after_forms() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(formatdate(now + 12, usegmt=True), now=now) == pytest.approx(12, abs=1)
    assert parse_retry_after(formatdate(now - 100, usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


async def test_timeout_is_retryable(otlp_sink) -> None:
    otlp_sink.script([200], delay_s=1.5)
    outcome = await run_export(make(otlp_sink.url, timeout=0.3), Signal.TRACES, spans.traces(1))
    assert not outcome.ok and outcome.retryable and "timeout" in outcome.reason


async def test_connection_refused_is_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    outcome = await run_export(make(f"http://127.0.0.1:{port}"), Signal.TRACES, spans.traces(1))
    assert not outcome.ok and outcome.retryable


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="ECS_OTEL_OTLP_ENDPOINT"):
        make("")
    with pytest.raises(ConfigError, match="ECS_OTEL_OTLP_ENDPOINT"):
        make("ftp://x")
    with pytest.raises(ConfigError, match="compression_level"):
        make("http://127.0.0.1:1", compression_level=0)


@pytest.mark.parametrize("encoding", ["protobuf", "json"])
async def test_partial_success_is_parsed(encoding: str) -> None:
    """A 200 carrying partial_success: the rejected count and message reach the outcome."""
    response = ExportTraceServiceResponse()
    response.partial_success.rejected_spans = 3
    response.partial_success.error_message = "3 spans too old"

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        if encoding == "json":
            return web.Response(body=json_codec.encode(response), content_type="application/json")
        return web.Response(body=response.SerializeToString(), content_type="application/x-protobuf")

    async def go():  # type: ignore[no-untyped-def]
        app = web.Application()
        app.router.add_post("/v1/traces", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        exp = make(f"http://127.0.0.1:{port}")
        await exp.start()
        try:
            return await exp.export(Signal.TRACES, spans.traces(5))
        finally:
            await exp.shutdown(0)
            await runner.cleanup()

    outcome = await go()
    assert outcome.ok and outcome.rejected == 3 and outcome.reason == "3 spans too old"


async def test_queue_uses_encoded_fast_path_and_counts_partial_success() -> None:
    """Through a real pipeline queue: wire bytes are the gzipped queued request, and a partial
    success's rejected spans are dropped as ``rejected`` while the rest count as exported."""
    from sidecar.config.settings import PipelineSettings
    from sidecar.pipeline.health import ExporterHealth
    from sidecar.pipeline.memory import MemoryBudget
    from sidecar.pipeline.queue import DROPPED, EXPORTED, QUEUED, RECEIVED, ExporterQueue

    response = ExportTraceServiceResponse()
    response.partial_success.rejected_spans = 4
    response.partial_success.error_message = "4 spans too old"
    batch = spans.traces(20)

    async def go():  # type: ignore[no-untyped-def]
        async with RawServer(
            responses=[(200, response.SerializeToString(), "application/x-protobuf")]
        ) as server:
            exp = make(server.url, compression="gzip")
            assert callable(getattr(exp, "export_encoded", None))
            exp.export = None  # type: ignore[assignment,method-assign]  # the fast path must not need it
            telemetry = exp.context.telemetry
            settings = PipelineSettings(batch_timeout_s=0.01, export_concurrency=1)
            queue = ExporterQueue(exp, "otlp", Signal.TRACES, settings, telemetry,
                                  MemoryBudget(1 << 34, read_rss=lambda: 0), ExporterHealth("otlp"))
            assert queue.wants_encoded
            await exp.start()
            queue.start()
            try:
                assert queue.offer(batch, 20, batch.ByteSize())
                await queue.close(asyncio.get_running_loop().time() + 10)
            finally:
                await exp.shutdown(0)
            return telemetry.metrics(), server.requests

    m, requests = await go()
    (req,) = requests
    assert req.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(req.body) == batch.SerializeToString()
    labels = {"signal": "traces", "exporter": "otlp"}
    assert m[RECEIVED].get(**labels) == 20
    assert m[EXPORTED].get(**labels) == 16
    assert m[DROPPED].get(reason="rejected", **labels) == 4
    assert m[QUEUED].get(**labels) == 0
