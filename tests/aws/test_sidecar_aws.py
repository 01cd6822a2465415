"""Through the real sidecar process: SDK exporters → sidecar → moto (X-Ray segments, EMF, log events),
and an X-Ray SDK service using the sidecar as its daemon."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from tests.aws.aws_documents import validate_segment
from tests.aws.emf_schema import validate
from tests.aws.metrics import app
from tests.aws.moto_process import MotoProcess
from tests.aws.spans import by_name, checkout_spans
from tests.support.aws import read_all, sdk_segments, xray_client
from tests.support.polling import wait_for
from tests.support.sidecar import SidecarProcess, sidecar_factory  # noqa: F401 - fixture


def test_sdk_data_through_sidecar_reaches_moto(
    moto: MotoProcess,
    aws_env: dict[str, str],
    sidecar_factory: Callable[..., SidecarProcess],  # noqa: F811
) -> None:
    unique = uuid.uuid4().hex[:8]
    env = {
        **moto.env(),
        "ECS_OTEL_TRACES_EXPORTERS": "xray",
        "ECS_OTEL_METRICS_EXPORTERS": "cloudwatch",
        "ECS_OTEL_LOGS_EXPORTERS": "cloudwatch",
        "ECS_OTEL_XRAY_MODE": "segments",
        "ECS_OTEL_XRAY_PROXY_PORT": "0",
        "ECS_OTEL_CLOUDWATCH_LOGS_MODE": "api",
        "ECS_OTEL_CLOUDWATCH_METRICS_LOG_GROUP": f"/e2e/{unique}/metrics",
        "ECS_OTEL_CLOUDWATCH_LOG_GROUP": f"/e2e/{unique}/logs",
        "ECS_OTEL_CLOUDWATCH_METRICS_LOG_STREAM": "m",
        "ECS_OTEL_CLOUDWATCH_LOG_STREAM": "l",
    }
    sidecar = sidecar_factory(env)
    spans = checkout_spans()
    span_exporter = OTLPSpanExporter(endpoint=sidecar.http_url + "/v1/traces")
    assert span_exporter.export(spans).name == "SUCCESS"
    with app() as a:
        a.requests.add(4, {"http.route": "/e2e"})
        data = a.reader.get_metrics_data()
        assert OTLPMetricExporter(endpoint=sidecar.http_url + "/v1/metrics").export(data).name == "SUCCESS"
    logs = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    provider.get_logger("e2e").emit(body="hello from the app", severity_text="INFO")
    assert (
        OTLPLogExporter(endpoint=sidecar.http_url + "/v1/logs").export(logs.get_finished_logs()).name
        == "SUCCESS"
    )

    trace_id = format(spans[0].context.trace_id, "032x")
    xray_id = f"1-{trace_id[:8]}-{trace_id[8:]}"
    aws = moto.env()

    def fetched() -> list[dict[str, Any]]:
        traces = xray_client(aws).batch_get_traces(TraceIds=[xray_id])["Traces"]
        docs = [validate_segment(s["Document"]) for t in traces for s in t["Segments"]]
        return docs if len(docs) == 5 else []

    docs = by_name(wait_for(fetched))
    assert docs["checkout"]["fault"] is True and docs["checkout"]["http"]["response"]["status"] == 500
    assert docs["DynamoDB"]["namespace"] == "aws" and docs["load-user"]["parent_id"] == docs["checkout"]["id"]

    emf = wait_for(lambda: read_all(aws, f"/e2e/{unique}/metrics", "m"))
    event = validate(emf[0]["message"])
    assert event["http.server.requests"] == 4 and event["http.route"] == "/e2e"
    records = wait_for(lambda: read_all(aws, f"/e2e/{unique}/logs", "l"))
    assert json.loads(records[0]["message"])["body"] == "hello from the app"

    # An X-Ray SDK service in the same task uses the sidecar as its daemon.
    port = sidecar.status()["components"]["xray_proxy"]["port"]
    legacy = sdk_segments(port)
    doc = wait_for(lambda: xray_client(aws).batch_get_traces(TraceIds=[legacy])["Traces"])
    assert json.loads(doc[0]["Segments"][0]["Document"])["name"] == "legacy"
    m = sidecar.metrics()
    assert m.get_value("ecs_otel_sidecar_xray_documents_total", outcome="sent") == 5
    assert m.total("ecs_otel_sidecar_exporter_exported_items_total", exporter="xray") == 5
