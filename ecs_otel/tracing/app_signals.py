"""Tracing side of Application Signals: record every span, propagate the local operation, name AWS resources.

Three small pieces, installed by :mod:`ecs_otel._setup` when
``OTEL_AWS_APPLICATION_SIGNALS_ENABLED=true``:

* :class:`RecordOnlySampler` wraps the configured sampler and turns its "drop" into "record only",
  so every span reaches the span processors (and so the RED metrics) while the exporters still see
  only the sampled ones: sampling decides what is *exported as spans*, never what is *counted*.
* :class:`AttributePropagator` stamps each new span with the ``aws.local.operation`` of the service
  entry it runs under (a client call made while serving ``GET /orders`` is a dependency *of*
  ``GET /orders``), and marks a consumer span whose parent is a consumer too.
* :func:`botocore_hooks` names the resource of an AWS SDK call (bucket, queue, stream, function),
  which the upstream botocore instrumentation leaves out; Application Signals shows it as
  ``RemoteResourceType``/``RemoteResourceIdentifier``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes

from ecs_otel.tracing.app_signals_attributes import (
    AWS_CONSUMER_PARENT_SPAN_KIND,
    AWS_LOCAL_OPERATION,
    AWS_REMOTE_OPERATION,
    AWS_REMOTE_SERVICE,
    AWS_SDK_DESCENDANT,
    ingress_operation,
    is_aws_sdk_span,
    is_local_root,
)


class RecordOnlySampler(Sampler):
    """The wrapped sampler's decision, with ``DROP`` replaced by ``RECORD_ONLY``.

    A dropped span's attributes are what the metrics need (``http.request.method``, the status
    code…), and some samplers return none on ``DROP``: the span keeps the attributes it started
    with, plus any the sampler added.
    """

    def __init__(self, root: Sampler) -> None:
        self._root = root

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        result = self._root.should_sample(parent_context, trace_id, name, kind, attributes, links, trace_state)
        if result.decision is not Decision.DROP:
            return result
        if not result.attributes and (attributes is None or type(attributes) is dict):
            # Nothing to merge (the usual DROP): the span copies the attributes it is given, so this call's
            # own dict serves as is, without a copy per span.
            return SamplingResult(Decision.RECORD_ONLY, attributes, result.trace_state)
        merged = {**(attributes or {}), **(result.attributes or {})}
        return SamplingResult(Decision.RECORD_ONLY, merged, result.trace_state)

    def get_description(self) -> str:
        return f"RecordOnly{{{self._root.get_description()}}}"

    # The configured sampler may have background work (X-Ray rule polling): pass its controls through.
    def start(self) -> None:
        getattr(self._root, "start", lambda: None)()

    def stop(self) -> None:
        getattr(self._root, "stop", lambda: None)()

    def restart_after_fork(self) -> None:
        getattr(self._root, "restart_after_fork", lambda: None)()


class AttributePropagator(SpanProcessor):
    """At span start: the local operation of the enclosing service entry, and consumer-under-consumer marks."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        try:
            self._on_start(span, parent_context)
        except Exception:  # never into user code
            pass

    @staticmethod
    def _on_start(span: Span, parent_context: Context | None) -> None:
        if is_local_root(span):
            # No local parent (a remote or no parent is never an SDK span of this process): only a local
            # root that serves no request names its operation here; a SERVER span's is its own.
            if span.kind != SpanKind.SERVER:
                span.set_attribute(AWS_LOCAL_OPERATION, ingress_operation(span))
            return
        parent = get_current_span(parent_context)
        local_parent = parent if isinstance(parent, ReadableSpan) else None
        if local_parent is not None:
            parent_attrs = local_parent.attributes or {}
            if is_aws_sdk_span(parent_attrs):
                # The HTTP span under an SDK call is the same call: the backend tells them apart by this.
                span.set_attribute(AWS_SDK_DESCENDANT, "true")
            if local_parent.kind == SpanKind.INTERNAL:
                for key in (AWS_REMOTE_SERVICE, AWS_REMOTE_OPERATION):
                    value = parent_attrs.get(key)
                    if value is not None:
                        span.set_attribute(key, value)
            if span.kind == SpanKind.CONSUMER and local_parent.kind == SpanKind.CONSUMER:
                span.set_attribute(AWS_CONSUMER_PARENT_SPAN_KIND, local_parent.kind.name)
        operation: Any = None
        if local_parent is not None and local_parent.kind == SpanKind.SERVER:
            operation = ingress_operation(local_parent)
        elif local_parent is not None:
            operation = (local_parent.attributes or {}).get(AWS_LOCAL_OPERATION)
        if operation is not None:
            span.set_attribute(AWS_LOCAL_OPERATION, operation)

    def on_end(self, span: ReadableSpan) -> None:
        return None

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


# -- AWS SDK resources ---------------------------------------------------------------------------------
#: botocore service name → (request parameter, span attribute) pairs naming the resource called.
_REQUEST_RESOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "s3": (("Bucket", "aws.s3.bucket"),),
    "sqs": (("QueueName", "aws.sqs.queue.name"), ("QueueUrl", "aws.sqs.queue.url")),
    "kinesis": (("StreamName", "aws.kinesis.stream_name"), ("StreamARN", "aws.kinesis.stream.arn")),
    "lambda": (("FunctionName", "aws.lambda.function.name"), ("UUID", "aws.lambda.resource_mapping.id")),
}


def _request_hook(span: Any, service_name: str, operation_name: str, api_params: Any) -> None:
    try:
        if span is None or not span.is_recording() or not isinstance(api_params, dict):
            return
        for param, attribute in _REQUEST_RESOURCES.get(str(service_name).lower(), ()):
            value = api_params.get(param)
            if not value or not isinstance(value, str):
                continue
            if attribute == "aws.lambda.function.name" and value.startswith("arn:"):
                value = value.split(":")[-1]  # FunctionName may be an ARN; the name is its last part
            span.set_attribute(attribute, value)
    except Exception:
        pass


def _response_hook(span: Any, service_name: str, operation_name: str, result: Any) -> None:
    try:
        if span is None or not span.is_recording() or not isinstance(result, dict):
            return
        service = str(service_name).lower()
        if service == "sqs" and isinstance(result.get("QueueUrl"), str):
            span.set_attribute("aws.sqs.queue.url", result["QueueUrl"])
        elif service == "lambda":
            arn = (result.get("Configuration") or {}).get("FunctionArn")
            if isinstance(arn, str):
                span.set_attribute("aws.lambda.function.arn", arn)
    except Exception:
        pass


def botocore_hooks() -> dict[str, Callable[..., None]]:
    """Keyword arguments for ``BotocoreInstrumentor().instrument()``."""
    return {"request_hook": _request_hook, "response_hook": _response_hook}
