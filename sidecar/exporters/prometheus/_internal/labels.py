"""OTLP attributes → Prometheus labels.

Values follow the attribute specification's string forms (booleans ``true``/``false``,
arrays and maps as JSON, bytes as base64). Keys are sanitised; when two keys sanitise to the
same label, their values are joined with ``;`` in the lexicographic order of the original keys,
as the compatibility specification requires.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from sidecar.exporters.prometheus._internal.naming import sanitize_label_name
from sidecar.otlp.attributes import text

Labels = tuple[tuple[str, str], ...]

#: Labels the exporter itself sets; a data point attribute with one of these names is renamed
#: ``exported_<name>``, the way Prometheus treats clashing target labels.
RESERVED = frozenset({"job", "instance", "le", "quantile", "otel_scope_name", "otel_scope_version"})


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def value_string(v: AnyValue) -> str:
    """Label text per the OpenTelemetry ↔ Prometheus spec (bytes as base64, arrays as JSON)."""
    return text(v, _base64)


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
