"""The names that appear in a JSON log line, and which ``LogRecord`` attributes are not ``extra=`` fields."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

TIMESTAMP = "timestamp"
LEVEL = "level"
LOGGER = "logger"
MESSAGE = "message"
TRACE_ID = "trace_id"
SPAN_ID = "span_id"
XRAY_TRACE_ID = "xray_trace_id"
TRACE_SAMPLED = "trace_sampled"
SERVICE = "service"
ECS = "ecs"
"""The one key under which the ECS context (cluster, task id, task definition, container) is written."""
EXCEPTION_TYPE = "exception.type"
EXCEPTION_MESSAGE = "exception.message"
EXCEPTION_STACKTRACE = "exception.stacktrace"
STACK_INFO = "stack_info"
TRUNCATED = "truncated"

EXTRA_PREFIX = "extra."
"""Collision rule: an ``extra=`` key equal to a key the formatter writes itself is written as ``extra.<key>``."""

RESERVED_OUTPUT_KEYS: frozenset[str] = frozenset(
    {
        TIMESTAMP,
        LEVEL,
        LOGGER,
        MESSAGE,
        TRACE_ID,
        SPAN_ID,
        XRAY_TRACE_ID,
        TRACE_SAMPLED,
        SERVICE,
        ECS,
        EXCEPTION_TYPE,
        EXCEPTION_MESSAGE,
        EXCEPTION_STACKTRACE,
        STACK_INFO,
        TRUNCATED,
    }
)

_PLAIN_RECORD = logging.LogRecord("x", logging.INFO, "x", 1, "x", None, None)

RECORD_ATTRIBUTES: frozenset[str] = frozenset(_PLAIN_RECORD.__dict__) | {
    # set by Formatter.format() of another handler that saw the record first
    "message",
    "asctime",
    # Python 3.12+
    "taskName",
    # opentelemetry-instrumentation-logging's record factory (we write our own correlation fields)
    "otelSpanID",
    "otelTraceID",
    "otelTraceSampled",
    "otelServiceName",
    # uvicorn passes a copy of each message with ANSI colours
    "color_message",
}
"""``LogRecord`` attributes that are never copied as ``extra=`` fields."""

PLAIN_RECORD_SIZE = len(_PLAIN_RECORD.__dict__)
"""How many attributes a record without ``extra=`` has; a larger ``__dict__`` means there may be extras."""

# ECS context: the keys written under "ecs", and the resource-attribute names they may be given as.
ECS_CLUSTER = "cluster"
ECS_TASK_ID = "task_id"
ECS_TASK_DEFINITION = "task_definition"
ECS_CONTAINER = "container"


def _last(value: str, sep: str) -> str:
    return value.rsplit(sep, 1)[-1]


def ecs_log_context(context: Mapping[str, Any] | None) -> dict[str, Any]:
    """The object written under ``"ecs"``: ``cluster`` (name), ``task_id``, ``task_definition``
    (``family:revision``) and ``container`` (name).

    Accepts those keys directly or OpenTelemetry resource attributes (``aws.ecs.cluster.arn``,
    ``aws.ecs.task.arn``/``aws.ecs.task.id``, ``aws.ecs.task.family`` + ``aws.ecs.task.revision``,
    ``container.name``), so a detected resource can be passed as is. Other dotted keys are ignored;
    other plain keys (``launch_type``, ``az``...) are kept.
    """
    if not context:
        return {}
    out: dict[str, Any] = {}
    cluster = context.get(ECS_CLUSTER) or context.get("aws.ecs.cluster.name") or context.get("aws.ecs.cluster.arn")
    if cluster:
        out[ECS_CLUSTER] = _last(str(cluster), "/")
    task_id = context.get(ECS_TASK_ID) or context.get("aws.ecs.task.id") or context.get("aws.ecs.task.arn")
    if task_id:
        out[ECS_TASK_ID] = _last(str(task_id), "/")
    taskdef = context.get(ECS_TASK_DEFINITION)
    if not taskdef and context.get("aws.ecs.task.family"):
        family = str(context["aws.ecs.task.family"])
        revision = context.get("aws.ecs.task.revision")
        taskdef = f"{family}:{revision}" if revision not in (None, "") else family
    if taskdef:
        out[ECS_TASK_DEFINITION] = str(taskdef)
    container = context.get(ECS_CONTAINER) or context.get("container.name")
    if container:
        out[ECS_CONTAINER] = str(container)
    for key, value in context.items():
        if isinstance(key, str) and "." not in key and key not in out and value not in (None, ""):
            out[key] = value
    return out
