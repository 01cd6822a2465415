"""Hostile, oversized and odd OTLP input (issue 13): refused or counted at the receiver, never costing other data.

Unit tests for the shared mechanisms (codec depth, wire pre-scan) sit beside tests against a
real sidecar process on loopback.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
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


# ------------------------------------------------------------------------------------------------ sizes


def length_delimited(field: int, payload: bytes) -> bytes:
    """One protobuf LEN field, written by hand so a test can build bodies no SDK would."""
    size, head = len(payload), bytearray([field << 3 | 2])
    while size >= 0x80:
        head.append(size & 0x7F | 0x80)
        size >>= 7
    head.append(size)
    return bytes(head) + payload


def empty_spans(n: int) -> bytes:
    """An ExportTraceServiceRequest of ``n`` empty spans: two bytes each on the wire."""
    return length_delimited(1, length_delimited(2, b"\x12\x00" * n))


def grpc_raw(target: str, body: bytes, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.StatusCode:
    """Call TraceService/Export with raw bytes; the status code the sidecar answered."""
    with grpc.insecure_channel(target, options=[("grpc.max_send_message_length", 64 << 20)]) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                     request_serializer=None, response_deserializer=None)
        try:
            export(body, timeout=60, metadata=metadata)
        except grpc.RpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


def peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes: what a test can bound after the fact."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_request_bigger_than_the_queue_is_refused_not_answered_200_and_dropped(sidecar_factory) -> None:  # type: ignore[no-untyped-def]
    sidecar = sidecar_factory({"ECS_OTEL_TRACES_EXPORTERS": "debug", "ECS_OTEL_QUEUE_MAX_ITEMS": "100",
                               "ECS_OTEL_TRACES_PROCESSORS": "none"})
    url = sidecar.http_url + "/v1/traces"
    too_many = json_codec.decode(ExportTraceServiceRequest, traces_json([span_json(f"s{i}") for i in range(101)]))
    status, _, body = post(url, too_many.SerializeToString(), PROTOBUF)
    assert status == 413 and b"more than 100 items" in body, (status, body)
    status, _, body = post(url, json_codec.encode(too_many), JSON)
    assert status == 413 and b"more than 100 items" in body, (status, body)
    assert grpc_raw(sidecar.grpc_target, too_many.SerializeToString()) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert post(url, traces_json([span_json(f"fits{i}") for i in range(100)]), JSON)[0] == 200
    m = sidecar.wait_metrics(lambda m: accounting(m, "debug")["exported"] == 100)
    assert accounting(m, "debug") == {"received": 100, "exported": 100, "dropped": 0, "queued": 0}
    assert m.get_value("ecs_otel_sidecar_receiver_requests_total", receiver="otlp_http", signal="traces",
                       outcome="too_many_items") == 2
    assert m.get_value("ecs_otel_sidecar_receiver_requests_total", receiver="otlp_grpc", signal="traces",
                       outcome="too_many_items") == 1


def test_millions_of_empty_spans_are_refused_before_they_are_decoded(sidecar_factory) -> None:  # type: ignore[no-untyped-def]
    limit_mib = 200
    token = "t0k3n-for-the-size-test"
    sidecar = sidecar_factory({"ECS_OTEL_TRACES_EXPORTERS": "debug", "ECS_OTEL_MEMORY_LIMIT_MIB": str(limit_mib),
                               "ECS_OTEL_RECEIVER_TOKEN": token})
    auth = {"Authorization": f"Bearer {token}"}
    bomb = empty_spans(4_000_000)  # 8 MB on the wire, ~775 MB once decoded
    assert len(bomb) < 8 << 20
    # Without the token nothing is decoded, over either transport.
    assert post(sidecar.http_url + "/v1/traces", bomb, PROTOBUF)[0] == 401
    assert grpc_raw(sidecar.grpc_target, bomb) == grpc.StatusCode.UNAUTHENTICATED
    # With it, the count on the wire refuses the request before a span is built.
    status, _, body = post(sidecar.http_url + "/v1/traces", bomb, PROTOBUF, auth)
    assert status == 413, (status, body)
    assert grpc_raw(sidecar.grpc_target, bomb, (("authorization", f"Bearer {token}"),)) == \
        grpc.StatusCode.RESOURCE_EXHAUSTED
    # The same in OTLP/JSON: ~2.7 million empty objects would not fit the memory limit once parsed.
    json_bomb = b'{"resourceSpans":[{"scopeSpans":[{"spans":[' + b",".join([b"{}"] * 2_700_000) + b"]}]}]}"
    status, _, body = post(sidecar.http_url + "/v1/traces", json_bomb, JSON, auth)
    assert status == 413, (status, body)
    # One span with 4 million empty attributes: the item count is 1, the decoded size is not small.
    span = length_delimited(1, b"\x01" * 16) + length_delimited(2, b"\x02" * 8) + b"\x4a\x00" * 4_000_000
    attribute_bomb = length_delimited(1, length_delimited(2, length_delimited(2, span)))
    status, _, body = post(sidecar.http_url + "/v1/traces", attribute_bomb, PROTOBUF, auth)
    assert status == 413, (status, body)
    assert peak_rss(sidecar.proc.pid) < (limit_mib + 64) << 20
    # Honest large requests still pass: ~6 MB of spans with a few attributes each, in both encodings.
    honest = traces_json([span_json(f"honest-{i}", {"stringValue": "v" * 100}) for i in range(18_000)])
    assert 5 << 20 < len(honest) < 8 << 20
    status, _, body = post(sidecar.http_url + "/v1/traces", honest, JSON, auth)
    assert status == 200, body
    pb = json_codec.decode(ExportTraceServiceRequest, honest).SerializeToString()
    status, _, body = post(sidecar.http_url + "/v1/traces", pb, PROTOBUF, auth)
    assert status == 200, body
    assert sidecar.get("/healthz")[0] == 200


def test_an_undecodable_grpc_request_is_invalid_argument_counted_and_logged_without_a_traceback(
        sidecar_factory) -> None:  # type: ignore[no-untyped-def]
    sidecar = sidecar_factory({"ECS_OTEL_TRACES_EXPORTERS": "debug"})
    for garbage in (b"\xff\xff\xff", b"\x0a\x05abc", b"\x0b"):  # bad varint, truncated field, group wire type
        assert grpc_raw(sidecar.grpc_target, garbage) == grpc.StatusCode.INVALID_ARGUMENT
    m = sidecar.metrics()
    assert m.get_value("ecs_otel_sidecar_receiver_requests_total", receiver="otlp_grpc", signal="traces",
                       outcome="bad_request") == 3
    sidecar.terminate()
    records = sidecar.log_records()
    assert not [r for r in records if r["level"] == "ERROR" or "exception" in r], records


# ------------------------------------------------------------------------------------------------ ids


def test_spans_with_invalid_ids_are_dropped_counted_and_reported_as_partial_success(sidecar_factory) -> None:  # type: ignore[no-untyped-def]
    sidecar = sidecar_factory({"ECS_OTEL_TRACES_EXPORTERS": "debug", "ECS_OTEL_LOGS_EXPORTERS": "debug",
                               "ECS_OTEL_TRACES_PROCESSORS": "none", "ECS_OTEL_LOGS_PROCESSORS": "none"})
    trace, span = os.urandom(16).hex(), os.urandom(8).hex()
    bad = [span_json("no-trace", traceId=""), span_json("short-trace", traceId="ab" * 15),
           span_json("long-trace", traceId="ab" * 17), span_json("short-span", spanId="cd" * 7),
           span_json("zero-trace", traceId="00" * 16), span_json("zero-span", spanId="00" * 8)]
    short_parent = span_json("short-parent", traceId=trace)
    short_parent["parentSpanId"] = "ef" * 7  # optional: cleared, the span kept as a root
    zero_parent = span_json("zero-parent", traceId=trace)
    zero_parent["parentSpanId"] = "00" * 8  # "no parent": the same
    good = span_json("good", traceId=trace, spanId=span)
    status, _, body = post(sidecar.http_url + "/v1/traces", traces_json([*bad, short_parent, zero_parent, good]), JSON)
    assert status == 200, body
    answer = json.loads(body)["partialSuccess"]
    assert int(answer["rejectedSpans"]) == 6 and "16 bytes" in answer["errorMessage"], answer
    # The same over gRPC, in protobuf.
    request = json_codec.decode(ExportTraceServiceRequest, traces_json([span_json("g-bad", spanId=""),
                                                                        span_json("g-good")]))
    with grpc.insecure_channel(sidecar.grpc_target) as channel:
        reply = trace_service_pb2_grpc.TraceServiceStub(channel).Export(request, timeout=10)
    assert reply.partial_success.rejected_spans == 1
    # A log record's ids are optional: an invalid one is cleared and the record kept.
    logs = {"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"stringValue": "bad ids"}, "traceId": "ab" * 15, "spanId": "00" * 8},
        {"body": {"stringValue": "fine"}, "traceId": trace, "spanId": span}]}]}]}
    status, _, body = post(sidecar.http_url + "/v1/logs", json.dumps(logs).encode(), JSON)
    assert status == 200 and "partialSuccess" not in json.loads(body or b"{}"), body
    m = sidecar.wait_metrics(lambda m: accounting(m, "debug")["exported"] == 4
                             and accounting(m, "debug", "logs")["exported"] == 2)
    assert accounting(m, "debug")["received"] == 4  # good, short-parent, zero-parent, g-good
    assert m.get_value("ecs_otel_sidecar_receiver_rejected_items_total", receiver="otlp_http", signal="traces",
                       reason="invalid_id") == 6
    assert m.get_value("ecs_otel_sidecar_receiver_rejected_items_total", receiver="otlp_grpc", signal="traces",
                       reason="invalid_id") == 1
    assert m.get_value("ecs_otel_sidecar_receiver_repaired_items_total", receiver="otlp_http", signal="logs",
                       reason="invalid_id") == 1
    assert m.get_value("ecs_otel_sidecar_receiver_repaired_items_total", receiver="otlp_http", signal="traces",
                       reason="invalid_id") == 2


def test_aborted_bodies_are_counted_and_logged_as_rate_limited_warnings_without_tracebacks(
        sidecar_factory: Any) -> None:
    import socket

    sc = sidecar_factory({"ECS_OTEL_TRACES_EXPORTERS": "none", "ECS_OTEL_METRICS_EXPORTERS": "none",
                          "ECS_OTEL_LOGS_EXPORTERS": "none", "ECS_OTEL_LOG_REPEAT_LIMIT": "3"})
    port = int(sc.ports["otlp_http"])
    for _ in range(30):  # headers promise 1000 bytes, three arrive, the client hangs up
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                      b"Content-Length: 1000\r\n\r\nabc")
    requests = "ecs_otel_sidecar_receiver_requests_total"
    m = sc.wait_metrics(lambda m: m.total(requests, outcome="aborted") == 30)
    assert m.total("ecs_otel_sidecar_log_lines_suppressed_total") == 27
    assert post(sc.http_url + "/v1/traces", ExportTraceServiceRequest().SerializeToString(), PROTOBUF)[0] == 200
    sc.terminate()
    records = sc.log_records()
    assert not [r for r in records if r["level"] == "ERROR" or "exception.stacktrace" in r]
    aborted = [r for r in records if r["message"].startswith("client aborted its traces request body")]
    assert len(aborted) == 3 and all(r["level"] == "WARNING" for r in aborted)
    summary = [r for r in records if r["message"].startswith("suppressed 27 similar log lines")]
    assert len(summary) == 1 and summary[0]["suppressed"] == 27


QUIET = {"ECS_OTEL_TRACES_EXPORTERS": "none", "ECS_OTEL_METRICS_EXPORTERS": "none", "ECS_OTEL_LOGS_EXPORTERS": "none"}
HEAD = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"


def read_until_closed(sock: Any, timeout_s: float) -> bytes:
    """Everything the server sends until it closes the connection; fails past ``timeout_s`` (a hang)."""
    sock.settimeout(timeout_s)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_connection_that_never_finishes_its_headers_is_closed_and_counted(sidecar_factory: Any) -> None:
    import socket

    sc = sidecar_factory({**QUIET, "ECS_OTEL_HEADER_READ_TIMEOUT": "1"})
    with socket.create_connection(("127.0.0.1", int(sc.ports["otlp_http"])), timeout=5) as slow:
        slow.sendall(HEAD + b"X-Slow: a")  # a slow-loris: the header block never ends
        assert read_until_closed(slow, 15) == b""  # closed by the sidecar (a hang fails on the socket timeout)
    m = sc.wait_metrics(lambda m: m.total("ecs_otel_sidecar_receiver_header_timeouts_total") == 1)
    assert m.total("ecs_otel_sidecar_receiver_open_connections") == 0
    assert post(sc.http_url + "/v1/traces", ExportTraceServiceRequest().SerializeToString(), PROTOBUF)[0] == 200


def test_a_keep_alive_connection_idle_past_the_header_timeout_after_a_request_is_closed(sidecar_factory: Any) -> None:
    """The header deadline restarts when a request ends; the connection's one pending timer, set when it
    opened, finds the later deadline when it fires and waits for that one (no timer per request)."""
    import socket

    sc = sidecar_factory({**QUIET, "ECS_OTEL_HEADER_READ_TIMEOUT": "2"})
    with socket.create_connection(("127.0.0.1", int(sc.ports["otlp_http"])), timeout=5) as conn:
        # Halfway through the first deadline: the request ends well after the connection's timer was set,
        # so that timer fires before the restarted deadline and must wait for it (not close, not give up).
        time.sleep(1.0)
        conn.sendall(HEAD + b"Content-Length: 0\r\n\r\n" + HEAD + b"X-Slow: a")  # one request, then a slow-loris
        data = read_until_closed(conn, 15)
    assert data.startswith(b"HTTP/1.1 200 ") and data.count(b"HTTP/1.1") == 1  # answered, then closed
    m = sc.wait_metrics(lambda m: m.total("ecs_otel_sidecar_receiver_header_timeouts_total") == 1)
    assert m.total("ecs_otel_sidecar_receiver_open_connections") == 0
    assert m.total("ecs_otel_sidecar_receiver_requests_total", outcome="ok") == 1


def test_a_body_slower_than_the_body_timeout_is_answered_408_and_counted(sidecar_factory: Any) -> None:
    import socket

    sc = sidecar_factory({**QUIET, "ECS_OTEL_BODY_READ_TIMEOUT": "1"})
    with socket.create_connection(("127.0.0.1", int(sc.ports["otlp_http"])), timeout=5) as slow:
        slow.sendall(HEAD + b"Content-Length: 100\r\n\r\nabc")  # 97 bytes never come
        assert read_until_closed(slow, 15).startswith(b"HTTP/1.1 408 ")
    sc.wait_metrics(lambda m: m.total("ecs_otel_sidecar_receiver_requests_total", outcome="timeout") == 1)


def test_connections_beyond_the_cap_are_refused_503_and_counted(sidecar_factory: Any) -> None:
    import socket

    sc = sidecar_factory({**QUIET, "ECS_OTEL_RECEIVER_MAX_CONNECTIONS": "3", "ECS_OTEL_HEADER_READ_TIMEOUT": "120"})
    addr = ("127.0.0.1", int(sc.ports["otlp_http"]))
    held = [socket.create_connection(addr, timeout=5) for _ in range(3)]
    try:
        sc.wait_metrics(lambda m: m.total("ecs_otel_sidecar_receiver_open_connections") == 3)
        with socket.create_connection(addr, timeout=5) as extra:
            assert read_until_closed(extra, 15).startswith(b"HTTP/1.1 503 ")
        assert sc.metrics().total("ecs_otel_sidecar_receiver_refused_connections_total") == 1
    finally:
        for s in held:
            s.close()
    sc.wait_metrics(lambda m: m.total("ecs_otel_sidecar_receiver_open_connections") == 0)
    assert post(sc.http_url + "/v1/traces", ExportTraceServiceRequest().SerializeToString(), PROTOBUF)[0] == 200
