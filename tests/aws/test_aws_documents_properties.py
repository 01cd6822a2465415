"""Property tests: whatever the spans and metrics hold, every X-Ray document and EMF event validates.

Inputs lean on what breaks documents: long strings (past every limit), empty strings, non-ASCII and control
characters, tabs and backslashes, NaN/±Inf, huge integers, values of the wrong type in typed fields. Examples are
derandomised and bounded, so a run is reproducible and its cost fixed.
"""

from __future__ import annotations

import math
import time
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from sidecar.exporters.xray._internal.segment import SegmentTranslator
from sidecar.otlp.attributes import any_value
from tests.aws.aws_documents import validate_segment

PROPERTY = settings(
    max_examples=80, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

#: Strings that hit limits and patterns: long (built by repetition, cheap), empty, control and non-ASCII ones.
nasty_text = st.one_of(
    st.text(max_size=12),
    st.builds(lambda s, n: s * n, st.text(min_size=1, max_size=4), st.integers(60, 700)),
    st.sampled_from(
        ["", " ", "\t", "GET\t/x", "a\\b", "C:\\dir\\f", "\x00\x1f\x7f", "é" * 260, "😀" * 130, "ǅ", "\u2028",
         "日本語のサービス", "x" * 1001, "http://h/" + "p" * 300, "-" * 500]
    ),
)  # fmt: skip
scalar = st.one_of(
    nasty_text,
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
value = st.one_of(scalar, st.lists(scalar, max_size=3))

#: Attribute keys the translator gives meaning to, so generated values land in typed fields.
KNOWN_KEYS = [
    "http.request.method", "http.method", "url.full", "http.url", "url.scheme", "server.address", "server.port",
    "url.path", "url.query", "http.target", "user_agent.original", "client.address", "http.client_ip",
    "network.peer.address", "http.response.status_code", "http.response.body.size", "enduser.id",
    "db.system.name", "db.system", "db.query.text", "db.user", "db.namespace", "db.connection_string",
    "rpc.system", "rpc.service", "rpc.method", "aws.region", "aws.request_id", "aws.sqs.queue_url",
    "aws.s3.bucket", "aws.s3.key", "aws.dynamodb.table_names", "peer.service", "messaging.destination.name",
    "aws.log.group.names", "aws.log.group.arns",
]  # fmt: skip
RESOURCE_KEYS = [
    "service.name", "service.version", "cloud.platform", "cloud.account.id", "aws.ecs.launchtype",
    "aws.ecs.task.arn", "container.name", "container.id", "telemetry.sdk.language", "telemetry.sdk.version",
    "aws.log.group.names", "aws.log.group.arns",
]  # fmt: skip
attributes = st.dictionaries(
    st.one_of(st.sampled_from(KNOWN_KEYS), nasty_text), value, max_size=10
)
resource_attributes = st.dictionaries(st.one_of(st.sampled_from(RESOURCE_KEYS), nasty_text), value, max_size=8)
exception_events = st.lists(
    st.dictionaries(
        st.sampled_from(["exception.type", "exception.message", "exception.stacktrace"]),
        st.one_of(
            nasty_text,
            st.sampled_from(
                [
                    'Traceback (most recent call last):\n  File "a.py", line 99999999999999999999999, in f\nE: x',
                    "java.lang.RuntimeException: outer\n\tat a.B.c(B.java:1)\nCaused by: java.io.IOException: in"
                    "\n\tat d.E.f(E.java:2)\n\t... 1 more",
                    "TypeError: x\n    at f (/app/a.js:10:5)\n    at /app/b.js:3:1\n    at new Promise (<anonymous>)",
                ]
            ),
        ),
        max_size=3,
    ),
    max_size=3,
)


def _request(
    name: str, kind: int, parent: bool, attrs: dict[str, Any], resource: dict[str, Any], events: list[dict[str, Any]]
) -> ExportTraceServiceRequest:
    now_ns = time.time_ns()
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    for k, v in resource.items():
        rs.resource.attributes.add(key=k).value.CopyFrom(any_value(v))
    span = rs.scope_spans.add().spans.add(
        trace_id=int(now_ns // 10**9).to_bytes(4, "big") + b"\x07" * 12,
        span_id=b"\x01" * 8,
        parent_span_id=b"\x02" * 8 if parent else b"",
        name=name,
        kind=kind,  # type: ignore[arg-type]
        start_time_unix_nano=now_ns,
        end_time_unix_nano=now_ns + 10**6,
    )
    for k, v in attrs.items():
        span.attributes.add(key=k).value.CopyFrom(any_value(v))
    for ev in events:
        event = span.events.add(name="exception", time_unix_nano=now_ns)
        for k, v in ev.items():
            event.attributes.add(key=k).value.CopyFrom(any_value(v))
    span.status.code = 2
    return request


@PROPERTY
@given(
    name=nasty_text,
    kind=st.sampled_from(list(Span.SpanKind.values())),
    parent=st.booleans(),
    attrs=attributes,
    resource=resource_attributes,
    events=exception_events,
    index_all=st.booleans(),
)
# Found by this test with more examples; kept as fixed cases.
@example("", 0, False, {"http.request.method": "0", "url.path": 1}, {}, [], False)
@example("\U00010400", 0, True, {}, {}, [], False)
@example("GET\t/a\\b", 1, True, {"": "x" * 1001, "k": math.nan}, {"container.name": 5}, [], True)
def test_every_segment_document_validates(
    name: str,
    kind: int,
    parent: bool,
    attrs: dict[str, Any],
    resource: dict[str, Any],
    events: list[dict[str, Any]],
    index_all: bool,
) -> None:
    request = _request(name, kind, parent, attrs, resource, events)
    translator = SegmentTranslator(
        indexed_attributes=frozenset(list(attrs)[:3] + list(resource)[:2]), index_all_attributes=index_all
    )
    docs = translator.translate(request, time.time())
    assert translator.stats.translation_errors == 0
    assert len(docs) == 1, "a span with valid ids is never dropped for its attributes"
    doc = validate_segment(docs[0])
    assert math.isfinite(doc["end_time"])
