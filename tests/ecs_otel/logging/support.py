"""Helpers shared by the logging tests: deterministic records and a strict JSON parser."""

from __future__ import annotations

import json
import logging
from typing import Any

FIXED_CREATED = 1767225600.123456  # 2026-01-01T00:00:00.123Z
FIXED_TS = "2026-01-01T00:00:00.123Z"


def record(
    msg: object = "hello",
    *args: object,
    name: str = "app",
    level: int = logging.INFO,
    extra: dict[str, Any] | None = None,
    exc_info: Any = None,
    sinfo: str | None = None,
    created: float = FIXED_CREATED,
) -> logging.LogRecord:
    rec = logging.getLogger(name).makeRecord(
        name, level, "/src/app.py", 10, msg, args, exc_info, func="handler", extra=extra, sinfo=sinfo
    )
    rec.created = created
    rec.msecs = (created - int(created)) * 1000
    return rec


def _no_constants(token: str) -> Any:
    raise ValueError(f"bare {token} is not JSON")


def strict_loads(line: str | bytes) -> dict[str, Any]:
    """``json.loads`` that refuses NaN/Infinity and anything but one object on one line."""
    text = line.decode("utf-8") if isinstance(line, bytes) else line
    assert "\n" not in text, "a record must be one line"
    obj = json.loads(text, parse_constant=_no_constants)
    assert isinstance(obj, dict)
    return obj
