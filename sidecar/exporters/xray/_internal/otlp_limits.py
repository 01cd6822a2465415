"""Fitting an OTLP trace request to X-Ray's OTLP endpoint limits, so one outlier never costs the whole call.

X-Ray's OTLP endpoint refuses a whole request when any of these is exceeded: the resource and scope of one
``ResourceSpans``/``ScopeSpans`` pair over 16 KB, one span over 200 KB, more than 10,000 spans, more than 5 MB
uncompressed. The 16 KB limit is read as the resource and scope *themselves* (their attributes, names and
versions), not the spans under them: splitting spans could never bring a group of 10,000 spans under 16 KB,
while the other limits exist precisely to bound spans.

What is over a limit is trimmed the OTLP way: the largest attributes (then events, then links) are removed and
the message's ``dropped_*_count`` says how many, names and messages longer than 1 KiB are cut; only what still
does not fit is dropped, and everything is counted. Then the spans are packed, in order, into as few requests as
the span and byte limits allow. A request already within every limit is returned as it is (no copy).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import Span

MAX_REQUEST_BYTES = 5 * 1024 * 1024
MAX_SPANS = 10_000
MAX_SPAN_BYTES = 200 * 1024
MAX_RESOURCE_SCOPE_BYTES = 16 * 1024
#: Names, versions and status messages longer than this are cut when their message is over a limit.
_CUT_TEXT = 1024
#: Framing bytes per span (tag + length varint) and per resource/scope group, counted generously.
_SPAN_FRAMING = 8
_GROUP_FRAMING = 64
#: Attributes a trimmed resource keeps the longest: the service's identity.
_KEEP = ("service.name",)


@dataclass
class Split:
    requests: list[ExportTraceServiceRequest]
    #: Spans or resources trimmed / spans dropped, by reason (span_trimmed, resource_trimmed, span_dropped,
    #: resource_dropped: the spans under a resource or scope that could not be brought within 16 KB).
    counts: Counter[str] = field(default_factory=Counter)
    dropped_spans: int = 0


def split(request: ExportTraceServiceRequest) -> Split:
    """Requests X-Ray's OTLP endpoint accepts, holding every span that could be made to fit."""
    if _within_limits(request):
        return Split([request])
    result = Split([])
    packer = _Packer(result.requests)
    for rs in request.resource_spans:
        resource = Resource()
        resource.CopyFrom(rs.resource)
        for ss in rs.scope_spans:
            scope = InstrumentationScope()
            scope.CopyFrom(ss.scope)
            if resource.ByteSize() + scope.ByteSize() > MAX_RESOURCE_SCOPE_BYTES:
                result.counts["resource_trimmed"] += 1
                _trim_resource_scope(resource, scope)
                if resource.ByteSize() + scope.ByteSize() > MAX_RESOURCE_SCOPE_BYTES:
                    result.counts["resource_dropped"] += len(ss.spans)
                    result.dropped_spans += len(ss.spans)
                    continue
            packer.group(resource, scope, rs.schema_url, ss.schema_url)
            for span in ss.spans:
                if span.ByteSize() > MAX_SPAN_BYTES:
                    trimmed = Span()
                    trimmed.CopyFrom(span)
                    result.counts["span_trimmed"] += 1
                    if not _trim_span(trimmed):
                        result.counts["span_dropped"] += 1
                        result.dropped_spans += 1
                        continue
                    span = trimmed
                packer.add(span)
    packer.flush()
    return result


def _within_limits(request: ExportTraceServiceRequest) -> bool:
    total = request.ByteSize()
    if total > MAX_REQUEST_BYTES:
        return False
    spans = 0
    for rs in request.resource_spans:
        resource_bytes = rs.resource.ByteSize()
        for ss in rs.scope_spans:
            spans += len(ss.spans)
            if resource_bytes + ss.scope.ByteSize() > MAX_RESOURCE_SCOPE_BYTES:
                return False
            if total > MAX_SPAN_BYTES and any(s.ByteSize() > MAX_SPAN_BYTES for s in ss.spans):
                return False
    return spans <= MAX_SPANS


class _Packer:
    """Appends spans to the current request, starting a new one before a limit would be crossed."""

    def __init__(self, out: list[ExportTraceServiceRequest]) -> None:
        self.out = out
        self.request: ExportTraceServiceRequest | None = None
        self.spans = 0
        self.bytes = 0
        self._header: tuple[Resource, InstrumentationScope, str, str] | None = None
        self._group_bytes = 0
        self._target: Any = None

    def group(self, resource: Resource, scope: InstrumentationScope, rs_url: str, ss_url: str) -> None:
        self._header = (resource, scope, rs_url, ss_url)
        self._group_bytes = resource.ByteSize() + scope.ByteSize() + len(rs_url) + len(ss_url) + _GROUP_FRAMING
        self._target = None

    def add(self, span: Span) -> None:
        size = span.ByteSize() + _SPAN_FRAMING
        extra = size + (self._group_bytes if self._target is None else 0)
        if self.request is not None and (self.spans + 1 > MAX_SPANS or self.bytes + extra > MAX_REQUEST_BYTES):
            self.flush()
        if self.request is None:
            self.request = ExportTraceServiceRequest()
        if self._target is None:
            assert self._header is not None
            resource, scope, rs_url, ss_url = self._header
            rs = self.request.resource_spans.add(schema_url=rs_url)
            rs.resource.CopyFrom(resource)
            ss = rs.scope_spans.add(schema_url=ss_url)
            ss.scope.CopyFrom(scope)
            self._target = ss.spans
            self.bytes += self._group_bytes
        self._target.append(span)
        self.spans += 1
        self.bytes += size

    def flush(self) -> None:
        if self.request is not None and self.spans:
            self.out.append(self.request)
        self.request, self.spans, self.bytes, self._target = None, 0, 0, None


def _shed(fields: list[Any], excess: int, keep: tuple[str, ...] = ()) -> list[int]:
    """Remove the largest entries across repeated fields until about ``excess`` bytes are gone.

    ``fields`` are repeated message fields. One sort and one deletion pass, so a span with a hundred thousand small attributes costs no more than one with a
    single huge one. Returns how many entries each field lost.
    """
    entries = sorted(
        (
            (m.ByteSize() + 4, f, i)
            for f, items in enumerate(fields)
            for i, m in enumerate(items)
            if getattr(m, "key", None) not in keep
        ),
        reverse=True,
    )
    doomed: list[list[int]] = [[] for _ in fields]
    for size, f, i in entries:
        if excess <= 0:
            break
        doomed[f].append(i)
        excess -= size
    for items, indices in zip(fields, doomed, strict=True):
        for i in sorted(indices, reverse=True):
            del items[i]
    return [len(d) for d in doomed]


def _cut_long_strings(values: Any) -> None:
    """Cut the string values of an attribute list to ``_CUT_TEXT`` characters."""
    for kv in values:
        if kv.value.WhichOneof("value") == "string_value" and len(kv.value.string_value) > _CUT_TEXT:
            kv.value.string_value = kv.value.string_value[:_CUT_TEXT]


def _trim_resource_scope(resource: Resource, scope: InstrumentationScope) -> None:
    excess = resource.ByteSize() + scope.ByteSize() - MAX_RESOURCE_SCOPE_BYTES
    lost = _shed([resource.attributes, scope.attributes], excess, _KEEP)
    resource.dropped_attributes_count += lost[0]
    scope.dropped_attributes_count += lost[1]
    if resource.ByteSize() + scope.ByteSize() > MAX_RESOURCE_SCOPE_BYTES:
        _cut_long_strings(resource.attributes)
        scope.name, scope.version = scope.name[:_CUT_TEXT], scope.version[:_CUT_TEXT]


def _trim_span(span: Span) -> bool:
    """Bring ``span`` within ``MAX_SPAN_BYTES``; ``False`` when even its skeleton does not fit."""
    for _ in range(3):  # framing makes the estimate inexact; a second pass settles it
        excess = span.ByteSize() - MAX_SPAN_BYTES
        if excess <= 0:
            return True
        lost = _shed([span.attributes, span.events, span.links], excess)
        span.dropped_attributes_count += lost[0]
        span.dropped_events_count += lost[1]
        span.dropped_links_count += lost[2]
        if not any(lost):
            break
    if span.ByteSize() > MAX_SPAN_BYTES:
        span.name = span.name[:_CUT_TEXT]
        span.status.message = span.status.message[:_CUT_TEXT]
        span.trace_state = span.trace_state[:_CUT_TEXT]
    return span.ByteSize() <= MAX_SPAN_BYTES
