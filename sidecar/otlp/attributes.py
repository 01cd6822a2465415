"""OTLP attribute values to and from Python, and every place a batch carries attributes.

The one converter every stage uses: ``plain`` (AnyValue → Python), ``text`` (AnyValue → the
text a label, a key or a hash sees), ``any_value``/``key_value`` (Python → proto), plus the walk
over resource, scope, span, event, link, log record, data point and exemplar attribute lists.
Having one of each keeps exporters and processors agreeing on what a value *is* (bytes as hex,
``true``/``false``, ``NaN``/``+Inf``) instead of each inventing its own rendering.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

from sidecar.otlp.signals import Signal


def plain(value: AnyValue, bytes_text: Callable[[bytes], str] = bytes.hex) -> Any:
    """An AnyValue as a plain Python value (JSON-able); bytes become text by ``bytes_text`` (hex by default)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [plain(v, bytes_text) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: plain(kv.value, bytes_text) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return bytes_text(value.bytes_value)
    return getattr(value, kind)


def to_dict(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: plain(kv.value) for kv in attributes}


def first(attrs: dict[str, Any], *names: str) -> Any:
    """The value of the first of ``names`` present, so new and old semantic conventions both work."""
    for name in names:
        v = attrs.get(name)
        if v is not None and v != "":
            return v
    return None


def format_double(x: float) -> str:
    """A double as text, with the spellings Prometheus and OTLP/JSON agree on for non-finite values."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(x)


def text(value: AnyValue, bytes_text: Callable[[bytes], str] = bytes.hex) -> str:
    """An AnyValue as one string: scalars as themselves (``true``/``false``), structures as compact JSON."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return format_double(value.double_value)
    if kind is None:
        return ""
    if kind == "bytes_value":
        return bytes_text(value.bytes_value)
    return json.dumps(plain(value, bytes_text), separators=(",", ":"), ensure_ascii=False)


def any_value(value: Any) -> AnyValue:
    """A Python attribute value (str, bool, int, float, bytes or a sequence of them) as an AnyValue."""
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    return AnyValue(string_value=str(value))


def key_value(key: str, value: Any) -> KeyValue:
    return KeyValue(key=key, value=any_value(value))


def resource_attribute_lists(signal: Signal, batch: Message) -> Iterator[Any]:
    """The ``attributes`` of every resource in a batch."""
    field = {
        Signal.TRACES: "resource_spans",
        Signal.METRICS: "resource_metrics",
        Signal.LOGS: "resource_logs",
    }
    for entry in getattr(batch, field[signal]):
        yield entry.resource.attributes


def item_attribute_lists(signal: Signal, batch: Message) -> Iterator[Any]:
    """Every repeated ``KeyValue`` field below the resource level: scope, item, event, link, exemplar."""
    for scope, items in scopes(signal, batch):
        yield scope.attributes
        for item in items:
            yield from attribute_lists_of(signal, item)


def scopes(signal: Signal, batch: Message) -> Iterator[tuple[Any, Any]]:
    """``(scope, items)`` for every scope entry: items are spans, log records or metrics."""
    if signal is Signal.TRACES:
        for rs in batch.resource_spans:  # type: ignore[attr-defined]
            for ss in rs.scope_spans:
                yield ss.scope, ss.spans
    elif signal is Signal.LOGS:
        for rl in batch.resource_logs:  # type: ignore[attr-defined]
            for sl in rl.scope_logs:
                yield sl.scope, sl.log_records
    else:
        for rm in batch.resource_metrics:  # type: ignore[attr-defined]
            for sm in rm.scope_metrics:
                yield sm.scope, sm.metrics


def attribute_lists_of(signal: Signal, item: Message) -> Iterator[Any]:
    """The repeated ``KeyValue`` fields inside one span (with its events and links), log record or metric."""
    if signal is Signal.TRACES:
        yield item.attributes  # type: ignore[attr-defined]
        for ev in item.events:  # type: ignore[attr-defined]
            yield ev.attributes
        for link in item.links:  # type: ignore[attr-defined]
            yield link.attributes
    elif signal is Signal.LOGS:
        yield item.attributes  # type: ignore[attr-defined]
    else:
        kind = item.WhichOneof("data")
        if kind is None:
            return
        for dp in getattr(item, kind).data_points:
            yield dp.attributes
            # summary points have no exemplars
            for ex in getattr(dp, "exemplars", ()):
                yield ex.filtered_attributes


def log_bodies(batch: Message) -> Iterator[AnyValue]:
    """Log record bodies (structured bodies carry keys too)."""
    for rl in batch.resource_logs:  # type: ignore[attr-defined]
        for sl in rl.scope_logs:
            for rec in sl.log_records:
                yield rec.body
