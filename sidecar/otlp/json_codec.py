"""OTLP/JSON: the protobuf messages in the JSON encoding the OTLP specification defines.

The specification differs from protobuf's canonical JSON mapping in two ways that matter:
``traceId``/``spanId``/``parentSpanId`` are hex strings, not base64, and enums are integers,
not names. Everything else follows proto3 JSON: lowerCamelCase keys, 64-bit integers as
decimal strings, other bytes as base64, ``NaN``/``Infinity`` as strings.

Receivers must be lenient, so :func:`decode` also accepts snake_case keys, 64-bit integers
as numbers, enum names, base64 ids from senders that got the rule wrong, and ignores unknown
keys (as the specification requires).

``google.protobuf.json_format`` walks descriptors on every call and does not know the id
rule. This module compiles one small plan per message type the first time it is needed,
so the per-field work is a dict lookup and one converter call; decoding builds plain dicts
and hands them to the message constructor once, so nested messages are built in C.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

__all__ = ["MAX_MESSAGE_DEPTH", "OtlpJsonError", "decode", "decode_dict", "encode", "encode_dict"]

M = TypeVar("M", bound=Message)

#: Bytes fields that the OTLP specification encodes as hex rather than base64.
_HEX_FIELDS = frozenset({"trace_id", "span_id", "parent_span_id"})

_INT64_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED64,
        FieldDescriptor.TYPE_SFIXED64,
    }
)
_INT32_TYPES = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_SFIXED32,
    }
)
_FLOAT_TYPES = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})

#: The deepest message nesting (the request itself counts 1) that protobuf's own parser accepts.
#: Deeper messages can be *built* from JSON and even serialized, but every later parse of those
#: bytes fails (upb's default recursion limit), so a queued batch holding one would be lost whole
#: at the exporter. The decoder refuses them instead: a request the wire format cannot carry.
MAX_MESSAGE_DEPTH = 100


class OtlpJsonError(ValueError):
    """The body is not OTLP/JSON for the requested message type; ``path`` says where."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path or '<root>'}: {problem}")


# --------------------------------------------------------------------------- scalar converters


def _enc_float(v: float) -> float | str:
    if v - v == 0:  # finite
        return v
    if v != v:
        return "NaN"
    return "Infinity" if v > 0 else "-Infinity"


def _enc_b64(v: bytes) -> str:
    return base64.b64encode(v).decode("ascii")


def _enc_hex(v: bytes) -> str:
    return v.hex()


def _identity(v: Any) -> Any:
    return v


def _dec_int(v: Any) -> int:
    if type(v) is int:
        return v
    if isinstance(v, str):
        return int(v.strip())
    if isinstance(v, float) and v.is_integer():
        return int(v)
    raise ValueError(f"expected an integer, got {type(v).__name__}")


_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _dec_float(v: Any) -> float:
    t = type(v)
    if t is float or t is int:
        return float(v)
    if t is str:
        special = _SPECIAL_FLOATS.get(v)
        return special if special is not None else float(v)
    raise ValueError(f"expected a number, got {t.__name__}")


def _dec_str(v: Any) -> str:
    if type(v) is str:
        return v
    raise ValueError(f"expected a string, got {type(v).__name__}")


def _dec_bool(v: Any) -> bool:
    if type(v) is bool:
        return v
    raise ValueError(f"expected true or false, got {type(v).__name__}")


def _dec_b64(v: Any) -> bytes:
    s = _dec_str(v)
    try:
        return base64.b64decode(s + "=" * (-len(s) % 4), altchars=b"-_" if ("-" in s or "_" in s) else None)
    except (binascii.Error, ValueError):
        raise ValueError("expected base64") from None


def _dec_hex(v: Any) -> bytes:
    s = _dec_str(v)
    try:
        return bytes.fromhex(s)
    except ValueError:
        pass
    # Some senders use protobuf's canonical base64 for ids; accept it rather than lose the data.
    try:
        return base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("expected a hex id") from None


# --------------------------------------------------------------------------- plans


class _Plan:
    """How to encode and decode one message type; built once per descriptor."""

    __slots__ = ("by_key", "by_number", "cls")

    def __init__(self) -> None:
        self.by_number: dict[int, tuple[str, Callable[[Any], Any]]] = {}
        self.by_key: dict[str, tuple[str, Callable[[Any, str, int], Any]]] = {}
        self.cls: type[Message] | None = None


_PLANS: dict[str, _Plan] = {}


def _plan(desc: Any) -> _Plan:  # a Descriptor (the upb and python classes differ to mypy)
    plan = _PLANS.get(desc.full_name)
    if plan is not None:
        return plan
    plan = _PLANS[desc.full_name] = _Plan()  # registered first: the OTLP types are recursive
    for fd in desc.fields:
        enc, dec = _converters(fd)
        plan.by_number[fd.number] = (fd.json_name, enc)
        plan.by_key[fd.json_name] = (fd.name, dec)
        plan.by_key[fd.name] = (fd.name, dec)
    return plan


def _scalar(fd: FieldDescriptor) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    t = fd.type
    if t in _INT64_TYPES:
        return str, _dec_int
    if t in _INT32_TYPES:
        return _identity, _dec_int
    if t in _FLOAT_TYPES:
        return _enc_float, _dec_float
    if t == FieldDescriptor.TYPE_BOOL:
        return _identity, _dec_bool
    if t == FieldDescriptor.TYPE_STRING:
        return _identity, _dec_str
    if t == FieldDescriptor.TYPE_BYTES:
        if fd.name in _HEX_FIELDS:
            return _enc_hex, _dec_hex
        return _enc_b64, _dec_b64
    if t == FieldDescriptor.TYPE_ENUM:
        enum_type = fd.enum_type
        assert enum_type is not None  # TYPE_ENUM fields always have one
        by_name = {v.name: v.number for v in enum_type.values}

        def dec_enum(v: Any) -> int:
            if type(v) is str and v in by_name:
                return by_name[v]
            return _dec_int(v)

        return _identity, dec_enum
    raise TypeError(f"unsupported field type {t} for {fd.full_name}")


def _converters(fd: FieldDescriptor) -> tuple[Callable[[Any], Any], Callable[[Any, str, int], Any]]:
    """Return (encode(value), decode(json_value, path, depth)) for one field; ``depth`` is the parent's."""
    name = fd.json_name
    if fd.type == FieldDescriptor.TYPE_MESSAGE:
        sub_desc = fd.message_type
        if fd.is_repeated:

            def enc_msgs(v: Any) -> list[dict[str, Any]]:
                sub = _plan(sub_desc)
                return [_encode_message(x, sub) for x in v]

            def dec_msgs(v: Any, path: str, depth: int) -> list[dict[str, Any]]:
                if type(v) is not list:
                    raise OtlpJsonError(f"{path}.{name}", "expected an array of objects")
                sub = _plan(sub_desc)
                return [_decode_message(x, sub, f"{path}.{name}[{i}]", depth + 1) for i, x in enumerate(v)]

            return enc_msgs, dec_msgs

        def enc_msg(v: Any) -> dict[str, Any]:
            return _encode_message(v, _plan(sub_desc))

        def dec_msg(v: Any, path: str, depth: int) -> dict[str, Any]:
            return _decode_message(v, _plan(sub_desc), f"{path}.{name}", depth + 1)

        return enc_msg, dec_msg

    enc, dec = _scalar(fd)
    if fd.is_repeated:

        def enc_list(v: Any) -> list[Any]:
            return [enc(x) for x in v]

        def dec_list(v: Any, path: str, depth: int) -> list[Any]:
            if type(v) is not list:
                raise OtlpJsonError(f"{path}.{name}", "expected an array")
            try:
                return [dec(x) for x in v]
            except ValueError as e:
                raise OtlpJsonError(f"{path}.{name}", str(e)) from None

        return enc_list, dec_list

    def dec_one(v: Any, path: str, depth: int) -> Any:
        try:
            return dec(v)
        except ValueError as e:
            raise OtlpJsonError(f"{path}.{name}", str(e)) from None

    return enc, dec_one


def _encode_message(msg: Message, plan: _Plan) -> dict[str, Any]:
    by_number = plan.by_number
    out: dict[str, Any] = {}
    for fd, value in msg.ListFields():
        key, enc = by_number[fd.number]
        out[key] = enc(value)
    return out


def _decode_message(obj: Any, plan: _Plan, path: str, depth: int) -> dict[str, Any]:
    if type(obj) is not dict:
        raise OtlpJsonError(path, f"expected an object, got {type(obj).__name__}")
    if depth > MAX_MESSAGE_DEPTH:
        raise OtlpJsonError(path, f"nested deeper than {MAX_MESSAGE_DEPTH} messages, more than protobuf can "
                                  "carry; flatten the value")
    by_key = plan.by_key
    out: dict[str, Any] = {}
    for k, v in obj.items():
        entry = by_key.get(k)
        if entry is None or v is None:  # unknown keys are ignored, as the specification requires
            continue
        out[entry[0]] = entry[1](v, path, depth)
    return out


# --------------------------------------------------------------------------- public API


def encode_dict(message: Message) -> dict[str, Any]:
    """The OTLP/JSON object for ``message`` (as plain Python values)."""
    return _encode_message(message, _plan(message.DESCRIPTOR))


def encode(message: Message) -> bytes:
    """Serialize ``message`` (any OTLP message, usually an ``Export*ServiceRequest``) as OTLP/JSON."""
    return orjson.dumps(_encode_message(message, _plan(message.DESCRIPTOR)))


def decode_dict(message_type: type[M], obj: Any) -> M:
    """Build ``message_type`` from an already parsed OTLP/JSON object."""
    fields = _decode_message(obj, _plan(message_type.DESCRIPTOR), "", 1)
    try:
        return message_type(**fields)
    except (TypeError, ValueError) as e:  # e.g. two members of one oneof, out-of-range integers
        raise OtlpJsonError("", f"not a valid {message_type.DESCRIPTOR.name}: {e}") from None


def decode(message_type: type[M], data: bytes | str) -> M:
    """Parse an OTLP/JSON body into ``message_type``; raises :class:`OtlpJsonError` on bad input."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise OtlpJsonError("", f"not JSON: {e}") from None
    return decode_dict(message_type, obj)
