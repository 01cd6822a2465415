"""``ExportTraceServiceRequest`` bytes from SDK spans, equal to what the stock encoder produces.

Resource and scope headers are encoded once per resource/scope object and kept in small bounded
caches (a process has a handful), so the per-span cost is the span itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ecs_otel.memo import Memo
from ecs_otel.otlp.wire import attributes, field, pack_fixed32, pack_fixed64, varint

_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
_FLAGS_TAG = b"\x85\x01"  # field 16, fixed32
_CACHE_MAX = 64
_resource_cache: Memo[int, tuple[Any, bytes]] = Memo("library.encoded_resources", _CACHE_MAX)
_scope_cache: Memo[int, tuple[Any, bytes]] = Memo("library.encoded_scopes", _CACHE_MAX)


def _span_flags(parent: Any) -> bytes:
    flags = _HAS_IS_REMOTE | (_IS_REMOTE if parent is not None and parent.is_remote else 0)
    return _FLAGS_TAG + pack_fixed32(flags)


def _cached(cache: Memo[int, tuple[Any, bytes]], obj: Any, encode: Any) -> bytes:
    hit = cache.data.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1]
    data = encode(obj)
    cache.put(id(obj), (obj, data))  # holds obj, so its id cannot be reused while cached
    return data


def _resource(resource: Any) -> bytes:
    return field(b"\x0a", attributes(b"\x0a", resource.attributes))


def _scope(scope: Any) -> bytes:
    if scope is None:
        return field(b"\x0a", b"")
    body = b""
    if scope.name:
        body += field(b"\x0a", scope.name.encode())
    if scope.version:
        body += field(b"\x12", scope.version.encode())
    body += attributes(b"\x1a", getattr(scope, "attributes", None))
    return field(b"\x0a", body)


def encode_span(span: Any) -> bytes:
    ctx = span.context
    parts = [
        b"\x0a\x10", ctx.trace_id.to_bytes(16, "big"),
        b"\x12\x08", ctx.span_id.to_bytes(8, "big"),
    ]
    trace_state = ctx.trace_state
    if trace_state:
        parts.append(field(b"\x1a", ",".join(f"{k}={v}" for k, v in trace_state.items()).encode()))
    parent = span.parent
    if parent is not None:
        parts += (b"\x22\x08", parent.span_id.to_bytes(8, "big"))
    if span.name:
        parts.append(field(b"\x2a", span.name.encode("utf-8", "surrogatepass")))
    parts += (b"\x30", varint(span.kind.value + 1))
    if span.start_time is not None:
        parts += (b"\x39", pack_fixed64(span.start_time))
    if span.end_time is not None:
        parts += (b"\x41", pack_fixed64(span.end_time))
    raw = getattr(span, "_attributes", None)  # skip the read-only proxy the property builds
    parts.append(attributes(b"\x4a", raw if raw is not None else span.attributes))
    if span.dropped_attributes:
        parts += (b"\x50", varint(span.dropped_attributes))
    for event in span.events:
        body = b"\x09" + pack_fixed64(event.timestamp) + field(b"\x12", event.name.encode()) + attributes(
            b"\x1a", event.attributes)
        if event.dropped_attributes:
            body += b"\x20" + varint(event.dropped_attributes)
        parts.append(field(b"\x5a", body))
    if span.dropped_events:
        parts += (b"\x60", varint(span.dropped_events))
    for link in span.links:
        lctx = link.context
        body = (b"\x0a\x10" + lctx.trace_id.to_bytes(16, "big") + b"\x12\x08" + lctx.span_id.to_bytes(8, "big")
                + attributes(b"\x22", link.attributes))
        if link.dropped_attributes:
            body += b"\x28" + varint(link.dropped_attributes)
        flags = _HAS_IS_REMOTE | (_IS_REMOTE if lctx.is_remote else 0)
        parts.append(field(b"\x6a", body + b"\x35" + pack_fixed32(flags)))
    if span.dropped_links:
        parts += (b"\x70", varint(span.dropped_links))
    status = span.status
    body = b""
    if status.description:
        body += field(b"\x12", status.description.encode("utf-8", "surrogatepass"))
    if status.status_code.value:
        body += b"\x18" + varint(status.status_code.value)
    parts.append(field(b"\x7a", body))
    parts.append(_span_flags(parent))
    return b"".join(parts)


def encode_spans(spans: Sequence[Any]) -> bytes:
    """Serialized ``ExportTraceServiceRequest`` for ``spans`` (grouped by resource, then scope)."""
    # Grouped by object identity: Resource.__hash__ serializes all attributes to JSON on every call.
    grouped: dict[int, tuple[Any, dict[int, tuple[Any, list[bytes]]]]] = {}
    for span in spans:
        resource = span.resource
        entry = grouped.get(id(resource))
        if entry is None:
            entry = grouped[id(resource)] = (resource, {})
        scope = span.instrumentation_scope
        encoded = field(b"\x12", encode_span(span))
        bucket = entry[1].get(id(scope))
        if bucket is None:
            entry[1][id(scope)] = (scope, [encoded])
        else:
            bucket[1].append(encoded)
    out = []
    for resource, by_scope in grouped.values():
        scope_spans = []
        for scope, encoded_spans in by_scope.values():
            body = _cached(_scope_cache, scope, _scope) + b"".join(encoded_spans)
            if scope is not None and scope.schema_url:
                body += field(b"\x1a", scope.schema_url.encode())
            scope_spans.append(field(b"\x12", body))
        body = _cached(_resource_cache, resource, _resource) + b"".join(scope_spans)
        if resource.schema_url:
            body += field(b"\x1a", resource.schema_url.encode())
        out.append(field(b"\x0a", body))
    return b"".join(out)
