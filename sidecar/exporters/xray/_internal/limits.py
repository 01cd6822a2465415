"""The segment document schema's length limits, applied to a finished document.

X-Ray refuses a whole document when one field is too long (a 300-character URL loses the span), so every
field the schema bounds is cut to its limit instead. Lengths are counted in UTF-16 code units, as the
service's Java validator does; that never exceeds the schema's own count in code points.

``FIELD_LIMITS`` lists every ``maxLength`` in the published schema (a test walks the schema and checks it),
so a field added to the translator later cannot slip past unnoticed.
"""

from __future__ import annotations

from typing import Any

#: (path in the document, limit). A ``*`` step is every value of a mapping.
FIELD_LIMITS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("user",), 250),
    (("http", "request", "method"), 250),
    (("http", "request", "url"), 250),
    (("http", "request", "user_agent"), 250),
    (("http", "request", "client_ip"), 250),
    (("sql", "user"), 250),
    (("annotations", "*"), 1000),
)


def clip(value: str, limit: int) -> str:
    """``value`` cut to at most ``limit`` UTF-16 code units, never splitting a character."""
    if len(value) <= limit // 2 or (len(value) <= limit and value.isascii()):
        return value
    data = value.encode("utf-16-le")
    if len(data) <= 2 * limit:
        return value
    return data[: 2 * limit].decode("utf-16-le", errors="ignore")


def enforce(doc: dict[str, Any]) -> int:
    """Cut every bounded string field of ``doc`` in place; returns how many were cut."""
    cut = 0
    for path, limit in FIELD_LIMITS:
        cut += _clip_path(doc, path, limit)
    return cut


def _clip_path(node: Any, path: tuple[str, ...], limit: int) -> int:
    if not isinstance(node, dict):
        return 0
    head, rest = path[0], path[1:]
    keys = list(node) if head == "*" else [head] if head in node else []
    cut = 0
    for key in keys:
        if rest:
            cut += _clip_path(node[key], rest, limit)
            continue
        value = node[key]
        if isinstance(value, str):
            clipped = clip(value, limit)
            if clipped is not value:
                node[key] = clipped
                cut += 1
    return cut
