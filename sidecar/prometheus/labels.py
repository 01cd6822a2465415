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
    out: dict[str, str] = {}
    merged: dict[str, list[tuple[str, str]]] | None = None
    for kv in attributes:
        key = kv.key
        name = sanitize_label_name(key)
        if name in reserved:
            name = "exported_" + name
        v = kv.value
        text = v.string_value if v.WhichOneof("value") == "string_value" else value_string(v)
        if merged is None and name not in out:
            out[name] = text
            continue
        if merged is None:  # first collision: redo on the slow path that remembers original keys
            merged = {}
            for other in attributes:
                n = sanitize_label_name(other.key)
                n = "exported_" + n if n in reserved else n
                merged.setdefault(n, []).append((other.key, value_string(other.value)))
            break
    if merged is not None:
        out = {}
        for name, pairs in merged.items():
            pairs.sort()
            out[name] = ";".join(v for _, v in pairs if v)
    return {k: v for k, v in out.items() if v}


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
