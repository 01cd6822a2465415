"""The xray exporter (segments mode) against moto in server mode: documents come back intact."""

from __future__ import annotations

import asyncio
import logging

import pytest

from sidecar.context import SidecarContext
from sidecar.exporters.xray.exporter import XRayExporter
from sidecar.otlp.signals import Signal
from tests.aws.aws_documents import validate_segment
from tests.aws.spans import by_name, checkout_trace
from tests.support.aws import xray_client


def fetch(env: dict[str, str], trace_id: str) -> list[dict]:  # type: ignore[type-arg]
    traces = xray_client(env).batch_get_traces(TraceIds=[trace_id])["Traces"]
    assert len(traces) == 1
    return [validate_segment(s["Document"]) for s in traces[0]["Segments"]]


def make(env: dict[str, str], **kw: object) -> XRayExporter:
    settings = XRayExporter.Settings(mode="segments", proxy_port=-1, **kw)  # type: ignore[arg-type]
    return XRayExporter(settings, SidecarContext(env=env))


async def test_segments_round_trip_through_moto(aws_env: dict[str, str]) -> None:
    exporter = make(aws_env)
    request = checkout_trace()

    async def run():  # type: ignore[no-untyped-def]
        await exporter.start()
        try:
            return await exporter.export(Signal.TRACES, request)
        finally:
            await exporter.shutdown(asyncio.get_running_loop().time() + 5)

    outcome = await run()
    assert outcome.ok and outcome.rejected == 0, outcome
    raw = request.resource_spans[0].scope_spans[0].spans[0].trace_id.hex()
    docs = by_name(fetch(aws_env, f"1-{raw[:8]}-{raw[8:]}"))
    assert set(docs) == {"checkout", "load-user", "users@db.local", "DynamoDB", "payments.example.com"}
    seg = docs["checkout"]
    assert seg["fault"] is True and seg["http"]["response"]["status"] == 500
    assert seg["http"]["request"]["method"] == "GET"
    assert docs["load-user"]["parent_id"] == seg["id"]
    assert docs["DynamoDB"]["parent_id"] == docs["load-user"]["id"] and docs["DynamoDB"]["namespace"] == "aws"
    client = docs["payments.example.com"]
    assert client["parent_id"] == seg["id"] and client["throttle"] is True and client["error"] is True
    assert (
        exporter.context.telemetry.counter("ecs_otel_sidecar_xray_documents_total", "", ("outcome",)).get(
            outcome="sent"
        )
        == 5
    )


async def test_more_than_50_documents_are_split_into_calls(aws_env: dict[str, str]) -> None:
    exporter = make(aws_env)
    request = checkout_trace()
    for _ in range(11):  # 60 spans in 12 traces → at least two PutTraceSegments calls
        request.resource_spans.append(checkout_trace().resource_spans[0])
    calls: list[int] = []
    real_call = exporter.api.call

    async def counting(operation, params, **kw):  # type: ignore[no-untyped-def]
        calls.append(len(params["TraceSegmentDocuments"]))
        return await real_call(operation, params, **kw)

    exporter.api.call = counting  # type: ignore[method-assign]

    async def run():  # type: ignore[no-untyped-def]
        await exporter.start()
        try:
            return await exporter.export(Signal.TRACES, request)
        finally:
            await exporter.shutdown(asyncio.get_running_loop().time() + 5)

    outcome = await run()
    assert outcome.ok, outcome
    assert calls == [50, 10]


async def test_access_denied_is_logged_once_naming_the_action(
    aws_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    from aiohttp import web

    async def run() -> None:
        async def deny(request: web.Request) -> web.Response:
            return web.json_response({"__type": "AccessDeniedException", "message": "no"}, status=403)

        app = web.Application()
        app.router.add_post("/TraceSegments", deny)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        env = {**aws_env, "AWS_ENDPOINT_URL_XRAY": f"http://127.0.0.1:{port}"}
        exporter = make(env)
        await exporter.start()
        try:
            for _ in range(3):
                outcome = await exporter.export(Signal.TRACES, checkout_trace())
                assert not outcome.ok and not outcome.retryable
        finally:
            await exporter.shutdown(asyncio.get_running_loop().time() + 5)
            await runner.cleanup()

    with caplog.at_level(logging.ERROR):
        await run()
    denied = [r for r in caplog.records if "xray:PutTraceSegments" in r.getMessage()]
    assert len(denied) == 1
    assert "testing" not in caplog.text  # the fake key and token never reach the logs
