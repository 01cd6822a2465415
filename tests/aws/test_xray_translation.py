"""Span → segment document translation, on real SDK spans (no network)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from sidecar.exporters.xray._internal import ids, limits
from sidecar.exporters.xray._internal.naming import annotation_key, name_char_allowed, sanitize_name
from sidecar.exporters.xray._internal.segment import SegmentTranslator
from sidecar.exporters.xray._internal.trim import MAX_DOCUMENT_BYTES, fit
from sidecar.otlp.attributes import any_value
from tests.aws.aws_documents import XRAY_SCHEMA, schema, validate_segment
from tests.aws.spans import by_name, checkout_trace


def translate(**kw: object) -> list[dict]:  # type: ignore[type-arg]
    t = SegmentTranslator(**kw)  # type: ignore[arg-type]
    return [validate_segment(d) for d in t.translate(checkout_trace(), time.time())]


def test_segments_subsegments_ids_and_names() -> None:
    docs = by_name(translate())
    assert set(docs) == {"checkout", "load-user", "users@db.local", "DynamoDB", "payments.example.com"}
    seg = docs["checkout"]
    trace_id = seg["trace_id"]
    assert trace_id.startswith("1-") and len(trace_id) == 35
    assert abs(int(trace_id[2:10], 16) - time.time()) < 300
    assert "parent_id" not in seg and "type" not in seg
    assert seg["origin"] == "AWS::ECS::Fargate"
    assert seg["aws"]["ecs"]["task_arn"].endswith("0123456789abcdef")
    assert seg["aws"]["account_id"] == "123456789012"
    assert seg["service"] == {"version": "1.4.2"}
    internal = docs["load-user"]
    assert (
        internal["type"] == "subsegment"
        and internal["parent_id"] == seg["id"]
        and "namespace" not in internal
    )
    assert docs["users@db.local"]["parent_id"] == internal["id"]
    assert docs["users@db.local"]["namespace"] == "remote"
    assert docs["DynamoDB"]["namespace"] == "aws"
    assert docs["payments.example.com"]["namespace"] == "remote"
    assert all(d["trace_id"] == trace_id for d in docs.values())
    assert all(d["end_time"] >= d["start_time"] for d in docs.values())


def test_http_blocks_from_new_and_old_conventions_and_flags() -> None:
    docs = by_name(translate())
    seg = docs["checkout"]
    assert seg["http"] == {
        "request": {
            "method": "GET",
            "url": "http://api.local:8080/users/7",
            "user_agent": "curl/8.0",
            "client_ip": "10.0.0.9",
        },
        "response": {"status": 500},
    }
    assert seg["fault"] is True and "error" not in seg
    client = docs["payments.example.com"]
    assert client["http"]["request"] == {"method": "POST", "url": "https://payments.example.com/charge?x=1"}
    assert client["http"]["response"] == {"status": 429}
    assert client["error"] is True and client["throttle"] is True and "fault" not in client


def test_cause_sql_aws_blocks_annotations_metadata() -> None:
    docs = by_name(translate(indexed_attributes=frozenset({"customer.tier", "aws.ecs.task.family"})))
    seg = docs["checkout"]
    (exc,) = seg["cause"]["exceptions"]
    assert exc["type"] == "ValueError" and exc["message"] == "boom"
    assert exc["stack"][0]["path"].endswith("spans.py") and exc["stack"][0]["line"] > 0
    assert seg["annotations"] == {"customer_tier": "gold", "aws_ecs_task_family": "checkout"}
    assert seg["metadata"]["default"]["http.route"] == "/users/{id}"
    assert "http.request.method" not in seg["metadata"]["default"]
    assert seg["metadata"]["otel"]["span.name"] == "GET /users/{id}"
    sql = docs["users@db.local"]["sql"]
    assert sql == {
        "database_type": "postgresql",
        "sanitized_query": "SELECT * FROM users WHERE id = $1",
        "url": "db.local:5432/users",
    }
    aws = docs["DynamoDB"]["aws"]
    assert aws == {
        "operation": "GetItem",
        "region": "us-east-1",
        "request_id": "REQ123",
        "table_name": "users",
    }


def test_non_epoch_trace_ids_are_remapped_consistently_or_dropped() -> None:
    request = checkout_trace(xray_ids=False)
    now = time.time()
    t = SegmentTranslator()
    docs = [orjson.loads(d) for d in t.translate(request, now)]
    assert len(docs) == 5 and t.stats.invalid_trace_ids_remapped == 5
    raw = request.resource_spans[0].scope_spans[0].spans[0].trace_id
    assert {d["trace_id"] for d in docs} == {docs[0]["trace_id"]}
    assert docs[0]["trace_id"].endswith(raw[4:].hex())
    assert abs(int(docs[0]["trace_id"][2:10], 16) - now) < 300
    dropper = SegmentTranslator(invalid_trace_ids="drop")
    assert dropper.translate(request, now) == [] and dropper.stats.invalid_trace_ids_dropped == 5


def test_remapper_is_bounded() -> None:
    r = ids.TraceIdRemapper(capacity=2)
    for i in range(5):
        r.remap(bytes([i]) * 16, 1_700_000_000)
    assert r.evicted == 3 and len(r._epochs) == 2


def test_names_and_keys_sanitised() -> None:
    # As the Collector does: characters the schema refuses are removed (tab and backslash included).
    assert sanitize_name("GET /a?b=<c>!") == "GET /ab=c"
    assert sanitize_name("GET\t/orders\\42") == "GET/orders42"
    assert len(sanitize_name("é" * 300).encode()) <= 200
    assert sanitize_name("***") == "span"
    assert sanitize_name("日本語 サービス") == "日本語 サービス"
    assert annotation_key("http.route-x") == "http_route_x"
    assert annotation_key("") == "_" and len(annotation_key("k" * 600)) == 500


def test_every_name_character_kept_matches_the_schema_pattern() -> None:
    """Exhaustive over the BMP: what the sanitiser keeps, the published pattern accepts."""
    pattern = schema(XRAY_SCHEMA)["properties"]["name"]["pattern"]
    accepted = re.compile("[" + pattern[len("^[") : pattern.rindex("]")] + "]")
    kept = [chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF and name_char_allowed(chr(c))]
    refused = [c for c in kept if not accepted.match(c)]
    assert not refused, [hex(ord(c)) for c in refused[:20]]
    assert len(kept) > 45_000  # letters and digits of every script Unicode 3.2 knew, not a narrow whitelist
    assert not name_char_allowed("\t") and not name_char_allowed("\\") and not name_char_allowed("\U00010400")


def _schema_limits(node: Any, path: tuple[str, ...], out: set[tuple[tuple[str, ...], int]]) -> None:
    if not isinstance(node, dict):
        return
    if "maxLength" in node and node.get("minLength") != node["maxLength"]:  # fixed-length ids excluded
        out.add((path, node["maxLength"]))
    for key, child in node.get("properties", {}).items():
        _schema_limits(child, (*path, key), out)
    for child in node.get("patternProperties", {}).values():
        _schema_limits(child, (*path, "*"), out)
    for child in node.get("oneOf", []):
        _schema_limits(child, path, out)


def test_every_length_limit_in_the_schema_is_enforced() -> None:
    full = schema(XRAY_SCHEMA)
    found: set[tuple[tuple[str, ...], int]] = set()
    _schema_limits(full, (), found)
    _schema_limits(full["definitions"]["subsegment"], (), found)
    found = {(p, n) for p, n in found if p != ("name",)}  # names: naming.sanitize_name (pattern and 200)
    assert found and found <= set(limits.FIELD_LIMITS), found - set(limits.FIELD_LIMITS)


def test_long_fields_are_cut_to_the_schema_limits_not_refused() -> None:
    """Issue 15, X-Ray item 1: a 300-character URL, a 2,000-character annotation, a tab in a name."""
    request = checkout_trace()
    spans = request.resource_spans[0].scope_spans[0].spans
    server = next(s for s in spans if s.kind == Span.SPAN_KIND_SERVER)
    internal = next(s for s in spans if s.name == "load-user")
    internal.name = "load\tuser\\v2"
    server.attributes.add(key="url.full", value={"string_value": "https://api.local/" + "p" * 300})
    server.attributes.add(key="user_agent.original", value={"string_value": "😀" * 200})
    server.attributes.add(key="note", value={"string_value": "n" * 2000})
    t = SegmentTranslator(indexed_attributes=frozenset({"note"}))
    docs = by_name([validate_segment(d) for d in t.translate(request, time.time())])
    seg = docs["checkout"]
    assert seg["http"]["request"]["url"] == ("https://api.local/" + "p" * 300)[:250]
    assert len(seg["http"]["request"]["user_agent"].encode("utf-16-le")) == 500  # 125 emoji, none split
    assert seg["annotations"]["note"] == "n" * 1000
    assert "loaduserv2" in docs
    assert t.stats.fields_truncated == 3


def test_documents_trimmed_metadata_first_then_dropped() -> None:
    doc = {
        "name": "x",
        "id": "a" * 16,
        "annotations": {"keep": "me"},
        "metadata": {"default": {"big": "y" * 70_000, "small": "z"}},
    }
    data, trimmed = fit(doc)
    assert trimmed and data is not None and len(data) <= MAX_DOCUMENT_BYTES
    out = json.loads(data)
    assert out["annotations"] == {"keep": "me"} and out["metadata"]["default"] == {"small": "z"}
    hopeless = {"name": "x" * 70_000}
    assert fit(hopeless) == (None, True)


def test_oversized_span_is_trimmed_not_lost() -> None:
    request = checkout_trace()
    span: Span = request.resource_spans[0].scope_spans[0].spans[-1]
    span.attributes.add(key="huge", value={"string_value": "q" * 100_000})
    t = SegmentTranslator()
    docs = t.translate(request, time.time())
    assert len(docs) == 5 and t.stats.documents_trimmed == 1
    assert all(len(d) <= MAX_DOCUMENT_BYTES for d in docs)


def test_links_and_annotation_cap() -> None:
    request = checkout_trace()
    span: Span = request.resource_spans[0].scope_spans[0].spans[0]
    link = span.links.add(trace_id=span.trace_id, span_id=bytes.fromhex("00000000000000aa"))
    link.attributes.add(key="reason").value.string_value = "retry"
    for i in range(60):
        span.attributes.add(key=f"k{i}").value.int_value = i
    t = SegmentTranslator(index_all_attributes=True)
    doc = orjson.loads(t.translate(request, time.time())[0])
    assert doc["links"] == [
        {"trace_id": doc["trace_id"], "id": "00000000000000aa", "attributes": {"reason": "retry"}}
    ]
    assert len(doc["annotations"]) == 50
    assert len(doc["annotations"]) + len(doc["metadata"]["default"]) >= 60


# -- where the Collector puts things (issue 15, X-Ray item 2) ----------------------------------------------------

JAVA_TRACE = """java.lang.IllegalStateException: outer
\tat com.example.Service.handle(Service.java:42)
\tat java.base/java.lang.Thread.run(Thread.java:833)
\tSuppressed: java.lang.RuntimeException: on close
\t\tat com.example.Res.close(Res.java:3)
Caused by: java.io.IOException: disk full
\tat com.example.Store.write(Store.java:7)
\t... 2 more
"""
NODE_TRACE = """TypeError: Cannot read properties of undefined (reading 'id')
    at getUser (/app/src/users.js:10:15)
    at async Promise.all (index 0)
    at /app/src/server.js:22:7
    at new Promise (<anonymous>)
"""
GO_TRACE = """goroutine 1 [running]:
main.load(0x1)
\t/app/main.go:12 +0x1d
main.main()
\t/app/main.go:30 +0x25
"""
DOTNET_TRACE = """System.InvalidOperationException: nope
   at Shop.Orders.Place(Int32 id) in /src/Orders.cs:line 17
   at Shop.Program.Main()
"""
RUBY_TRACE = """/app/lib/orders.rb:17:in 'Orders#place': nope (RuntimeError)
\tfrom /app/app.rb:5:in '<main>'
"""


def one_span_request(
    kind: int = Span.SPAN_KIND_SERVER,
    attrs: dict[str, Any] | None = None,
    resource: dict[str, Any] | None = None,
    exception: tuple[str, str, str] | None = None,
    parent: bytes = b"",
    flags: int = 0,
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    for k, v in {"service.name": "svc", **(resource or {})}.items():
        rs.resource.attributes.add(key=k).value.CopyFrom(any_value(v))
    now = time.time_ns()
    span = rs.scope_spans.add().spans.add(
        trace_id=(now // 10**9).to_bytes(4, "big") + b"\x09" * 12, span_id=b"\x03" * 8, parent_span_id=parent,
        name="op", kind=kind, start_time_unix_nano=now, end_time_unix_nano=now + 1000, flags=flags,
    )  # type: ignore[arg-type]  # fmt: skip
    for k, v in (attrs or {}).items():
        span.attributes.add(key=k).value.CopyFrom(any_value(v))
    if exception:
        event = span.events.add(name="exception", time_unix_nano=now)
        for k, v in zip(("exception.type", "exception.message", "exception.stacktrace"), exception, strict=True):
            event.attributes.add(key=k).value.CopyFrom(any_value(v))
    return request


def one_doc(**kw: Any) -> dict[str, Any]:
    (doc,) = SegmentTranslator().translate(one_span_request(**kw), time.time())
    return validate_segment(doc)


def test_java_caused_by_chain_becomes_linked_exceptions() -> None:
    doc = one_doc(resource={"telemetry.sdk.language": "java"},
                  exception=("java.lang.IllegalStateException", "outer", JAVA_TRACE))  # fmt: skip
    outer, inner = doc["cause"]["exceptions"]
    assert outer["type"] == "java.lang.IllegalStateException" and outer["cause"] == inner["id"] != outer["id"]
    assert outer["stack"] == [
        {"path": "Service.java", "line": 42, "label": "com.example.Service.handle"},
        {"path": "Thread.java", "line": 833, "label": "java.lang.Thread.run"},
    ]  # the suppressed exception's frame is not the outer one's
    assert (inner["type"], inner["message"]) == ("java.io.IOException", "disk full") and "cause" not in inner
    assert inner["stack"] == [{"path": "Store.java", "line": 7, "label": "com.example.Store.write"}]


def test_python_chained_exceptions_linked_recorded_one_first() -> None:
    import traceback

    try:
        try:
            raise KeyError("k")
        except KeyError as e:
            raise ValueError("bad input") from e
    except ValueError as exc:
        text = "".join(traceback.format_exception(exc))
    doc = one_doc(resource={"telemetry.sdk.language": "python"}, exception=("ValueError", "bad input", text))
    outer, inner = doc["cause"]["exceptions"]
    assert outer["type"] == "ValueError" and outer["cause"] == inner["id"]
    assert inner["type"] == "KeyError" and inner["message"] == "'k'"
    assert outer["stack"][0]["label"] == "test_python_chained_exceptions_linked_recorded_one_first"


def test_node_go_dotnet_ruby_stacks_are_parsed() -> None:
    def stack(language: str, text: str) -> list[dict[str, Any]]:
        doc = one_doc(resource={"telemetry.sdk.language": language}, exception=("E", "m", text))
        return doc["cause"]["exceptions"][0]["stack"]  # type: ignore[no-any-return]

    assert stack("nodejs", NODE_TRACE) == [
        {"path": "/app/src/users.js", "line": 10, "label": "getUser"},
        {"path": "index 0", "label": "async Promise.all"},
        {"path": "/app/src/server.js", "line": 22, "label": ""},
        {"path": "<anonymous>", "label": "new Promise"},
    ]
    assert stack("go", GO_TRACE) == [
        {"path": "/app/main.go", "line": 12, "label": "main.load"},
        {"path": "/app/main.go", "line": 30, "label": "main.main"},
    ]
    assert stack("dotnet", DOTNET_TRACE) == [
        {"path": "/src/Orders.cs", "line": 17, "label": "Shop.Orders.Place(Int32 id)"},
        {"path": "", "label": "Shop.Program.Main()"},
    ]
    assert stack("ruby", RUBY_TRACE) == [
        {"path": "/app/lib/orders.rb", "line": 17, "label": "Orders#place"},
        {"path": "/app/app.rb", "line": 5, "label": "<main>"},
    ]
    assert stack("", NODE_TRACE)[0]["label"] == "getUser"  # no language: recognised by its shape


def test_enduser_logs_link_and_resource_metadata_where_the_collector_puts_them() -> None:
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/ecs/shop:*"
    doc = one_doc(attrs={"enduser.id": "u-42"},
                  resource={"aws.log.group.arns": [arn], "aws.log.group.names": ["/ecs/shop"], "team": "pay"})  # fmt: skip
    assert doc["user"] == "u-42" and "enduser.id" not in doc["metadata"].get("default", {})
    assert doc["aws"]["cloudwatch_logs"] == [{"log_group": "/ecs/shop", "arn": arn}]
    assert doc["metadata"]["default"]["otel.resource.team"] == "pay"
    assert doc["metadata"]["default"]["otel.resource.service.name"] == "svc"
    names = one_doc(resource={"aws.log.group.names": "/a&/b"})  # OTEL_RESOURCE_ATTRIBUTES' list form
    assert names["aws"]["cloudwatch_logs"] == [{"log_group": "/a"}, {"log_group": "/b"}]
    sub = one_doc(kind=Span.SPAN_KIND_INTERNAL, parent=b"\x04" * 8, resource={"team": "pay"})
    assert not any(k.startswith("otel.resource.") for k in sub["metadata"].get("default", {}))
    indexed = SegmentTranslator(indexed_attributes=frozenset({"otel.resource.team"}))
    (raw,) = indexed.translate(one_span_request(resource={"team": "pay"}), time.time())
    assert validate_segment(raw)["annotations"] == {"otel_resource_team": "pay"}


def test_consumer_with_a_parent_is_a_segment_unless_the_parent_is_local() -> None:
    consumer = Span.SPAN_KIND_CONSUMER
    remote_unknown = one_doc(kind=consumer, parent=b"\x04" * 8)
    remote = one_doc(kind=consumer, parent=b"\x04" * 8, flags=0x300)
    local = one_doc(kind=consumer, parent=b"\x04" * 8, flags=0x100)
    assert "type" not in remote_unknown and "type" not in remote and remote["name"] == "svc"
    assert remote["parent_id"] == "04" * 8  # still linked to the producer
    assert local["type"] == "subsegment" and local["parent_id"] == "04" * 8
