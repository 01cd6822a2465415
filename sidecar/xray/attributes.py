"""Reading OTLP attributes as plain Python values, by first matching name (new convention first)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue


def plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [plain(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: plain(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
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
