"""One way to declare a setting, and one coercion table, for the library and the sidecar.

A setting is a dataclass field made by :func:`setting`: its default, one line of help, the environment
variable that sets it and, for numbers, its bounds. The same declarations feed three readers:

* :func:`load_settings` (the sidecar): TOML table plus environment; anything wrong raises
  :class:`SettingError` naming the key or variable, so the sidecar stops with exit 2 before opening a port;
* :func:`read_environment` (the library): environment only; a bad value is reported through a callback
  (the library logs one warning naming the variable) and the field keeps its default, because the library
  must never raise into the application;
* the reference pages of the documentation (``python -m sidecar.config.reference``).

Both sides parse with the same :func:`coerce`, so ``inf``, ``nan``, ``1e400`` and out-of-bounds numbers are
refused alike; only the reaction differs. Standard library only: the library imports this module.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

__all__ = [
    "ENV",
    "HELP",
    "Bounds",
    "SettingError",
    "coerce",
    "describe",
    "env_variables",
    "field_default",
    "load_settings",
    "read_environment",
    "setting",
]

T = TypeVar("T")

#: Field-metadata keys: the environment variable, the help text and the numeric bounds of a setting.
ENV = "env"
HELP = "help"
BOUNDS = "bounds"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class SettingError(Exception):
    """A bad configuration value. ``key`` is the dotted TOML key or the environment variable's name."""

    def __init__(self, key: str, expected: str, got: object = None) -> None:
        self.key = key
        self.expected = expected
        self.got = got
        shown = "" if got is None else f", got {got!r}"
        super().__init__(f"{key}: expected {expected}{shown}")


@dataclass(frozen=True, slots=True)
class Bounds:
    """Limits of a numeric setting: ``gt`` (exclusive) or ``ge`` (inclusive) below, ``le`` above."""

    gt: float | None = None
    ge: float | None = None
    le: float | None = None

    def admits(self, value: float) -> bool:
        return ((self.gt is None or value > self.gt) and (self.ge is None or value >= self.ge)
                and (self.le is None or value <= self.le))

    def text(self) -> str:
        def num(v: float) -> str:
            return str(int(v)) if float(v).is_integer() else repr(float(v))

        if self.ge is not None and self.le is not None:
            return f"from {num(self.ge)} to {num(self.le)}"
        parts = []
        if self.gt is not None:
            parts.append(f"> {num(self.gt)}")
        if self.ge is not None:
            parts.append(f">= {num(self.ge)}")
        if self.le is not None:
            parts.append(f"<= {num(self.le)}")
        return " and ".join(parts)


def setting(
    default: Any,
    *,
    help: str,
    env: str | None = None,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
) -> Any:
    """A dataclass field carrying its help text, its optional environment variable and its bounds."""
    meta: dict[str, Any] = {HELP: help, ENV: env}
    if gt is not None or ge is not None or le is not None:
        meta[BOUNDS] = Bounds(gt=gt, ge=ge, le=le)
    if isinstance(default, list | dict | set):
        factory: Callable[[], Any] = functools.partial(type(default), default)
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def field_default(f: dataclasses.Field[Any]) -> Any:
    """The default value of a declared field (a fresh one for list and dict defaults)."""
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def env_variables(cls: type) -> Iterator[tuple[str, dataclasses.Field[Any]]]:
    """``(variable, field)`` for every field of the settings dataclass ``cls`` that an environment variable sets."""
    for f in dataclasses.fields(cls):
        name = f.metadata.get(ENV)
        if name:
            yield name, f


def describe(tp: Any, bounds: Bounds | None = None) -> str:
    """A human description of the form a value must take, used in error messages and in the docs."""
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in get_args(tp) if a is not type(None)]
        return describe(inner[0], bounds) + " (or empty)"
    if origin is list:
        return f"a list of {describe(get_args(tp)[0])} (comma-separated in env)"
    if origin is dict:
        return f"a table of {describe(get_args(tp)[1])} (k=v,k=v in env)"
    text = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}.get(tp, str(tp))
    return f"{text} {bounds.text()}" if bounds is not None else text


def coerce(tp: Any, value: Any, key: str, *, from_env: bool, bounds: Bounds | None = None) -> Any:
    """``value`` (a TOML value, or environment text when ``from_env``) as type ``tp`` within ``bounds``.

    Raises :class:`SettingError` naming ``key`` for anything else, ``inf`` and ``nan`` included.
    """
    origin = get_origin(tp)
    convert = _COMPOUND.get(origin) if origin is not None else _SCALARS.get(tp)
    if convert is None:
        raise SettingError(key, describe(tp, bounds), value)
    try:
        result = convert(tp, value, key, from_env)
    except (ValueError, TypeError):
        raise SettingError(key, describe(tp, bounds), value) from None
    if bounds is not None and isinstance(result, int | float) and not isinstance(result, bool) \
            and not bounds.admits(result):
        raise SettingError(key, describe(tp, bounds), value)
    return result


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
    """A finite number: ``inf``, ``nan`` and ``1e400`` are refused (an infinite budget never ends)."""
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
#: The coercion table: one converter per type form a settings dataclass may use; anything else is a
#: declaration bug (refused as a SettingError rather than passed through unchecked).
_SCALARS: dict[Any, _Convert] = {bool: _bool, int: _int, float: _float, str: _str}
_COMPOUND: dict[Any, _Convert] = {
    types.UnionType: _optional, typing.Union: _optional, Literal: _choice, list: _list, dict: _dict,
}


def _coerce_field(f: dataclasses.Field[Any], tp: Any, value: Any, key: str, from_env: bool) -> Any:
    return coerce(tp, value, key, from_env=from_env, bounds=f.metadata.get(BOUNDS))


def load_settings(cls: type[T], table: Mapping[str, Any] | None, env: Mapping[str, str], prefix: str) -> T:
    """Build ``cls`` from ``table`` (a TOML section at ``prefix``) and ``env`` (which wins), strictly.

    Unknown keys are errors, because a typo that silently does nothing is the worst kind of configuration bug.
    """
    import difflib  # only the sidecar's strict loading suggests names; the library does not pay for it

    table = dict(table or {})
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in table:
        if key not in fields:
            known = ", ".join(sorted(fields))
            close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.6)
            expected = f"a known key, did you mean {close[0]}? (keys: {known})" if close else f"one of the keys {known}"
            raise SettingError(_join(prefix, key), expected, None)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        env_name = f.metadata.get(ENV)
        if env_name and env.get(env_name, "") != "":
            key = env_name
            values[name] = _coerce_field(f, hints[name], env[env_name], env_name, True)
        elif name in table:
            key = _join(prefix, name)
            values[name] = _coerce_field(f, hints[name], table[name], key, False)
        else:
            continue
        if _is_endpoint(name):
            _check_url(values[name], key)
    return cls(**values)


def read_environment(
    cls: type[T], env: Mapping[str, str], on_error: Callable[[SettingError, Any], None]
) -> T:
    """Build ``cls`` from ``env`` alone, forgivingly: a bad value is passed to ``on_error`` with the
    default that replaces it, and the other settings keep their values. Never raises for a bad value."""
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, f in env_variables(cls):
        raw = env.get(name, "").strip()
        if not raw:
            continue
        try:
            values[f.name] = _coerce_field(f, hints[f.name], raw, name, True)
        except SettingError as exc:
            on_error(exc, field_default(f))
    return cls(**values)


def _is_endpoint(name: str) -> bool:
    return name == "endpoint" or name.endswith(("_endpoint", "_url"))


def _check_url(value: Any, key: str) -> None:
    """An endpoint without a scheme (``collector:4318``) would fail every export later: refuse it now."""
    if not isinstance(value, str) or not value.strip():
        return
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingError(key, "an http:// or https:// URL", value)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
