"""PutTraceSegments behaviour moto cannot show: unprocessed segments retried, throttling backed off."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from aiohttp import web

from sidecar.aws import AwsApi, AwsSession
from sidecar.exporters.xray._internal.sender import SegmentSender
from tests.aws.moto_process import FAKE_CREDENTIALS


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(k, v)


def docs(n: int) -> list[bytes]:
    return [
        json.dumps({"name": "s", "id": f"{i:016x}", "trace_id": "1-00000000-0"}).encode() for i in range(n)
    ]


async def scripted(responses: list[tuple[int, dict[str, Any]]]) -> tuple[web.AppRunner, str, list[list[str]]]:
    seen: list[list[str]] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append([json.loads(d)["id"] for d in body["TraceSegmentDocuments"]])
        status, answer = responses.pop(0) if responses else (200, {"UnprocessedTraceSegments": []})
        return web.json_response(answer, status=status)

    app = web.Application()
    app.router.add_post("/TraceSegments", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", seen  # type: ignore[union-attr]


async def run(responses: list[tuple[int, dict[str, Any]]], documents: list[bytes]) -> tuple[Any, list[list[str]]]:
    async def go() -> Any:
        runner, url, seen = await scripted(responses)
        aws = AwsSession(region="us-east-1", env={"AWS_ENDPOINT_URL_XRAY": url})
        api = AwsApi("xray", aws, logger=logging.getLogger("test"))
        await api.start()
        try:
            return await SegmentSender(api).send(documents), seen
        finally:
            await api.close()
            await runner.cleanup()

    return await go()


async def test_unprocessed_segments_retried_bad_ones_rejected(creds: None) -> None:
    first = {
        "UnprocessedTraceSegments": [
            {"Id": f"{1:016x}", "ErrorCode": "ThrottledException", "Message": "slow down"},
            {"Id": f"{2:016x}", "ErrorCode": "ThrottledException", "Message": "slow down"},
            {"Id": f"{3:016x}", "ErrorCode": "InvalidTraceId", "Message": "bad"},
        ]
    }
    result, seen = await run([(200, first)], docs(5))
    assert seen == [[f"{i:016x}" for i in range(5)], [f"{1:016x}", f"{2:016x}"]]
    assert (result.sent, result.rejected, result.failed) == (4, 1, 0)


async def test_throttling_backs_off_then_succeeds_and_calls_hold_50(creds: None) -> None:
    throttled = (429, {"__type": "ThrottledException", "message": "Rate exceeded"})
    result, seen = await run([throttled, throttled], docs(120))
    assert len(seen) == 5 and max(map(len, seen)) == 50  # two throttled attempts and three calls of <= 50
    assert {i for call in seen for i in call} == {f"{i:016x}" for i in range(120)}
    assert (result.sent, result.rejected, result.failed) == (120, 0, 0)


async def test_persistent_throttling_is_reported_retryable(creds: None) -> None:
    throttled = (429, {"__type": "ThrottledException", "message": "Rate exceeded"})
    result, seen = await run([throttled] * 3, docs(3))
    assert len(seen) == 3 and result.sent == 0 and result.failed == 3 and result.retryable
