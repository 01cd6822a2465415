"""Keeping a segment document under X-Ray's 64 KB limit, sacrificing the least useful parts first.

Order: metadata values (largest first), then exception stacks, then annotations, then long
strings in the http/sql blocks and exception messages. A document that still does not fit is
dropped by the caller and counted.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_DOCUMENT_BYTES = 64 * 1024
_TRUNCATED_STRING = 1024


def encode(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc)


def fit(doc: dict[str, Any], limit: int = MAX_DOCUMENT_BYTES) -> tuple[bytes | None, bool]:
    """The encoded document within ``limit`` (or ``None``) and whether anything was removed."""
    data = encode(doc)
    if len(data) <= limit:
        return data, False
    metadata: dict[str, dict[str, Any]] = doc.get("metadata", {})
    entries = sorted(
        ((len(orjson.dumps(v, default=str)), ns, k) for ns, kv in metadata.items() for k, v in kv.items()),
        reverse=True,
    )
    excess = len(data) - limit
    for size, ns, key in entries:
        del metadata[ns][key]
        excess -= size + len(key) + 4
        if excess <= 0:
            data = encode(doc)
            if len(data) <= limit:
                return data, True
            excess = len(data) - limit
    doc.pop("metadata", None)
    for step in (_drop_stacks, _drop_annotations, _truncate_strings):
        step(doc)
        data = encode(doc)
        if len(data) <= limit:
            return data, True
    return None, True


def _drop_stacks(doc: dict[str, Any]) -> None:
    for exc in doc.get("cause", {}).get("exceptions", []):
        if exc.pop("stack", None) is not None:
            exc["truncated"] = exc.get("truncated", 0) + 1


def _drop_annotations(doc: dict[str, Any]) -> None:
    doc.pop("annotations", None)


def _truncate_strings(doc: dict[str, Any]) -> None:
    def cut(block: dict[str, Any], key: str) -> None:
        v = block.get(key)
        if isinstance(v, str) and len(v) > _TRUNCATED_STRING:
            block[key] = v[:_TRUNCATED_STRING] + "…"

    for key in ("url", "user_agent"):
        cut(doc.get("http", {}).get("request", {}), key)
    for key in ("sanitized_query", "url"):
        cut(doc.get("sql", {}), key)
    for exc in doc.get("cause", {}).get("exceptions", []):
        cut(exc, "message")
    doc.pop("links", None)
