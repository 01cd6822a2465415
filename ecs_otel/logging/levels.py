"""``ECS_OTEL_LOG_LEVEL``: a root level and per-logger overrides in one string.

``INFO`` or ``INFO,botocore=WARNING,myapp.db=DEBUG``. Level names are Python's (case-insensitive,
``WARN``/``FATAL`` accepted, numbers too); an entry without ``=`` sets the root logger.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field


@dataclass(frozen=True)
class LevelSpec:
    root: int | None = None
    loggers: dict[str, int] = field(default_factory=dict)

    def apply(self) -> None:
        if self.root is not None:
            logging.getLogger().setLevel(self.root)
        for name, level in self.loggers.items():
            logging.getLogger(name).setLevel(level)


def parse_level(text: str) -> int:
    value = text.strip()
    if not value:
        raise ValueError("empty log level")
    if value.lstrip("-").isdigit():
        return int(value)
    level = logging.getLevelName(value.upper())
    if not isinstance(level, int):
        raise ValueError(f"unknown log level {text!r}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def parse_level_spec(spec: str) -> LevelSpec:
    """Parse ``"INFO,botocore=WARNING"``; raises ``ValueError`` naming the bad part."""
    root: int | None = None
    loggers: dict[str, int] = {}
    for raw in spec.split(","):
        part = raw.strip()
        if not part:
            continue
        name, eq, level = part.partition("=")
        if not eq:
            if root is not None:
                raise ValueError(f"log level spec {spec!r} sets the root level twice")
            root = parse_level(name)
            continue
        name = name.strip()
        if not name:
            raise ValueError(f"log level spec {spec!r}: missing logger name in {part!r}")
        loggers[name] = parse_level(level)
    return LevelSpec(root=root, loggers=loggers)
