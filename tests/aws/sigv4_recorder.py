"""A loopback HTTP receiver that records requests and re-verifies their SigV4 signatures with botocore."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TEST_CREDENTIALS = Credentials("testing", "testing", "testing")


@dataclass
class Recorded:
    method: str
    url: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Recorder:
    requests: list[Recorded] = field(default_factory=list)
    #: What to answer per path (status, JSON body); default 200 with an empty body.
    answers: dict[str, tuple[int, Any]] = field(default_factory=dict)
    #: Answers used first, one per request in arrival order, before ``answers`` applies.
    script: list[tuple[int, Any]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> str:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # Keep gzip bodies as sent: the signature covers the compressed bytes.
        self.runner = web.AppRunner(app, access_log=None, auto_decompress=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(
            Recorded(request.method, str(request.url), request.path, dict(request.headers), body)
        )
        status, answer = self.script.pop(0) if self.script else self.answers.get(request.path, (200, None))
        if answer is None:
            return web.Response(status=status)
        return web.json_response(answer, status=status)


def verify_sigv4(rec: Recorded, service: str, region: str) -> dict[str, str]:
    """Recompute the signature from the request as received; returns the signed headers."""
    auth = rec.headers["Authorization"]
    algorithm, _, rest = auth.partition(" ")
    assert algorithm == "AWS4-HMAC-SHA256"
    parts = dict(p.strip().split("=", 1) for p in rest.split(","))
    _key, date, scope_region, scope_service, terminator = parts["Credential"].split("/")
    assert (scope_region, scope_service, terminator) == (region, service, "aws4_request")
    assert _key == TEST_CREDENTIALS.access_key
    signed_names = parts["SignedHeaders"].split(";")
    lower = {k.lower(): v for k, v in rec.headers.items()}
    signed = {name: lower[name] for name in signed_names}
    request = AWSRequest(method=rec.method, url=rec.url, data=rec.body, headers=signed)
    request.context["timestamp"] = lower["x-amz-date"]
    assert lower["x-amz-date"].startswith(date)
    signer = SigV4Auth(TEST_CREDENTIALS, service, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    assert parts["Signature"] == expected, "signature does not verify"
    return signed
