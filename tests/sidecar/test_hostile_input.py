"""Hostile, oversized and odd OTLP input (issue 13): refused or counted at the receiver, never costing other data.

Unit tests for the shared mechanisms (codec depth, wire pre-scan) sit beside tests against a
real sidecar process on loopback.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sidecar.otlp import json_codec
from tests.faults.otlp_client import PROTOBUF, accounting
from tests.sidecar.test_e2e_ingest import post

JSON = "application/json"


def nested_value(kvlists: int, arrays: int) -> dict[str, Any]:
    """An AnyValue nested ``kvlists`` kvlist levels (3 messages each) inside ``arrays`` array levels (2 each)."""
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(kvlists):
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    for _ in range(arrays):
        value = {"arrayValue": {"values": [value]}}
    return value


def span_json(name: str, attribute: dict[str, Any] | None = None, **ids: str) -> dict[str, Any]:
    span: dict[str, Any] = {"traceId": ids.get("traceId", os.urandom(16).hex()),
                            "spanId": ids.get("spanId", os.urandom(8).hex()), "name": name,
                            "startTimeUnixNano": str(time.time_ns()), "endTimeUnixNano": str(time.time_ns())}
    if attribute is not None:
        span["attributes"] = [{"key": "deep", "value": attribute}]
    return span


def traces_json(spans: list[dict[str, Any]]) -> bytes:
    # The standard library: orjson refuses to *write* more than 255 levels, which these tests need.
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()


# Request(1) > ResourceSpans > ScopeSpans > Span > KeyValue > AnyValue(6): a value adds 3 per kvlist, 2 per array.
@pytest.mark.parametrize(("kvlists", "arrays", "depth"), [(0, 47, 100), (1, 46, 101), (50, 0, 156), (0, 150, 306)])
def test_json_decoder_refuses_exactly_what_protobuf_cannot_parse(kvlists: int, arrays: int, depth: int) -> None:
    body = traces_json([span_json("s", nested_value(kvlists, arrays))])
    if depth <= json_codec.MAX_MESSAGE_DEPTH:
        message = json_codec.decode(ExportTraceServiceRequest, body)
        assert ExportTraceServiceRequest.FromString(message.SerializeToString()) == message
        return
    with pytest.raises(json_codec.OtlpJsonError, match="nested deeper than 100"):
        json_codec.decode(ExportTraceServiceRequest, body)
    # ... and protobuf itself refuses the same nesting, so the limit is the wire format's own.
    deep = ExportTraceServiceRequest()
    value = deep.resource_spans.add().scope_spans.add().spans.add().attributes.add(key="deep").value
    for _ in range(depth - 6):
        value = value.array_value.values.add()
    with pytest.raises(Exception, match="Error parsing"):
        ExportTraceServiceRequest.FromString(deep.SerializeToString())


@pytest.mark.parametrize("encoding", [JSON, PROTOBUF])
def test_a_deep_request_is_refused_and_costs_no_other_request_its_data(sidecar_factory, encoding: str) -> None:  # type: ignore[no-untyped-def]
    # A long batch timeout: both requests are certainly in one queue batch when it leaves.
    sidecar = sidecar_factory({"ECS_OTEL_TRACES_EXPORTERS": "debug", "ECS_OTEL_BATCH_TIMEOUT": "5",
                               "ECS_OTEL_TRACES_PROCESSORS": "none"})
    url = sidecar.http_url + "/v1/traces"
    good = traces_json([span_json(f"good-{i}") for i in range(200)])
    assert post(url, good, JSON)[0] == 200
    deep_json = traces_json([span_json("deep", nested_value(50, 0))])
    if encoding == JSON:
        status, _, body = post(url, deep_json, JSON)
        assert b"nested deeper than 100" in body
    else:
        # Protobuf bytes of the same nesting (serializing is allowed, parsing is not).
        deep_pb = json_codec.decode(ExportTraceServiceRequest, traces_json([span_json("x")]))
        value = deep_pb.resource_spans[0].scope_spans[0].spans[0].attributes.add(key="deep").value
        for _ in range(150):
            value = value.array_value.values.add()
        status, _, body = post(url, deep_pb.SerializeToString(), PROTOBUF)
    assert status == 400, body
    m = sidecar.wait_metrics(lambda m: accounting(m, "debug")["received"] > 0
                             and accounting(m, "debug")["queued"] == 0, timeout_s=30)
    counts = accounting(m, "debug")
    assert counts["exported"] == 200 and counts["dropped"] == 0, counts
    assert m.get_value("ecs_otel_sidecar_receiver_requests_total", receiver="otlp_http", signal="traces",
                       outcome="bad_request") == 1
