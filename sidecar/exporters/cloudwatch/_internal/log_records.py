"""OTLP log records → CloudWatch Logs messages for the ``api`` mode.

``json`` keeps everything a reader needs to correlate (severity, trace and span ids,
attributes, the service) in one JSON object per record; ``body`` sends the body alone, which
suits services that already log JSON.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Literal

import orjson
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from sidecar.exporters.cloudwatch._internal.batching import LogEvent
from sidecar.otlp.attributes import plain, to_dict

#: Resource attributes worth repeating on every record; the rest are in the resource itself.
RESOURCE_KEYS = (
    "service.name",
    "service.version",
    "service.instance.id",
    "aws.ecs.task.id",
    "container.name",
)


def log_events(request: ExportLogsServiceRequest, fmt: Literal["json", "body"]) -> Iterator[LogEvent]:
    now_ms = int(time.time() * 1000)
    for rl in request.resource_logs:
        resource = to_dict(rl.resource.attributes)
        res_fields = {k: resource[k] for k in RESOURCE_KEYS if k in resource}
        for sl in rl.scope_logs:
            for r in sl.log_records:
                ts = (r.time_unix_nano or r.observed_time_unix_nano) // 1_000_000 or now_ms
                body = plain(r.body)
                if fmt == "body":
                    text = body if isinstance(body, str) else orjson.dumps(body, default=str).decode()
                    yield LogEvent(ts, text)
                    continue
                record: dict[str, Any] = {"body": body}
                if r.severity_text:
                    record["severity_text"] = r.severity_text
                if r.severity_number:
                    record["severity_number"] = int(r.severity_number)
                if r.trace_id:
                    record["trace_id"] = r.trace_id.hex()
                    record["span_id"] = r.span_id.hex()
                attrs = to_dict(r.attributes)
                if attrs:
                    record["attributes"] = attrs
                if res_fields:
                    record["resource"] = res_fields
                if sl.scope.name:
                    record["scope"] = sl.scope.name
                yield LogEvent(ts, orjson.dumps(record, default=str).decode())
