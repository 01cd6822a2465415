"""Turning a TOML table plus environment variables into a settings dataclass, strictly.

Types come from the dataclass annotations: ``str``, ``int``, ``float``, ``bool``, ``list[str]``,
``dict[str, T]``, ``Literal[...]`` choices and ``X | None``; numbers within their declared bounds, never
``inf`` or ``nan``. Environment values win over the file. The coercion table is the library's
(:mod:`ecs_otel._setting`): the library parses the same way and differs only in its reaction (a warning and
the default, where the sidecar refuses to start, naming the key).
"""

from __future__ import annotations

from ecs_otel._setting import coerce, describe, load_settings

__all__ = ["coerce", "describe", "load_settings"]
