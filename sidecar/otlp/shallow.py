"""Shallow views of encoded OTLP batches: the OTLP schema cut off below the level a stage works at.

Decoding a whole ``ExportTraceServiceRequest`` builds a message per attribute and value (most of
what a 100-span request costs to decode), and every Python-level touch of a span costs about a
microsecond. A stage that only reads ids, adds resource attributes or renames spans does not need
any of that: it can parse the request with a *shallow* copy of the schema, where every message
below its level is declared ``repeated bytes``. The protobuf runtime (C) then keeps those
sub-messages as opaque encoded bytes, and serialising the view writes them back unchanged.

Why the round trip means the same thing as decoding fully and re-encoding:

* a message field declared ``repeated bytes`` keeps every occurrence, in order, and writes each
  back with the same field number; a parser of the real schema merges repeated occurrences of a
  singular message (as it would have merged them in the original) and appends repeated ones;
* scalar fields keep the real types, so duplicates resolve as they would (the last one wins) and
  strings are still checked to be UTF-8;
* fields the view does not declare stay unknown fields, which the runtime writes back after the
  known ones, as it does for unknown fields of the full schema.

Known fields are written in field-number order, as a full re-encoding writes them, then the unknown
ones: a view that declares every field of its messages (the resource view) writes a canonically
encoded request (every SDK's output) back byte for byte unless a field changed; one that leaves fields
unknown (the names view) writes the same message with those fields last.

The views never validate what they keep as bytes: the receiver decodes every request fully before
anything here runs, so bytes that reach a view already parsed under the real schema.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2
from opentelemetry.proto.metrics.v1 import metrics_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

from sidecar.otlp.signals import Signal

__all__ = ["DecodeError", "names_view", "resource_keys", "resource_view", "span_ids_valid"]

_COMMON = (common_pb2, resource_pb2)
#: The files each signal's request needs (a view's pool holds only those: each pool is a copy of its files).
_FILES = {Signal.TRACES: (*_COMMON, trace_pb2, trace_service_pb2),
          Signal.METRICS: (*_COMMON, metrics_pb2, metrics_service_pb2),
          Signal.LOGS: (*_COMMON, logs_pb2, logs_service_pb2)}
_F = descriptor_pb2.FieldDescriptorProto


def _pool(modules: Iterable[Any], deep: frozenset[str],
          keep_only: dict[str, frozenset[int]] | None = None) -> descriptor_pool.DescriptorPool:
    """A private pool holding the OTLP files of ``modules`` with every message field whose type is not in
    ``deep`` declared ``repeated bytes``; ``keep_only`` leaves only the listed field numbers in some messages."""
    pool = descriptor_pool.DescriptorPool()
    for module in modules:
        fdp = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(fdp)
        for message in _all_messages(fdp.message_type, "." + fdp.package):
            full, proto = message
            for field in list(proto.field):
                if field.type == _F.TYPE_MESSAGE and field.type_name not in deep and not field.HasField("oneof_index"):
                    field.type = _F.TYPE_BYTES
                    field.label = _F.LABEL_REPEATED
                    field.ClearField("type_name")
            if keep_only is not None and full in keep_only:
                kept = [f for f in proto.field if f.number in keep_only[full]]
                del proto.field[:]
                proto.field.extend(kept)
        pool.Add(fdp)
    return pool


def _all_messages(protos: Iterable[descriptor_pb2.DescriptorProto], scope: str):  # type: ignore[no-untyped-def]
    for proto in protos:
        full = f"{scope}.{proto.name}"
        yield full, proto
        yield from _all_messages(proto.nested_type, full)


def _message_class(pool: descriptor_pool.DescriptorPool, full_name: str) -> type[Message]:
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(full_name))


_REQUEST = {Signal.TRACES: ".opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
            Signal.METRICS: ".opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest",
            Signal.LOGS: ".opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest"}
_RESOURCE_ENTRY = {Signal.TRACES: ".opentelemetry.proto.trace.v1.ResourceSpans",
                   Signal.METRICS: ".opentelemetry.proto.metrics.v1.ResourceMetrics",
                   Signal.LOGS: ".opentelemetry.proto.logs.v1.ResourceLogs"}

# -- resource level: Export*ServiceRequest → Resource* (resource and scope entries as bytes) --------------


@functools.cache
def _resource_view(signal: Signal) -> type[Message]:
    pool = _pool(_FILES[signal], frozenset({_REQUEST[signal], _RESOURCE_ENTRY[signal]}))
    return _message_class(pool, _REQUEST[signal][1:])


@functools.cache
def _resource_keys() -> type[Message]:
    """A Resource with each attribute's key decoded (the values stay bytes): what enrichment reads."""
    pool = _pool(_COMMON, frozenset({".opentelemetry.proto.resource.v1.Resource",
                                     ".opentelemetry.proto.common.v1.KeyValue"}))
    return _message_class(pool, "opentelemetry.proto.resource.v1.Resource")


def resource_view(signal: Signal, body: bytes) -> Message:
    """``body`` as ``resource_*`` entries whose ``resource`` (a repeated bytes field: every occurrence) and
    scope entries are still encoded. Raises :class:`DecodeError` on bytes that do not parse."""
    return _resource_view(signal).FromString(body)


def resource_keys(resource: bytes) -> list[str]:
    """The attribute keys of an encoded ``Resource``, in order."""
    return [kv.key for kv in _resource_keys().FromString(resource).attributes]  # type: ignore[attr-defined]


# -- span level: every message down to Span ------------------------------------------------------------

_SPAN_LEVELS = frozenset({_REQUEST[Signal.TRACES], _RESOURCE_ENTRY[Signal.TRACES],
                          ".opentelemetry.proto.trace.v1.ScopeSpans", ".opentelemetry.proto.trace.v1.Span"})


@functools.cache
def _names_view() -> type[Message]:
    pool = _pool(_FILES[Signal.TRACES], _SPAN_LEVELS, keep_only={".opentelemetry.proto.trace.v1.Span": frozenset({5})})
    return _message_class(pool, _REQUEST[Signal.TRACES][1:])


def names_view(body: bytes) -> Message:
    """A trace request down to its spans' names; every other field of a span stays an unknown field.

    Cheap to parse and write (a span's other fields are one block of bytes), for renaming spans: a renamed span is written with its name first and the rest after, in the
    order they came. Field order means nothing to a protobuf parser, so the batch decodes to the
    same message as one renamed through the full schema; only the bytes differ.
    Raises :class:`DecodeError` on bytes that do not parse.
    """
    return _names_view().FromString(body)


# -- ids only: every span's trace, span and parent ids, nothing else ---------------------------------------


@functools.cache
def _ids_view() -> type[Message]:
    pool = _pool(_FILES[Signal.TRACES], _SPAN_LEVELS,
                 keep_only={".opentelemetry.proto.trace.v1.ResourceSpans": frozenset({2}),
                            ".opentelemetry.proto.trace.v1.ScopeSpans": frozenset({2}),
                            ".opentelemetry.proto.trace.v1.Span": frozenset({1, 2, 4})})
    return _message_class(pool, _REQUEST[Signal.TRACES][1:])

#: A ScopeSpans reduced to its spans' ids and re-encoded is a run of fixed-size records, one per span:
#: ``spans`` (field 2) holding ``trace_id`` (16 bytes), ``span_id`` (8) and optionally ``parent_span_id``
#: (8), in field order: 40 bytes with a parent, 30 without. A full match of the run proves every id the
#: right length: each record's first two bytes are its real tag and length, so the matched records are
#: the real ones, back to back. Zero ids are looked for apart (three substring searches, see below).
_SPAN_RUN = re.compile(rb"(?:\x12\x26\x0a\x10.{16}\x12\x08.{8}\x22\x08.{8}|\x12\x1c\x0a\x10.{16}\x12\x08.{8})*",
                       re.DOTALL)
#: ``(record size, ((offset, byte), …))``: the fixed bytes of a run where every record has the same size
#: (every span with a parent, or none), checked with one extended slice per offset instead of the regex.
_UNIFORM = ((40, ((0, 0x12), (1, 0x26), (2, 0x0A), (3, 0x10), (20, 0x12), (21, 0x08), (30, 0x22), (31, 0x08))),
            (30, ((0, 0x12), (1, 0x1C), (2, 0x0A), (3, 0x10), (20, 0x12), (21, 0x08))))
_REPEATED = {value: bytes((value,)) for _, fixed in _UNIFORM for _, value in fixed}
#: Every id is at least 8 bytes long, so a run holding an all-zero id holds eight zero bytes in a row: one
#: search instead of one per id field. The converse may fail by chance (eight zeros inside a nonzero trace
#: id; never across fields, as the tags and lengths between ids are nonzero): then the decoded screen decides.
_ZERO_ID = bytes(8)


def _valid_run(run: bytes) -> bool:
    for size, fixed in _UNIFORM:
        n, rest = divmod(len(run), size)
        if rest:
            continue
        for offset, value in fixed:  # plain loops: cheaper than all()/any() over generators here
            if run[offset::size] != _REPEATED[value] * n:
                break
        else:
            break
    else:
        if _SPAN_RUN.fullmatch(run) is None:
            return False
    return _ZERO_ID not in run


def span_ids_valid(body: bytes) -> int | None:
    """The number of spans in an encoded trace request when every span's ids are valid as they are
    (see :mod:`sidecar.otlp.ids`: nothing to drop, no parent to clear); ``None`` when one is not, or
    when ``body`` does not parse (the caller then takes the decoded path, which says which).

    All in C but for one loop step per scope: parse the ids-only view, drop everything else, encode
    each scope's spans and match the run of records.
    """
    try:
        view = _ids_view().FromString(body)
    except DecodeError:
        return None
    view.DiscardUnknownFields()
    n = 0
    for rs in view.resource_spans:  # type: ignore[attr-defined]
        for ss in rs.scope_spans:
            if not _valid_run(ss.SerializeToString()):
                return None
            n += len(ss.spans)
    return n
