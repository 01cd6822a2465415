"""Redaction rules shared by the in-app JSON logs and the sidecar's redaction processor.

One rule, written once, so that a log line on stdout and the same attribute leaving the sidecar agree on
what is secret. A key is sensitive when the whole key, or its last dot-separated segment, equals a
deny-list entry, compared case-insensitively with ``-`` treated as ``_``. So
``http.request.header.authorization`` and ``user.password`` match ``authorization`` / ``password``
while ``gen_ai.usage.input_tokens`` does not match ``token`` (segments are compared whole, never as
substrings). URL-valued attributes (``url.full``, ``http.url``, ``url.query``) keep their shape but lose
user-info and the values of signing/token query parameters, as the HTTP semantic conventions ask.

Everything here is a pure function of its input; the per-key decision is cached (bounded) because the
same handful of keys is checked millions of times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[REDACTED]"
"""What a sensitive value becomes."""

URL_REDACTED = "REDACTED"
"""What user-info and sensitive query values become inside a URL (semantic-convention spelling)."""

DEFAULT_DENY_LIST: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "credentials",
    "private_key",
)

URL_KEYS: frozenset[str] = frozenset({"url.full", "http.url", "url.query"})
"""Keys whose string values are URLs (or a URL's query) and get :func:`scrub_url` instead of redaction."""

SENSITIVE_QUERY_PARAMS: tuple[str, ...] = (
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
    "token",
    "sig",
    "signature",
    "password",
)

_CACHE_LIMIT = 4096


def _normalise(key: str) -> str:
    return key.lower().replace("-", "_")


class KeyRedactor:
    """Decides whether a key names a secret.

    The decision per distinct key is memoised in a bounded table; once the table is full new keys are
    still answered correctly, just not remembered (``uncached`` counts those).
    """

    __slots__ = ("_cache", "_deny", "uncached")

    def __init__(self, deny_list: Iterable[str] | None = None) -> None:
        entries = DEFAULT_DENY_LIST if deny_list is None else deny_list
        deny: set[str] = set()
        for entry in entries:
            if not isinstance(entry, str) or not entry.strip():
                raise ValueError(f"deny-list entries must be non-empty strings, got {entry!r}")
            deny.add(_normalise(entry.strip()))
        self._deny = frozenset(deny)
        self._cache: dict[str, bool] = {}
        self.uncached = 0

    @property
    def known(self) -> dict[str, bool]:
        """The memo table itself, read-only by convention: hot loops may ``.get(key)`` before calling
        :meth:`is_sensitive` to save a call."""
        return self._cache

    @property
    def deny_list(self) -> frozenset[str]:
        """The normalised entries (lower case, ``_`` for ``-``)."""
        return self._deny

    def is_sensitive(self, key: str) -> bool:
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        norm = _normalise(key)
        result = norm in self._deny or norm.rpartition(".")[2] in self._deny
        if len(self._cache) < _CACHE_LIMIT:
            self._cache[key] = result
        else:
            self.uncached += 1
        return result

    __call__ = is_sensitive


def query_param_pattern(params: Iterable[str]) -> re.Pattern[str]:
    """A pattern for :func:`scrub_url` matching the values of the named query parameters (case-insensitive).

    A parameter starts the string (``url.query``), or follows ``?``, ``&`` or ``;``, or whitespace (a URL
    inside a log message). Its value runs to the next separator, fragment, whitespace or quote.
    """
    names = "|".join(re.escape(p) for p in params)
    return re.compile(rf"(^|[?&;\s])({names})=([^&;#\s\"]*)", re.IGNORECASE)


_QUERY_PARAM_RE = query_param_pattern(SENSITIVE_QUERY_PARAMS)
_USERINFO_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#@]*)@")


def scrub_url(value: str, params_re: re.Pattern[str] | None = None) -> str:
    """``https://u:p@host/p?X-Amz-Signature=abc&x=1`` → ``https://REDACTED:REDACTED@host/p?X-Amz-Signature=REDACTED&x=1``.

    Works on a full URL and on a bare query string (``url.query``). Values that need no change are
    returned as the same object, and the common case (no ``@`` and no ``=``) costs two substring tests.
    """
    if "@" not in value and "=" not in value:
        return value
    out = value
    if "@" in out:
        out = _USERINFO_RE.sub(rf"\1{URL_REDACTED}:{URL_REDACTED}@", out, count=1)
    if "=" in out:
        out = (params_re or _QUERY_PARAM_RE).sub(rf"\1\2={URL_REDACTED}", out)
    return value if out == value else out


def _redact_value(value: Any, redactor: KeyRedactor, depth: int) -> Any:
    if depth <= 0:
        return value
    if isinstance(value, Mapping):
        return redact_mapping(value, redactor, _depth=depth - 1)
    if isinstance(value, list | tuple):
        changed = False
        items = []
        for item in value:
            new = _redact_value(item, redactor, depth - 1)
            changed = changed or new is not item
            items.append(new)
        if not changed:
            return value
        return items if isinstance(value, list) else tuple(items)
    return value


def redact_mapping(
    mapping: Mapping[Any, Any], redactor: KeyRedactor | None = None, *, _depth: int = 16
) -> Mapping[Any, Any]:
    """A copy of ``mapping`` with sensitive values replaced by ``"[REDACTED]"``, nested mappings and
    sequences included, and URL values scrubbed. The input is never modified; when nothing needed
    redacting the input itself is returned (so callers can test ``result is mapping``)."""
    red = redactor if redactor is not None else _default_redactor()
    out: dict[Any, Any] | None = None
    for key, value in mapping.items():
        new = value
        if isinstance(key, str):
            if red.is_sensitive(key):
                new = REDACTED
            elif isinstance(value, str):
                if key.lower() in URL_KEYS:
                    new = scrub_url(value)
            else:
                new = _redact_value(value, red, _depth)
        elif isinstance(value, Mapping | list | tuple):
            new = _redact_value(value, red, _depth)
        if new is not value:
            if out is None:
                out = dict(mapping)
            out[key] = new
    return mapping if out is None else out


_DEFAULT: list[KeyRedactor] = []


def _default_redactor() -> KeyRedactor:
    if not _DEFAULT:
        _DEFAULT.append(KeyRedactor())
    return _DEFAULT[0]


def is_url_key(key: str) -> bool:
    """True for the attribute names whose values :func:`scrub_url` applies to."""
    return key.lower() in URL_KEYS


__all__ = [
    "DEFAULT_DENY_LIST",
    "REDACTED",
    "SENSITIVE_QUERY_PARAMS",
    "URL_KEYS",
    "URL_REDACTED",
    "KeyRedactor",
    "is_url_key",
    "query_param_pattern",
    "redact_mapping",
    "scrub_url",
]
