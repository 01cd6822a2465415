"""Structured JSON logging for ECS: one trace-correlated, redacted, size-capped JSON object per line.

Public API: :class:`JsonFormatter` (usable from ``dictConfig`` via ``"()"``), :func:`configure_logging`
(what ``ecs_otel.auto`` applies), :func:`retrofit_server_loggers`, :class:`TextFormatter`,
:class:`JsonStreamHandler`, :func:`parse_level_spec`.
"""

from ecs_otel.logging.fields import ECS, EXTRA_PREFIX, RESERVED_OUTPUT_KEYS, ecs_log_context
from ecs_otel.logging.formatter import DEFAULT_MAX_BYTES, MAX_MAX_BYTES, JsonFormatter
from ecs_otel.logging.handler import JsonStreamHandler
from ecs_otel.logging.levels import LevelSpec, parse_level_spec
from ecs_otel.logging.setup import (
    FORMAT_ENV,
    LEVEL_ENV,
    configure_logging,
    retrofit_server_loggers,
    running_on_ecs,
    unconfigure_logging,
)
from ecs_otel.logging.text import TextFormatter

__all__ = [
    "DEFAULT_MAX_BYTES",
    "ECS",
    "EXTRA_PREFIX",
    "FORMAT_ENV",
    "LEVEL_ENV",
    "MAX_MAX_BYTES",
    "RESERVED_OUTPUT_KEYS",
    "JsonFormatter",
    "JsonStreamHandler",
    "LevelSpec",
    "TextFormatter",
    "configure_logging",
    "ecs_log_context",
    "parse_level_spec",
    "retrofit_server_loggers",
    "running_on_ecs",
    "unconfigure_logging",
]
