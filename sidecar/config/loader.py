"""Turning a TOML table plus environment variables into a settings dataclass.

Types come from the dataclass annotations: ``str``, ``int``, ``float``, ``bool``,
``list[str]``, ``dict[str, int]`` (and other ``dict[str, T]``), ``Literal[...]`` choices and
``X | None``. Environment values win over the file. Unknown keys are errors, because a typo
that silently does nothing is the worst kind of configuration bug.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from sidecar.config.errors import ConfigError
from sidecar.config.fields import ENV

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def load_settings(cls: type[T], table: Mapping[str, Any] | None, env: Mapping[str, str], prefix: str) -> T:
    """Build ``cls`` from ``table`` (a TOML section at ``prefix``) and ``env``."""
    table = dict(table or {})
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in table:
        if key not in fields:
            known = ", ".join(sorted(fields))
            close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            expected = f"a known key, did you mean {close[0]}? (keys: {known})" if close else f"one of the keys {known}"
            raise ConfigError(_join(prefix, key), expected, None)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        env_name = f.metadata.get(ENV)
        if env_name and env.get(env_name, "") != "":
            key = env_name
            values[name] = coerce(hints[name], env[env_name], env_name, from_env=True)
        elif name in table:
            key = _join(prefix, name)
            values[name] = coerce(hints[name], table[name], key, from_env=False)
        else:
            continue
        if _is_endpoint(name):
            _check_url(values[name], key)
    return cls(**values)


def _is_endpoint(name: str) -> bool:
    return name == "endpoint" or name.endswith(("_endpoint", "_url"))


def _check_url(value: Any, key: str) -> None:
    """An endpoint without a scheme (``collector:4318``) would fail every export later: refuse it now."""
    if not isinstance(value, str) or not value.strip():
        return
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(key, "an http:// or https:// URL", value)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def describe(tp: Any) -> str:
    """A human description of the form a value must take, used in error messages and docs."""
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return describe(inner[0]) + " (or empty)"
    if origin is list:
        return f"a list of {describe(get_args(tp)[0])} (comma-separated in env)"
    if origin is dict:
        return f"a table of {describe(get_args(tp)[1])} (k=v,k=v in env)"
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(tp, str(tp))


def coerce(tp: Any, value: Any, key: str, *, from_env: bool) -> Any:
    """``value`` (a TOML value, or env text when ``from_env``) as type ``tp``, or a ConfigError naming ``key``."""
    origin = get_origin(tp)
    convert = _COMPOUND.get(origin) if origin is not None else _SCALARS.get(tp)
    if convert is None:
        raise ConfigError(key, describe(tp), value)
    try:
        return convert(tp, value, key, from_env)
    except (ValueError, TypeError):
        raise ConfigError(key, describe(tp), value) from None


def _optional(tp: Any, value: Any, key: str, from_env: bool) -> Any:
    inner = [a for a in get_args(tp) if a is not type(None)]
    if value is None or (from_env and value == ""):
        return None
    return coerce(inner[0], value, key, from_env=from_env)


def _choice(tp: Any, value: Any, key: str, from_env: bool) -> Any:
    v = value.strip().lower() if isinstance(value, str) else value
    if v not in get_args(tp):
        raise ValueError(v)
    return v


def _list(tp: Any, value: Any, key: str, from_env: bool) -> list[Any]:
    (item,) = get_args(tp)
    if isinstance(value, str):
        parts: list[Any] = [p.strip() for p in value.split(",") if p.strip()]
    elif isinstance(value, list):
        parts = value
    else:
        raise ValueError(value)
    return [coerce(item, p, key, from_env=from_env) for p in parts]


def _dict(tp: Any, value: Any, key: str, from_env: bool) -> dict[str, Any]:
    _, vt = get_args(tp)
    if isinstance(value, str):
        pairs = [p.split("=", 1) for p in value.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(value)
        return {k.strip(): coerce(vt, v.strip(), key, from_env=True) for k, v in pairs}
    if isinstance(value, dict):
        return {str(k): coerce(vt, v, key, from_env=from_env) for k, v in value.items()}
    raise ValueError(value)


def _bool(tp: Any, value: Any, key: str, from_env: bool) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError(value)


def _int(tp: Any, value: Any, key: str, from_env: bool) -> int:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value.strip())
    raise ValueError(value)


def _float(tp: Any, value: Any, key: str, from_env: bool) -> float:
    """A finite number: ``inf`` and ``nan`` are refused, as the library refuses them (it falls back to
    the default with a warning, because it must never stop the app; the sidecar stops with exit 2)."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        number = float(value.strip())
    else:
        raise ValueError(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _str(tp: Any, value: Any, key: str, from_env: bool) -> str:
    if isinstance(value, str):
        return value
    raise ValueError(value)


_Convert = Callable[[Any, Any, str, bool], Any]
#: One converter per type form the settings dataclasses use; anything else is a declaration bug.
_SCALARS: dict[Any, _Convert] = {bool: _bool, int: _int, float: _float, str: _str}
_COMPOUND: dict[Any, _Convert] = {
    types.UnionType: _optional, typing.Union: _optional, Literal: _choice, list: _list, dict: _dict,
}
