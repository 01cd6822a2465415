"""sidecar.otlp.json_codec against the OTLP specification's JSON rules, and round trips."""

from __future__ import annotations

import math

import orjson
import pytest
from google.protobuf.json_format import MessageToDict
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from sidecar.otlp import json_codec
from sidecar.otlp.json_codec import OtlpJsonError
from tests.sidecar.exporters import spans

# Written in the OTLP/JSON form the specification describes (hex ids, integer enums, 64-bit
# integers as strings or numbers, lowerCamelCase keys).
GOLDEN_TRACE = b"""{
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "cart"}}]},
    "scopeSpans": [{
      "scope": {"name": "lib", "version": "1.2.0"},
      "spans": [{
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "parentSpanId": "eee19b7ec3c1b173",
        "name": "checkout",
        "kind": 2,
        "startTimeUnixNano": "1544712660000000000",
        "endTimeUnixNano": 1544712661000000000,
        "attributes": [
          {"key": "n", "value": {"intValue": "42"}},
          {"key": "blob", "value": {"bytesValue": "AAEC"}},
          {"key": "list", "value": {"arrayValue": {"values": [{"boolValue": true}, {"doubleValue": 1.5}]}}},
          {"key": "map", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"stringValue": "v"}}]}}}
        ],
        "events": [{"timeUnixNano": "1544712660500000000", "name": "ev"}],
        "links": [{"traceId": "00000000000000000000000000000001", "spanId": "0000000000000002"}],
        "status": {"code": 2, "message": "bad"}
      }]
    }]
  }]
}"""


def test_golden_trace_decodes_by_the_spec_rules() -> None:
    msg = json_codec.decode(ExportTraceServiceRequest, GOLDEN_TRACE)
    span = msg.resource_spans[0].scope_spans[0].spans[0]
    assert span.trace_id == bytes.fromhex("5b8efff798038103d269b633813fc60c")
    assert span.span_id.hex() == "eee19b7ec3c1b174"
    assert span.parent_span_id.hex() == "eee19b7ec3c1b173"
    assert span.kind == 2 and span.status.code == 2
    assert span.start_time_unix_nano == 1544712660000000000
    assert span.end_time_unix_nano == 1544712661000000000
    attrs = {a.key: a.value for a in span.attributes}
    assert attrs["n"].int_value == 42
    assert attrs["blob"].bytes_value == b"\x00\x01\x02"
    assert attrs["list"].array_value.values[1].double_value == 1.5
    assert attrs["map"].kvlist_value.values[0].value.string_value == "v"
    assert span.links[0].span_id == bytes.fromhex("0000000000000002")


def test_encode_follows_the_spec_rules() -> None:
    msg = json_codec.decode(ExportTraceServiceRequest, GOLDEN_TRACE)
    out = orjson.loads(json_codec.encode(msg))
    span = out["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert span["traceId"] == "5b8efff798038103d269b633813fc60c"  # hex, not base64
    assert span["parentSpanId"] == "eee19b7ec3c1b173"
    assert span["kind"] == 2  # enum as integer
    assert span["startTimeUnixNano"] == "1544712660000000000"  # int64 as string
    assert span["attributes"][0] == {"key": "n", "value": {"intValue": "42"}}
    assert span["attributes"][1]["value"] == {"bytesValue": "AAEC"}  # other bytes stay base64
    assert span["status"] == {"code": 2, "message": "bad"}
    assert json_codec.decode(ExportTraceServiceRequest, orjson.dumps(out)) == msg


def test_snake_case_enum_names_and_base64_ids_are_accepted() -> None:
    body = {
        "resource_spans": [
            {
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": "W47/95gDgQPSabYzgT/GDA==",
                                "span_id": "7uGbfsPBsXQ=",
                                "kind": "SPAN_KIND_CLIENT",
                                "start_time_unix_nano": 5,
                                "unknownField": {"ignored": True},
                            }
                        ]
                    }
                ]
            }
        ]
    }
    span = (
        json_codec.decode(ExportTraceServiceRequest, orjson.dumps(body))
        .resource_spans[0]
        .scope_spans[0]
        .spans[0]
    )
    assert span.trace_id.hex() == "5b8efff798038103d269b633813fc60c"
    assert span.span_id.hex() == "eee19b7ec3c1b174"
    assert span.kind == 3
    assert span.start_time_unix_nano == 5


@pytest.mark.parametrize(
    ("request_type", "batch"),
    [
        (ExportTraceServiceRequest, spans.traces(5)),
        (ExportMetricsServiceRequest, spans.metrics()),
        (ExportLogsServiceRequest, spans.logs()),
    ],
)
def test_round_trip_every_signal(request_type, batch) -> None:  # type: ignore[no-untyped-def]
    data = json_codec.encode(batch)
    back = json_codec.decode(request_type, data)
    assert back.SerializeToString() == batch.SerializeToString()


def test_non_finite_doubles_and_big_ints() -> None:
    batch = spans.metrics()
    out = orjson.loads(json_codec.encode(batch))
    metrics = out["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]
    assert metrics[0]["sum"]["dataPoints"][0]["asInt"] == str(2**62 + 1)
    assert metrics[0]["sum"]["dataPoints"][0]["exemplars"][0]["traceId"] == bytes(range(16)).hex()
    assert metrics[2]["gauge"]["dataPoints"][0]["asDouble"] == "NaN"
    back = json_codec.decode(ExportMetricsServiceRequest, orjson.dumps(out))
    assert math.isnan(back.resource_metrics[0].scope_metrics[0].metrics[2].gauge.data_points[0].as_double)


def test_agrees_with_protobuf_json_format_apart_from_ids_and_enums() -> None:
    """Everything the spec does not change matches protobuf's own canonical mapping."""
    batch = spans.logs()
    ours = orjson.loads(json_codec.encode(batch))
    theirs = MessageToDict(batch, use_integers_for_enums=True)
    rec_ours = ours["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    rec_theirs = theirs["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    for key in ("traceId", "spanId"):
        rec_ours.pop(key)
        rec_theirs.pop(key)
    assert ours == theirs


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"not json", "not JSON"),
        (b"[]", "expected an object"),
        (b'{"resourceSpans": {}}', "resourceSpans"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "traceId"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]}',
            "startTimeUnixNano",
        ),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 3}]}]}]}', "name"),
    ],
)
def test_bad_input_is_a_clear_error(data: bytes, where: str) -> None:
    with pytest.raises(OtlpJsonError, match=where):
        json_codec.decode(ExportTraceServiceRequest, data)


_scalars = st.one_of(
    st.text(max_size=20).map(lambda s: AnyValue(string_value=s)),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda i: AnyValue(int_value=i)),
    st.floats(allow_nan=False).map(lambda f: AnyValue(double_value=f)),
    st.booleans().map(lambda b: AnyValue(bool_value=b)),
    st.binary(max_size=20).map(lambda b: AnyValue(bytes_value=b)),
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.text(max_size=10), _scalars), max_size=8),
    st.binary(min_size=16, max_size=16),
    st.integers(min_value=0, max_value=2**64 - 1),
)
def test_round_trip_property(attrs, trace_id: bytes, ts: int) -> None:  # type: ignore[no-untyped-def]
    batch = spans.traces(1)
    span = batch.resource_spans[0].scope_spans[0].spans[0]
    span.trace_id = trace_id
    span.start_time_unix_nano = ts
    span.attributes.extend(KeyValue(key=k, value=v) for k, v in attrs)
    assert json_codec.decode(ExportTraceServiceRequest, json_codec.encode(batch)) == batch
