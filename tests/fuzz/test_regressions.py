"""Fuzzing findings, kept as regression tests (they were strict xfails until the code was fixed)."""

from __future__ import annotations

import json
import os
import time

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from sidecar.exporters.xray._internal import segment
from sidecar.exporters.xray._internal.segment import SegmentTranslator
from tests.fuzz.targets import check_segments


def one_span(**fields: object) -> ExportTraceServiceRequest:
    now = time.time()
    req = ExportTraceServiceRequest()
    rs = req.resource_spans.add()
    rs.resource.attributes.add(key="service.name").value.string_value = "svc"
    span = rs.scope_spans.add().spans.add(
        name="s", trace_id=int(now).to_bytes(4, "big") + os.urandom(12), span_id=os.urandom(8),
        start_time_unix_nano=int(now * 1e9), end_time_unix_nano=int(now * 1e9) + 1000, kind=2)
    span.attributes.add(key="http.request.method").value.string_value = "GET"
    status = fields.pop("status_code", None)
    if isinstance(status, str):
        span.attributes.add(key="http.response.status_code").value.string_value = status
    elif status is not None:
        span.attributes.add(key="http.response.status_code").value.double_value = status  # type: ignore[assignment]
    for k, v in fields.items():
        setattr(span, k, v)
    return req


def test_well_formed_span_translates() -> None:
    (doc,) = check_segments(one_span(status_code=503.0), time.time())
    assert doc["fault"] is True


@pytest.mark.parametrize("status", [float("inf"), float("-inf"), float("nan"), 1e308, "9" * 30, 200.5, 99.0, 600.0,
                                    "abc"])  # "9" * 30: found by atheris (as bytes, hex-encoded)
def test_status_codes_that_are_not_real_ones_are_left_out(status: float | str) -> None:
    (doc,) = check_segments(one_span(status_code=status), time.time())
    assert "response" not in doc["http"] and "fault" not in doc and "error" not in doc


@pytest.mark.parametrize(("status", "flag"), [(404.0, "error"), ("503", "fault"), (429.0, "throttle")])
def test_real_status_codes_as_doubles_or_strings_are_kept(status: float | str, flag: str) -> None:
    (doc,) = check_segments(one_span(status_code=status), time.time())
    assert doc["http"]["response"]["status"] == int(float(status)) and doc[flag] is True


@pytest.mark.parametrize("fields", [
    {"trace_id": int(time.time()).to_bytes(4, "big") + b"\1"},
    {"trace_id": b""},
    {"span_id": b"\1\2\3"},
    {"span_id": b""},
])
def test_spans_with_ids_of_the_wrong_length_are_dropped_and_counted(fields: dict[str, bytes]) -> None:
    translator = SegmentTranslator()
    assert translator.translate(one_span(**fields), time.time()) == []
    assert translator.stats.invalid_span_ids_dropped == 1


def test_a_parent_id_of_the_wrong_length_is_ignored_and_the_span_becomes_a_segment() -> None:
    request = one_span(parent_span_id=b"\1\2\3\4\5", kind=3)  # a CLIENT span: a subsegment if its parent were valid
    translator = SegmentTranslator()
    (raw,) = translator.translate(request, time.time())
    doc = json.loads(raw)
    assert "parent_id" not in doc and "type" not in doc and doc["name"] == "svc"
    assert translator.stats.invalid_parent_ids_ignored == 1
    check_segments(request, time.time())


def test_links_with_ids_of_the_wrong_length_are_left_out() -> None:
    request = one_span()
    span = request.resource_spans[0].scope_spans[0].spans[0]
    good = span.links.add(trace_id=span.trace_id, span_id=b"\2" * 8)
    span.links.add(trace_id=b"\1" * 5, span_id=b"\2" * 8)
    span.links.add(trace_id=span.trace_id, span_id=b"\2" * 3)
    translator = SegmentTranslator()
    (doc,) = (json.loads(raw) for raw in translator.translate(request, time.time()))
    assert [link["id"] for link in doc["links"]] == [good.span_id.hex()]
    assert translator.stats.invalid_links_skipped == 2


def test_a_span_that_raises_is_dropped_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    request = one_span(name="bad")
    for name in ("good-1", "good-2"):
        request.resource_spans[0].scope_spans[0].spans.add().CopyFrom(one_span(name=name).resource_spans[0]
                                                                      .scope_spans[0].spans[0])
    real = segment.cause_block

    def cause_block(span: Span, remote: bool, **kw: str) -> object:
        if span.name == "bad":
            raise RuntimeError("an input nobody foresaw")
        return real(span, remote=remote, **kw)

    monkeypatch.setattr(segment, "cause_block", cause_block)
    translator = SegmentTranslator()
    docs = [json.loads(raw) for raw in translator.translate(request, time.time())]
    assert [d["metadata"]["otel"]["span.name"] for d in docs] == ["good-1", "good-2"]
    assert translator.stats.translation_errors == 1


#: Inputs that made a fuzz target fail once (base64), replayed through their target for good.
FINDINGS = [
    ("xray_segments", "QYKCAAEAAAAAAAAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAC4AAAAbAsHBwcHBwQAAAADBwcHBwUdHR0cAAAAAAAAAAAAAAAAAAAAAAAAAAEE="),
]


@pytest.mark.parametrize(("target", "data"), FINDINGS)
def test_replay_fuzz_findings(target: str, data: str) -> None:
    import base64

    from tests.fuzz.targets import TARGETS

    TARGETS[target](base64.b64decode(data))
