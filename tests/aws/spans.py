"""Real OpenTelemetry SDK spans, encoded as the OTLP request the sidecar would receive."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.extension.aws.trace import AwsXRayIdGenerator
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

ECS_RESOURCE = {
    "service.name": "checkout",
    "service.version": "1.4.2",
    "cloud.provider": "aws",
    "cloud.platform": "aws_ecs",
    "cloud.account.id": "123456789012",
    "cloud.availability_zone": "us-east-1a",
    "aws.ecs.launchtype": "fargate",
    "aws.ecs.task.arn": "arn:aws:ecs:us-east-1:123456789012:task/demo/0123456789abcdef",
    "aws.ecs.task.family": "checkout",
    "aws.ecs.cluster.arn": "arn:aws:ecs:us-east-1:123456789012:cluster/demo",
    "container.name": "app",
    "telemetry.sdk.language": "python",
    "telemetry.sdk.version": "1.45.0",
}


def _provider(xray_ids: bool) -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        resource=Resource.create(ECS_RESOURCE),
        id_generator=AwsXRayIdGenerator() if xray_ids else RandomIdGenerator(),
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def checkout_trace(xray_ids: bool = True) -> ExportTraceServiceRequest:
    """A request served with a failure: SERVER (500) → INTERNAL → DB, DynamoDB, HTTP (429) calls."""
    return encode_spans(checkout_spans(xray_ids))


def checkout_spans(xray_ids: bool = True) -> Sequence[ReadableSpan]:
    """The SDK's finished spans for :func:`checkout_trace`."""
    provider, exporter = _provider(xray_ids)
    tracer = provider.get_tracer("tests.aws")
    with tracer.start_as_current_span(
        "GET /users/{id}",
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": "GET",
            "url.scheme": "http",
            "server.address": "api.local",
            "server.port": 8080,
            "url.path": "/users/7",
            "http.route": "/users/{id}",
            "http.response.status_code": 500,
            "user_agent.original": "curl/8.0",
            "client.address": "10.0.0.9",
            "customer.tier": "gold",
            "payload.blob": "x" * 100,
        },
    ) as server:
        with tracer.start_as_current_span("load-user"):
            with tracer.start_as_current_span(
                "SELECT users",
                kind=SpanKind.CLIENT,
                attributes={
                    "db.system.name": "postgresql",
                    "db.namespace": "users",
                    "server.address": "db.local",
                    "server.port": 5432,
                    "db.query.text": "SELECT * FROM users WHERE id = $1",
                },
            ):
                pass
            with tracer.start_as_current_span(
                "DynamoDB.GetItem",
                kind=SpanKind.CLIENT,
                attributes={
                    "rpc.system": "aws-api",
                    "rpc.service": "DynamoDB",
                    "rpc.method": "GetItem",
                    "aws.region": "us-east-1",
                    "aws.request_id": "REQ123",
                    "aws.dynamodb.table_names": ["users"],
                },
            ):
                pass
        with tracer.start_as_current_span(
            "POST",
            kind=SpanKind.CLIENT,
            attributes={
                "http.method": "POST",
                "http.url": "https://payments.example.com/charge?x=1",
                "http.status_code": 429,
            },
        ):
            pass
        try:
            raise ValueError("boom")
        except ValueError as exc:
            server.record_exception(exc)
            server.set_status(Status(StatusCode.ERROR, "boom"))
    spans = exporter.get_finished_spans()
    provider.shutdown()
    return spans


def by_name(documents: list[dict]) -> dict[str, dict]:  # type: ignore[type-arg]
    return {d["name"]: d for d in documents}
