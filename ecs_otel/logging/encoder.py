"""Turning arbitrary Python values into JSON bytes that never fail and never differ by encoder.

Two steps. :func:`to_jsonable` reduces any value to the JSON data model (exact ``str``, ``int`` within
64 bits, finite ``float``, ``bool``, ``None``, ``list``, ``dict`` with ``str`` keys), redacting secret keys
on the way; after that both encoders, orjson and the stdlib fallback, are given only values they agree
on, and the fallback formats floats the way orjson does, so the two produce identical bytes.

Rendering choices (documented in docs/getting-started.md): datetime/date/time → ISO 8601 text; Decimal, UUID, Path →
``str``; bytes → UTF-8 text with ``\\x..`` escapes for invalid bytes; set/frozenset → sorted list (insertion
order when not sortable); Enum → its value; dataclass → object of its fields; exception → ``"Type: message"``;
NaN/±inf → the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; ints beyond 64 bits → decimal text;
anything else → ``str(obj)``, then ``repr(obj)``, then ``"<unprintable T>"``. Containers deeper than
:data:`MAX_DEPTH` or longer than :data:`MAX_ITEMS` are cut and the line is marked truncated.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json.encoder
import math
import re
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import PurePath
from types import ModuleType
from typing import Any

from ecs_otel.redaction import (
    REDACTED,
    KeyRedactor,
    TextMasker,
    is_db_statement_key,
    is_url_key,
    scrub_statement,
    scrub_url,
)

_orjson: ModuleType | None
try:  # orjson is a base dependency, but the library must not break without it.
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised by the forced "stdlib" encoder in tests
    _orjson = None

MAX_DEPTH = 8
MAX_ITEMS = 1000

#: Terminal escape sequences: CSI (``ESC [ … final``, colours and cursor moves), OSC (``ESC ] … BEL`` or
#: ``ESC ] … ESC \``, titles and hyperlinks), two-character ``ESC`` sequences, then any ``ESC`` left over.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?")


def strip_escapes(text: str) -> str:
    """``text`` without terminal escape sequences (werkzeug colours its status codes, click styles output).

    In a JSON line they are noise that CloudWatch shows as ``\\u001b[33m``. The ``in`` test is a C-level
    scan, so a message without ``ESC`` (nearly all of them) costs one membership test and no regex.
    """
    if "\x1b" not in text:
        return text
    return _ESCAPES.sub("", text)
_I64_MIN = -(2**63)
_U64_MAX = 2**64 - 1

_encode_str: Callable[[str], str] = json.encoder.encode_basestring  # C-accelerated, non-ASCII kept as is
_SURROGATES = re.compile("[\ud800-\udfff]")


class WalkState:
    """Mutable flags a walk reports back (kept out of the return value to keep the hot path simple)."""

    __slots__ = ("masker", "max_str", "redactor", "truncated")

    def __init__(self, redactor: KeyRedactor | None, max_str: int, masker: TextMasker | None = None) -> None:
        self.redactor = redactor
        self.max_str = max_str
        self.masker = masker
        self.truncated = False


def safe_str(obj: Any) -> str:
    """``str(obj)`` that cannot raise (falls back to ``repr`` then to a placeholder)."""
    try:
        s = str(obj)
        return s if type(s) is str else str.__str__(s)
    except Exception:
        pass
    try:
        s = repr(obj)
        return s if type(s) is str else str.__str__(s)
    except Exception:
        return f"<unprintable {type(obj).__qualname__}>"


def exception_type_name(etype: type) -> str:
    """Fully-qualified class name, bare for builtins (``ValueError``, ``mypkg.errors.Boom``)."""
    try:
        module = etype.__module__
        qual = etype.__qualname__
    except Exception:
        return safe_str(etype)
    if module in ("builtins", "__builtin__", None):
        return qual
    return f"{module}.{qual}"


def _key(k: Any) -> str:
    if type(k) is str:
        return k
    if isinstance(k, str):
        return str.__str__(k)
    if k is None:
        return "null"
    if k is True:
        return "true"
    if k is False:
        return "false"
    if isinstance(k, enum.Enum):
        return _key(k.value) if isinstance(k.value, str | int | float) else safe_str(k)
    if isinstance(k, int):
        return int.__repr__(k) if _I64_MIN <= k <= _U64_MAX else safe_str(k)
    if isinstance(k, float):
        return format_float(k)
    return safe_str(k)


def _float(v: float) -> float | str:
    if v != v:
        return "NaN"
    if v in (math.inf, -math.inf):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def _clip(s: str, st: WalkState) -> str:
    if len(s) > st.max_str:
        st.truncated = True
        return s[: st.max_str]
    return s


def to_jsonable(value: Any, st: WalkState, depth: int = MAX_DEPTH) -> Any:
    """Reduce ``value`` to JSON-model types (see module docstring). Never raises."""
    t = type(value)
    if t is str:
        if st.masker is not None:
            value = st.masker.mask(value)
        return value if len(value) <= st.max_str else _clip(value, st)
    if t is int:
        return value if _I64_MIN <= value <= _U64_MAX else _bigint(value)
    if t is bool or value is None:
        return value
    if t is float:
        return value if value - value == 0.0 else _float(value)
    try:
        out = _convert(value, st, depth)
    except Exception:
        out = safe_str(value)
    if type(out) is str and st.masker is not None:  # an object's str(): text like any other
        out = st.masker.mask(out)
    return out


def _bigint(v: int) -> str:
    try:
        return int.__repr__(v)
    except ValueError:  # beyond sys.get_int_max_str_digits()
        return f"<int of {v.bit_length()} bits>"


def _convert(value: Any, st: WalkState, depth: int) -> Any:
    if isinstance(value, Mapping):
        return _mapping(value, st, depth)
    if isinstance(value, list | tuple):
        return _sequence(value, st, depth)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, st, depth)
    if isinstance(value, str):
        return _clip(str.__str__(value), st)
    if isinstance(value, int):
        v = int(value)
        return v if _I64_MIN <= v <= _U64_MAX else _bigint(v)
    if isinstance(value, float):
        return _float(float(value))
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID | PurePath):
        return _clip(str(value), st)
    if isinstance(value, bytes | bytearray | memoryview):
        return _clip(bytes(value).decode("utf-8", "backslashreplace"), st)
    if isinstance(value, set | frozenset):
        return _set(value, st, depth)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        if depth <= 0:
            st.truncated = True
            return "<max depth>"
        fields = {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
        return _mapping(fields, st, depth)
    if isinstance(value, BaseException):
        return _clip(f"{exception_type_name(type(value))}: {safe_str(value)}", st)
    return _clip(safe_str(value), st)


def _mapping(value: Mapping[Any, Any], st: WalkState, depth: int) -> Any:
    if depth <= 0:
        st.truncated = True
        return "<max depth>"
    red = st.redactor
    out: dict[str, Any] = {}
    for n, (k, v) in enumerate(value.items()):
        if n >= MAX_ITEMS:
            st.truncated = True
            break
        key = _key(k)
        if red is not None and red.is_sensitive(key):
            out[key] = REDACTED
        elif red is not None and type(v) is str and is_url_key(key):
            out[key] = to_jsonable(scrub_url(v, red), st)
        elif red is not None and type(v) is str and is_db_statement_key(key):
            out[key] = to_jsonable(scrub_statement(v, "credentials", red), st)
        else:
            out[key] = to_jsonable(v, st, depth - 1)
    return out


def _sequence(value: list[Any] | tuple[Any, ...], st: WalkState, depth: int) -> Any:
    if depth <= 0:
        st.truncated = True
        return "<max depth>"
    if len(value) > MAX_ITEMS:
        st.truncated = True
        value = value[:MAX_ITEMS]
    return [to_jsonable(v, st, depth - 1) for v in value]


def _set(value: set[Any] | frozenset[Any], st: WalkState, depth: int) -> Any:
    try:
        items = sorted(value)
    except Exception:
        items = list(value)
    return _sequence(items, st, depth)


def scrub_surrogates(value: Any) -> Any:
    """Replace lone surrogates (which UTF-8 cannot carry) by U+FFFD throughout a JSON-model value."""
    t = type(value)
    if t is str:
        return _SURROGATES.sub("\ufffd", value)
    if t is dict:
        return {_SURROGATES.sub("\ufffd", k): scrub_surrogates(v) for k, v in value.items()}
    if t is list:
        return [scrub_surrogates(v) for v in value]
    return value


# --- encoders -----------------------------------------------------------------------------------------


def format_float(v: float) -> str:
    """A finite float spelled exactly as orjson spells it (shortest round-trip digits; exponent without
    zero padding; plain decimals down to 1e-5)."""
    r = float.__repr__(v)
    if "e-" not in r:
        return r
    mantissa, _, exp_s = r.partition("e-")
    exp = int(exp_s)
    if exp != 5:
        return f"{mantissa}e-{exp}"
    neg = mantissa.startswith("-")
    digits = mantissa.lstrip("-").replace(".", "")
    return ("-" if neg else "") + "0.0000" + digits


def _stdlib_encode(value: Any) -> str:
    t = type(value)
    if t is str:
        return _encode_str(value)
    if t is dict:
        return "{" + ",".join(_encode_str(k) + ":" + _stdlib_encode(v) for k, v in value.items()) + "}"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if t is int:
        return int.__repr__(value)
    if t is float:
        return format_float(value)
    if t is list:
        return "[" + ",".join(_stdlib_encode(v) for v in value) + "]"
    raise TypeError(f"not a JSON-model value: {t.__name__}")


def stdlib_dumps(value: Any) -> bytes:
    """Pure-stdlib twin of ``orjson.dumps`` for JSON-model values (same bytes)."""
    return _stdlib_encode(value).encode("utf-8")


def get_dumps(name: str = "auto") -> Callable[[Any], bytes]:
    """``"orjson"``, ``"stdlib"`` or ``"auto"`` (orjson when importable)."""
    if name == "stdlib" or (name == "auto" and _orjson is None):
        return stdlib_dumps
    if name in ("orjson", "auto"):
        if _orjson is None:
            raise ValueError("encoder 'orjson' requested but orjson is not installed")
        return _orjson.dumps
    raise ValueError(f"unknown encoder {name!r}: expected 'auto', 'orjson' or 'stdlib'")
