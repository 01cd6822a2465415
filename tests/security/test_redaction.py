"""Redaction is on by default: secrets in span attributes never reach the backend."""

from __future__ import annotations

import os
import time

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.faults.otlp_client import PROTOBUF
from tests.faults.secrets import AUTH
from tests.sidecar.test_e2e_ingest import post
from tests.support.otlp_sink import SinkProcess, spans

SECRET = "Bearer do-not-leak-" + os.urandom(6).hex()


def test_default_pipeline_redacts_sensitive_attributes(otlp_sink: SinkProcess, fault_sidecar) -> None:  # type: ignore[no-untyped-def]
    sidecar = fault_sidecar({"ECS_OTEL_OTLP_ENDPOINT": otlp_sink.url, "ECS_OTEL_OTLP_COMPRESSION": "none",
                             "ECS_OTEL_BATCH_TIMEOUT": "0.1"})  # no processor settings: the defaults
    req = ExportTraceServiceRequest()
    span = req.resource_spans.add().scope_spans.add().spans.add(
        name="redact-me", trace_id=os.urandom(16), span_id=os.urandom(8), start_time_unix_nano=time.time_ns())
    for key, value in (("http.request.header.authorization", SECRET), ("user.password", SECRET),
                       ("url.full", f"https://u:{SECRET[7:]}@api.example.com/x?X-Amz-Signature={SECRET[7:]}&a=1"),
                       ("gen_ai.usage.input_tokens", "42")):
        kv = span.attributes.add(key=key)
        kv.value.string_value = value
    assert post(sidecar.http_url + "/v1/traces", req.SerializeToString(), PROTOBUF, AUTH)[0] == 200
    got = otlp_sink.wait_for("traces", lambda r: any(s["name"] == "redact-me" for s in spans(r)))
    (span_json,) = [s for s in spans(got) if s["name"] == "redact-me"]
    attrs = {a["key"]: a["value"].get("stringValue") for a in span_json["attributes"]}
    assert SECRET[7:] not in repr(got)
    assert attrs["http.request.header.authorization"] != SECRET and attrs["user.password"] != SECRET
    assert "api.example.com/x?" in attrs["url.full"] and "a=1" in attrs["url.full"]  # the shape stays
    assert attrs["gen_ai.usage.input_tokens"] == "42"  # not a secret: "tokens" is not a deny-list key
