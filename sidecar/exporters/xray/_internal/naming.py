"""X-Ray's rules for names and annotation keys.

Segment names may hold Unicode letters and digits, whitespace and ``_ . : / % & # = + \\ - @``,
at most 200 bytes; annotation keys only ASCII letters, digits and ``_``.
"""

from __future__ import annotations

import functools
import re

NAME_MAX_BYTES = 200
_NAME_ALLOWED = set("_.:/%&#=+\\-@ \t")
_ANNOTATION_KEY = re.compile(r"[^A-Za-z0-9_]")


@functools.lru_cache(maxsize=4096)
def sanitize_name(name: str, fallback: str = "unknown") -> str:
    cleaned = "".join(c if (c.isalnum() or c.isspace() or c in _NAME_ALLOWED) else "_" for c in name)
    cleaned = cleaned.strip() or fallback
    data = cleaned.encode()
    if len(data) > NAME_MAX_BYTES:
        cleaned = data[:NAME_MAX_BYTES].decode(errors="ignore")
    return cleaned


def annotation_key(key: str) -> str:
    return _ANNOTATION_KEY.sub("_", key)
