"""Declaring settings: a dataclass field per setting, with its env variable and help text.

Every settings dataclass in the sidecar is declared with :func:`setting`, so the loader can
validate TOML and environment values the same way, and the documentation's reference
(docs/reference/sidecar.md) is generated from the same declarations (a test fails when the two drift).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

ENV = "env"
HELP = "help"


def setting(default: Any, *, help: str, env: str | None = None) -> Any:
    """A dataclass field carrying its documentation and optional ``ECS_OTEL_*``/``OTEL_*`` variable."""
    meta = {HELP: help, ENV: env}
    if isinstance(default, list | dict | set):
        factory: Callable[[], Any] = functools.partial(type(default), default)
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)
