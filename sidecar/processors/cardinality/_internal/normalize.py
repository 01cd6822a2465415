"""URL and span-name normalisation: identifiers in paths become placeholders.

``/users/123/orders/9f1c2d3e-…`` and ``/users/456/orders/…`` are one route; as attribute values
they are two series each, forever. A path is split into segments and a segment that *is* an
identifier is replaced whole; segments that merely contain digits are left alone, so
``/v1/``, ``/api/v2/health`` and ``/static/app.3f2a.js`` survive. Placeholders:

=============  ==============================================================================
``{id}``       decimal numbers, UUIDs, ULIDs, hex of 12+ characters with a digit, long random
               tokens (16+ letters and digits, 3+ digits, no separators), ``123.json`` keeps ``.json``
``{email}``    ``user@example.com`` (also percent-encoded ``%40``)
``{date}``     ``2024-05-01``, ``2024-05-01T10:00:00Z`` (all-digit ``20240501`` is an ``{id}``)
=============  ==============================================================================

Query strings keep their parameter names and lose their values (``?page={v}&q={v}``);
fragments are dropped. Placeholders are never matched again, so normalising twice is the same as
normalising once. Results are cached (bounded) because the same few raw values repeat.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from ecs_otel.memo import Memo

ID = "{id}"
EMAIL = "{email}"
DATE = "{date}"
VALUE = "{v}"

_NUMBER = re.compile(r"^[+-]?\d+$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^(?:0x)?[0-9a-fA-F]{12,}$")
_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$")
_EMAIL = re.compile(r"^[^@\s/]+(?:@|%40)[^@\s/]+\.[A-Za-z]{2,}$")
_DATE = re.compile(r"^\d{4}-?(?:0[1-9]|1[0-2])-?(?:0[1-9]|[12]\d|3[01])(?:[T_ ]\d{2}:?\d{2}(?::?\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$")
_TOKEN = re.compile(r"^[A-Za-z0-9]{16,}$")
_DIGIT = re.compile(r"\d")
_EXT = re.compile(r"^(.+?)(\.[A-Za-z][A-Za-z0-9]{0,7})$")

#: Attribute keys whose string values are normalised by default. ``http.route`` is a template by
#: definition (instrumentations set it from the router) and is left out; add it when an app does not.
URL_KEYS = frozenset({"url.path", "url.full", "http.target", "http.url", "url.template"})
#: Keys holding a full URL (scheme and host kept, path and query normalised).
_FULL_URL_KEYS = frozenset({"url.full", "http.url"})


def normalize_segment(seg: str) -> str:
    """One path segment: a placeholder when the whole segment is an identifier, else unchanged."""
    if not seg or seg[0] == "{":
        return seg
    if not _DIGIT.search(seg):  # every placeholder but {email} needs a digit: most segments stop here
        if "@" in seg or "%40" in seg:
            return EMAIL if _EMAIL.match(seg) else seg
        return seg
    if _NUMBER.match(seg):
        return ID
    if _DATE.match(seg):
        return DATE
    if _UUID.match(seg):
        return ID
    if "@" in seg or "%40" in seg:
        return EMAIL if _EMAIL.match(seg) else seg
    if _HEX.match(seg) and _DIGIT.search(seg):
        return ID
    if _ULID.match(seg) and _DIGIT.search(seg):
        return ID
    if _TOKEN.match(seg) and len(_DIGIT.findall(seg)) >= 3 and not seg.isdigit():
        return ID
    m = _EXT.match(seg)
    if m:
        head = normalize_segment(m.group(1))
        if head in (ID, DATE, EMAIL):
            return head + m.group(2)
    return seg


def normalize_path(path: str) -> str:
    """A path (optionally with ``?query`` and ``#fragment``), identifiers replaced."""
    path, _, _fragment = path.partition("#")
    path, sep, query = path.partition("?")
    out = "/".join(normalize_segment(s) for s in path.split("/"))
    if sep:
        out += "?" + normalize_query(query)
    return out


def normalize_query(query: str) -> str:
    if not query:
        return ""
    names = []
    for part in query.split("&"):
        if not part:
            continue
        name, eq, _ = part.partition("=")
        names.append(f"{name}={VALUE}" if eq else name)
    return "&".join(names)


def normalize_url(url: str) -> str:
    """A full URL: scheme, host and port kept; user-info dropped; path and query normalised."""
    if "://" not in url:
        return normalize_path(url)
    try:
        parts = urlsplit(url)
    except ValueError:
        return normalize_path(url)
    host = parts.netloc.rpartition("@")[2]
    out = f"{parts.scheme}://{host}{normalize_path(parts.path)}"
    if parts.query:
        out += "?" + normalize_query(parts.query)
    return out


def normalize_span_name(name: str) -> str:
    """``GET /users/123`` → ``GET /users/{id}``; ``process 8f14e45f…`` → ``process {id}``."""
    tokens = name.split(" ")
    changed = False
    for i, tok in enumerate(tokens):
        if not tok:
            continue
        new = normalize_url(tok) if "/" in tok else normalize_segment(tok)
        if new != tok:
            tokens[i] = new
            changed = True
    return " ".join(tokens) if changed else name


class Normalizer:
    """Normalises attribute values and span names, with a bounded cache of recent results."""

    def __init__(self, keys: frozenset[str] = URL_KEYS, cache_size: int = 16384) -> None:
        self.keys = keys
        self._cache: Memo[tuple[bool, str], str] = Memo("cardinality.normalized", cache_size)
        #: Values that changed (for the ``normalized`` self-metric).
        self.changed = 0

    def value(self, key: str, value: str, count: bool = True) -> str:
        full = key in _FULL_URL_KEYS
        ck = (full, value)
        out = self._cache.data.get(ck)
        if out is None:
            out = self._cache.put(ck, normalize_url(value) if full else normalize_path(value))
        if count and out != value:
            self.changed += 1
        return out

    def span_name(self, name: str, count: bool = True) -> str:
        ck = (False, "\0span\0" + name)
        out = self._cache.data.get(ck)
        if out is None:
            out = self._cache.put(ck, normalize_span_name(name))
        if count and out != name:
            self.changed += 1
        return out
