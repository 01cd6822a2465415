"""Fuzzing findings, kept as regression tests (strict xfails until the code is fixed)."""

from __future__ import annotations

import os
import time

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

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


@pytest.mark.xfail(strict=True, raises=OverflowError, reason=(
    "sidecar/xray/http_block.py:53 status_code(): int(inf) raises OverflowError, which aborts translate() for "
    "the whole batch (the queue then retries it until it expires)"))
def test_infinite_status_code_does_not_abort_the_batch() -> None:
    check_segments(one_span(status_code=float("inf")), time.time())


@pytest.mark.xfail(strict=True, raises=TypeError, reason=(
    "sidecar/xray/http_block.py:53 status_code(): int(1e308) is a 1000-bit int that orjson cannot encode "
    "(sidecar/xray/trim.py:19 TypeError), aborting the whole batch"))
@pytest.mark.parametrize("status", [1e308, "9" * 30])  # the string: found by atheris (as bytes, hex-encoded)
def test_huge_status_code_does_not_abort_the_batch(status: float | str) -> None:
    check_segments(one_span(status_code=status), time.time())


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "sidecar/xray/segment.py:100-108 document(): ids are hex-encoded whatever their length, so a 5-byte "
    "trace id or 3-byte span id becomes a document X-Ray refuses"))
@pytest.mark.parametrize("fields", [
    {"trace_id": int(time.time()).to_bytes(4, "big") + b"\1"},
    {"span_id": b"\1\2\3"},
    {"parent_span_id": b"\1\2\3\4\5"},
])
def test_ids_of_the_wrong_length_never_make_a_malformed_document(fields: dict[str, bytes]) -> None:
    check_segments(one_span(**fields), time.time())


#: Inputs that made a fuzz target fail once (base64), replayed through their target for good.
FINDINGS = [
    ("xray_segments", "QYKCAAEAAAAAAAAAAIAAAAAAAAAAAAAAAAAAAAAAAAAAAC4AAAAbAsHBwcHBwQAAAADBwcHBwUdHR0cAAAAAAAAAAAAAAAAAAAAAAAAAAEE="),
]


@pytest.mark.parametrize(("target", "data"), FINDINGS)
def test_replay_fuzz_findings(target: str, data: str) -> None:
    import base64

    from tests.fuzz.targets import TARGETS

    TARGETS[target](base64.b64decode(data))
