"""Arbitrary bodies never crash the OTLP/HTTP receiver: 200, 400, 413 or 415, never a 5xx."""

from __future__ import annotations

import gzip
import json

import aiohttp
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sidecar.otlp.signals import Signal
from sidecar.pipeline.telemetry import Registry
from sidecar.receivers.auth import BearerToken
from sidecar.receivers.ingest import Ingest
from sidecar.receivers.otlp_http import OtlpHttpReceiver


class Collect:
    def __init__(self) -> None:
        self.batches: list[Message] = []

    async def consume(self, signal: Signal, batch: Message) -> None:
        self.batches.append(batch)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "name", "kind", "attributes",
                         "key", "value", "intValue", "resource", "resourceMetrics", "x"]), inner, max_size=4),
    max_leaves=20,
)

bodies = st.one_of(
    st.binary(max_size=300).map(lambda b: ("application/x-protobuf", b, None)),
    st.binary(max_size=300).map(lambda b: ("application/x-protobuf", gzip.compress(b), "gzip")),
    json_values.map(lambda v: ("application/json", json.dumps(v).encode(), None)),
    st.text(max_size=100).map(lambda t: ("application/json", t.encode(), None)),
)


async def _send_all(cases: list[tuple[str, bytes, str | None]], signal: str) -> list[int]:
    consumer = Collect()
    receiver = OtlpHttpReceiver(Ingest("otlp_http", dict.fromkeys(Signal, consumer), Registry()), host="127.0.0.1",
                                port=0, max_body_bytes=4096, token=BearerToken(None))
    await receiver.start()
    statuses = []
    try:
        async with aiohttp.ClientSession() as session:
            for ctype, body, encoding in cases:
                headers = {"Content-Type": ctype, **({"Content-Encoding": encoding} if encoding else {})}
                async with session.post(f"http://127.0.0.1:{receiver.port}/v1/{signal}", data=body,
                                        headers=headers) as resp:
                    await resp.read()
                    statuses.append(resp.status)
    finally:
        await receiver.stop()
    return statuses


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases=st.lists(bodies, min_size=1, max_size=8), signal=st.sampled_from(["traces", "metrics", "logs"]))
async def test_arbitrary_bodies_get_a_client_error_or_success(cases, signal) -> None:  # type: ignore[no-untyped-def]
    statuses = await _send_all(cases, signal)
    assert set(statuses) <= {200, 400, 413, 415}, statuses
