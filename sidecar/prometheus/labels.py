"""OTLP attributes → Prometheus labels.

Values follow the attribute specification's string forms (booleans ``true``/``false``,
arrays and maps as JSON, bytes as base64). Keys are sanitised; when two keys sanitise to the
same label, their values are joined with ``;`` in the lexicographic order of the original keys,
as the compatibility specification requires.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from sidecar.prometheus.naming import sanitize_label_name

Labels = tuple[tuple[str, str], ...]

#: Labels the exporter itself sets; a data point attribute with one of these names is renamed
#: ``exported_<name>``, the way Prometheus treats clashing target labels.
RESERVED = frozenset({"job", "instance", "le", "quantile", "otel_scope_name", "otel_scope_version"})


def _plain(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_plain(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in v.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode("ascii")
    return getattr(v, kind)


def format_double(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return repr(x)


def value_string(v: AnyValue) -> str:
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "int_value":
        return str(v.int_value)
    if kind == "double_value":
        return format_double(v.double_value)
    if kind is None:
        return ""
    return json.dumps(_plain(v), separators=(",", ":"), ensure_ascii=False)


def attribute_labels(
    attributes: Iterable[KeyValue], *, reserved: frozenset[str] = RESERVED
) -> dict[str, str]:
    """Sanitised labels for ``attributes``; empty values are dropped (Prometheus treats them as absent)."""
    merged: dict[str, list[tuple[str, str]]] = {}
    for kv in attributes:
        name = sanitize_label_name(kv.key)
        if name in reserved:
            name = "exported_" + name
        merged.setdefault(name, []).append((kv.key, value_string(kv.value)))
    out: dict[str, str] = {}
    for name, pairs in merged.items():
        if len(pairs) > 1:
            pairs.sort()
        value = ";".join(v for _, v in pairs if v)
        if value:
            out[name] = value
    return out


def string_attributes(attributes: Iterable[KeyValue]) -> dict[str, str]:
    """Original keys → string values (for ``job``/``instance`` lookups)."""
    return {kv.key: value_string(kv.value) for kv in attributes}


def job_and_instance(resource: dict[str, str]) -> dict[str, str]:
    """``job`` is ``<service.namespace>/<service.name>`` (or the name alone); ``instance`` is ``service.instance.id``."""
    out: dict[str, str] = {}
    name = resource.get("service.name", "")
    namespace = resource.get("service.namespace", "")
    if name:
        out["job"] = f"{namespace}/{name}" if namespace else name
    instance = resource.get("service.instance.id", "")
    if instance:
        out["instance"] = instance
    return out
