"""Spans → X-Ray segment documents, one document per span.

SERVER spans and roots become segments named after the service; the others become subsegments
(``"type": "subsegment"`` with ``parent_id``), CLIENT and PRODUCER ones with ``namespace``
``remote`` (``aws`` for AWS SDK calls) and named after what they called, which is what X-Ray's
service map draws as nodes.

A CONSUMER span is a segment unless the span says its parent is in the same process (OTLP's
``SPAN_FLAGS_CONTEXT_IS_REMOTE`` bits): a consumer's parent is normally the producer in another
service, carried in the message, and only a segment makes the consuming service a node of the
service map. The Collector makes every CONSUMER span with a parent a subsegment, which attaches
the consumer's work to the producer's node; a consumer whose parent is known to be local (a
``process`` span under this service's own ``receive`` span) is a subsegment here too.

Where the Collector puts things, so queries and dashboards carry over: ``enduser.id`` is the
segment's ``user``; the resource's ``aws.log.group.names``/``aws.log.group.arns`` become
``aws.cloudwatch_logs`` (how X-Ray links a trace to its logs); resource attributes are metadata
``otel.resource.<key>`` in the ``default`` namespace of segments; exception chains are linked
exceptions (see :mod:`.cause`).

Translation is per span: a span that cannot become a valid document (ids of the wrong length,
or any unexpected error while building it) is dropped and counted in :class:`TranslationStats`,
and the rest of its batch is sent; one malformed span never makes the whole batch fail and be
retried until it expires.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from sidecar.exporters.xray._internal import aws_block, http_block, ids, limits, sql_block, trim
from sidecar.exporters.xray._internal.cause import cause_block
from sidecar.exporters.xray._internal.naming import annotation_key, sanitize_name
from sidecar.otlp.attributes import first, to_dict

log = logging.getLogger("ecs_otel.sidecar.xray")

SEGMENT_KINDS = frozenset({Span.SPAN_KIND_SERVER})
_HAS_IS_REMOTE = 0x100  # SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_IS_REMOTE = 0x200  # SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
REMOTE_KINDS = frozenset({Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_PRODUCER})
#: X-Ray indexes at most 50 annotations per trace; one document never carries more.
MAX_ANNOTATIONS = 50
#: Resource attributes in segment metadata, under the Collector's key prefix.
RESOURCE_PREFIX = "otel.resource."
_KIND_NAMES = {v: k.removeprefix("SPAN_KIND_").lower() for k, v in Span.SpanKind.items()}
_CONSUMED = http_block.CONSUMED | sql_block.CONSUMED | {"peer.service", "enduser.id"}


@dataclass
class TranslationStats:
    """What translation had to give up; the exporter turns these into self-metrics."""

    invalid_trace_ids_remapped: int = 0
    invalid_trace_ids_dropped: int = 0
    documents_trimmed: int = 0
    documents_too_large: int = 0
    #: Spans dropped because their trace id is not 16 bytes or their span id not 8.
    invalid_span_ids_dropped: int = 0
    #: Spans whose parent span id is neither empty nor 8 bytes: sent as segments, without a parent.
    invalid_parent_ids_ignored: int = 0
    #: Links left out because their trace id is not 16 bytes or their span id not 8.
    invalid_links_skipped: int = 0
    #: Spans dropped because building their document raised (a bug or an input nobody foresaw).
    translation_errors: int = 0
    #: String fields cut to the schema's length limit (a URL over 250 characters, an annotation over 1,000 …).
    fields_truncated: int = 0


@dataclass
class SegmentTranslator:
    indexed_attributes: frozenset[str] = frozenset()
    index_all_attributes: bool = False
    invalid_trace_ids: Literal["remap", "drop"] = "remap"
    max_document_bytes: int = trim.MAX_DOCUMENT_BYTES
    remapper: ids.TraceIdRemapper = field(default_factory=ids.TraceIdRemapper)
    stats: TranslationStats = field(default_factory=TranslationStats)

    def translate(self, request: ExportTraceServiceRequest, now_s: float) -> list[bytes]:
        """Encoded documents for every span that could be translated (the rest are counted)."""
        docs: list[bytes] = []
        for rs in request.resource_spans:
            resource = to_dict(rs.resource.attributes)
            base = segment_fields(resource)
            for ss in rs.scope_spans:
                for span in ss.spans:
                    try:
                        data = self._encoded(span, resource, ss.scope.name, now_s, base)
                    except Exception:
                        # Drop this span, keep its batch; the exporter reports the count as a self-metric.
                        log.debug("span %s not translated to an X-Ray document", span.span_id.hex(), exc_info=True)
                        self.stats.translation_errors += 1
                        continue
                    if data is not None:
                        docs.append(data)
        return docs

    def _encoded(
        self, span: Span, resource: dict[str, Any], scope: str, now_s: float, base: dict[str, Any]
    ) -> bytes | None:
        doc = self.document(span, resource, scope, now_s, base)
        if doc is None:
            return None
        data, trimmed = trim.fit(doc, self.max_document_bytes)
        if trimmed:
            self.stats.documents_trimmed += 1
        if data is None:
            self.stats.documents_too_large += 1
        return data

    def trace_id(self, raw: bytes, start_s: float, now_s: float) -> str | None:
        if ids.plausible_epoch(raw, now_s):
            return ids.format_trace_id(raw)
        if self.invalid_trace_ids == "drop":
            self.stats.invalid_trace_ids_dropped += 1
            return None
        self.stats.invalid_trace_ids_remapped += 1
        return self.remapper.remap(raw, start_s)

    def document(
        self,
        span: Span,
        resource: dict[str, Any],
        scope: str,
        now_s: float,
        base: dict[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        start_ns, end_ns, kind, parent = (
            span.start_time_unix_nano,
            span.end_time_unix_nano,
            span.kind,
            span.parent_span_id,
        )
        if len(span.trace_id) != ids.TRACE_ID_BYTES or len(span.span_id) != ids.SPAN_ID_BYTES:
            self.stats.invalid_span_ids_dropped += 1
            return None
        if parent and len(parent) != ids.SPAN_ID_BYTES:
            # A subsegment cannot exist without a valid parent_id, and guessing one would attach the span
            # to the wrong node. The span is sent as a segment instead (X-Ray draws it as a root of its
            # trace): its timing, HTTP and error data survive, which dropping it would lose.
            self.stats.invalid_parent_ids_ignored += 1
            parent = b""
        start_s = start_ns / 1e9
        trace_id = self.trace_id(span.trace_id, start_s, now_s)
        if trace_id is None:
            return None
        if base is None:
            base = segment_fields(resource)
        attrs = to_dict(span.attributes)
        is_segment = kind in SEGMENT_KINDS or not parent or (kind == Span.SPAN_KIND_CONSUMER and not _local_parent(span))
        remote = kind in REMOTE_KINDS
        if is_segment:
            name = base["name"]
        elif remote:
            name = remote_name(attrs) or span.name
        else:
            name = span.name
        doc: dict[str, Any] = {
            "name": sanitize_name(name),
            "id": span.span_id.hex(),
            "trace_id": trace_id,
            "start_time": start_s,
            "end_time": max(end_ns, start_ns) / 1e9,
        }
        if parent:
            doc["parent_id"] = parent.hex()
        user = attrs.get("enduser.id")
        if user is not None and user != "":
            doc["user"] = aws_block.as_text(user)
        if is_segment:
            if base["origin"]:
                doc["origin"] = base["origin"]
            aws = dict(base["aws"])
            if base["service"]:
                doc["service"] = dict(base["service"])
        else:
            doc["type"] = "subsegment"
            aws = {}
            if remote:
                doc["namespace"] = "aws" if aws_block.is_aws_sdk(attrs) else "remote"
        if aws_block.is_aws_sdk(attrs):
            aws.update(aws_block.sdk_call_block(attrs))
        if aws:
            doc["aws"] = aws
        http = http_block.http_block(attrs, server=kind == Span.SPAN_KIND_SERVER)
        if http:
            doc["http"] = http
        sql = sql_block.sql_block(attrs) if remote else None
        if sql:
            doc["sql"] = sql
        self._flags(doc, span, attrs)
        cause = cause_block(span, remote=remote, language=str(resource.get("telemetry.sdk.language") or ""))
        if cause:
            doc["cause"] = cause
        self._annotations_and_metadata(
            doc, attrs, resource, span, scope, sdk_call=aws_block.is_aws_sdk(attrs), segment=is_segment
        )
        links = self._links(span, now_s)
        if links:
            doc["links"] = links
        self.stats.fields_truncated += limits.enforce(doc)
        return doc

    @staticmethod
    def _flags(doc: dict[str, Any], span: Span, attrs: dict[str, Any]) -> None:
        code = http_block.status_code(attrs)
        if code is not None and 400 <= code < 500:
            doc["error"] = True
            if code == 429:
                doc["throttle"] = True
        elif (code is not None and code >= 500) or span.status.code == Status.STATUS_CODE_ERROR:
            doc["fault"] = True

    def _annotations_and_metadata(
        self,
        doc: dict[str, Any],
        attrs: dict[str, Any],
        resource: dict[str, Any],
        span: Span,
        scope: str,
        sdk_call: bool,
        segment: bool = True,
    ) -> None:
        annotations: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        if segment:  # the resource once per service node, as the Collector stores it
            metadata.update((RESOURCE_PREFIX + k, v) for k, v in resource.items() if v is not None)
        for key, value in attrs.items():
            if key in _CONSUMED or (sdk_call and key in aws_block.SDK_CONSUMED):
                continue
            indexable = _annotatable(value)
            wanted = self.index_all_attributes or key in self.indexed_attributes
            if indexable and wanted and len(annotations) < MAX_ANNOTATIONS:
                annotations[annotation_key(key)] = value
            else:
                metadata[key] = value
        for key in self.indexed_attributes:
            value = resource.get(key.removeprefix(RESOURCE_PREFIX))
            if _annotatable(value) and len(annotations) < MAX_ANNOTATIONS:
                annotations.setdefault(annotation_key(key), value)
        if annotations:
            doc["annotations"] = annotations
        otel: dict[str, Any] = {
            "span.name": span.name,
            "span.kind": _KIND_NAMES.get(span.kind, "unspecified"),
        }
        if scope:
            otel["scope"] = scope
        if span.status.message:
            otel["status.message"] = span.status.message
        doc["metadata"] = {"otel": otel} | ({"default": metadata} if metadata else {})

    def _links(self, span: Span, now_s: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for link in span.links:
            if len(link.trace_id) != ids.TRACE_ID_BYTES or len(link.span_id) != ids.SPAN_ID_BYTES:
                self.stats.invalid_links_skipped += 1
                continue
            trace_id = self.trace_id(link.trace_id, span.start_time_unix_nano / 1e9, now_s)
            if trace_id is None:
                continue
            entry: dict[str, Any] = {"trace_id": trace_id, "id": link.span_id.hex()}
            attributes = to_dict(link.attributes)
            if attributes:
                entry["attributes"] = attributes
            out.append(entry)
        return out


def _local_parent(span: Span) -> bool:
    """Whether the span says its parent context came from this process (not from a message or a request)."""
    return bool(span.flags & _HAS_IS_REMOTE) and not span.flags & _IS_REMOTE


def _annotatable(value: Any) -> bool:
    """Annotations hold strings, numbers and booleans; NaN and infinities are no JSON number (metadata keeps them)."""
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


def segment_fields(resource: dict[str, Any]) -> dict[str, Any]:
    """What every segment of one resource shares, computed once per resource."""
    version = resource.get("service.version")
    return {
        "name": sanitize_name(str(resource.get("service.name") or "unknown_service")),
        "origin": aws_block.origin(resource),
        "aws": aws_block.segment_aws_block(resource),
        "service": {"version": str(version)} if version else None,
    }


def remote_name(attrs: dict[str, Any]) -> str | None:
    """The callee's name, from the most specific convention present."""
    peer = first(attrs, "peer.service")
    if peer:
        return str(peer)
    if aws_block.is_aws_sdk(attrs):
        return str(first(attrs, "rpc.service") or "AWS")
    system = sql_block.db_system(attrs)
    if system:
        db = first(attrs, "db.namespace", "db.name")
        host = first(attrs, "server.address", "net.peer.name")
        if db and host:
            return f"{db}@{host}"
        return str(db or system)
    dest = first(attrs, "messaging.destination.name", "messaging.destination")
    if dest:
        return str(dest)
    rpc = first(attrs, "rpc.service")
    if rpc:
        return str(rpc)
    host = first(attrs, "server.address", "net.peer.name", "http.host")
    if host:
        return str(host)
    url = first(attrs, "url.full", "http.url")
    if url:
        return urlsplit(str(url)).hostname
    return None
