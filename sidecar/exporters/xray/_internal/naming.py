"""X-Ray's rules for names and annotation keys, as its published segment document schema states them.

Segment names: Unicode letters and digits, spaces and ``_ . : / % & # = + - @``, 1 to 200 characters. The
developer guide's prose also lists ``\\``, but the schema's pattern refuses it (and tabs, and every control
character); the OpenTelemetry Collector removes such characters, and so do we, so a name reads the same in both.
The schema's letter and digit classes were generated from an older Unicode version than Python's: a character
is kept only when it lies in the BMP and Unicode 3.2 already gave it the same class; every character so kept
matches the schema (checked over the whole BMP in the tests). Names are cut to 200 UTF-8 bytes (within 200 characters, whatever the counting).

Annotation keys: ASCII letters, digits and ``_``, 1 to 500 characters (the Collector's ``allowDot`` default keeps
dots, which the schema refuses: we replace them).
"""

from __future__ import annotations

import functools
import re
import unicodedata

NAME_MAX_BYTES = 200
ANNOTATION_KEY_MAX = 500
#: The Collector's default when nothing valid is left of a name.
DEFAULT_NAME = "span"
_NAME_SYMBOLS = frozenset(" _.:/%&#=+-@")
_ANNOTATION_KEY = re.compile(r"[^A-Za-z0-9_]")
_OLD = unicodedata.ucd_3_2_0


def _class(category: str) -> str | None:
    if category[0] in "LN":
        return category[0]
    return "Z" if category == "Zs" else None


@functools.lru_cache(maxsize=8192)
def name_char_allowed(c: str) -> bool:
    """Whether X-Ray's name pattern accepts ``c`` (see the module docstring for the Unicode version caveat)."""
    if c.isascii():
        return c.isalnum() or c in _NAME_SYMBOLS
    if ord(c) > 0xFFFF:  # the schema's classes stop at the BMP
        return False
    cls = _class(unicodedata.category(c))
    return cls is not None and cls == _class(_OLD.category(c))


@functools.lru_cache(maxsize=4096)
def sanitize_name(name: str, fallback: str = DEFAULT_NAME) -> str:
    cleaned = name if all(map(name_char_allowed, name)) else "".join(filter(name_char_allowed, name))
    cleaned = cleaned.strip() or fallback
    data = cleaned.encode()
    if len(data) > NAME_MAX_BYTES:
        cleaned = data[:NAME_MAX_BYTES].decode(errors="ignore").strip() or fallback
    return cleaned


def annotation_key(key: str) -> str:
    return _ANNOTATION_KEY.sub("_", key)[:ANNOTATION_KEY_MAX] or "_"
