"""Building OTLP ``KeyValue`` protos from plain Python attribute values, and walking a batch's attribute lists.

Shared by the processors that add or rewrite attributes (and by the stats scraper's OTLP builder), so each of them sees every place an
OTLP batch carries attributes (resource, scope, span, event, link, log record, data point,
exemplar) without repeating the schema walk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from google.protobuf.message import Message
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

from sidecar.signals import Signal


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
