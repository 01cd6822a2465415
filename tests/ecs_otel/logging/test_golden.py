"""Exact lines for each kind of record (fixed clock and span ids), through both encoders."""

from __future__ import annotations

import logging
import sys

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from ecs_otel.logging import JsonFormatter

from .support import FIXED_TS, record, strict_loads

TRACE_ID = 0x5759E988BD862E3FE1BE46A994272793
SPAN_ID = 0x53995C3F42CD8AD8
ECS = {
    "aws.ecs.cluster.arn": "arn:aws:ecs:us-west-2:111122223333:cluster/prod",
    "aws.ecs.task.arn": "arn:aws:ecs:us-west-2:111122223333:task/prod/0f2e7c1d9a8b4c3e",
    "aws.ecs.task.family": "checkout",
    "aws.ecs.task.revision": "42",
    "container.name": "app",
    "service.name": "ignored: dotted keys that are not ECS context are dropped",
}
STATIC = ',"service":"checkout","ecs":{"cluster":"prod","task_id":"0f2e7c1d9a8b4c3e","task_definition":"checkout:42","container":"app"}'
HEAD = '{"timestamp":"' + FIXED_TS + '"'


@pytest.fixture(params=["orjson", "stdlib"])
def fmt(request: pytest.FixtureRequest) -> JsonFormatter:
    return JsonFormatter(service="checkout", ecs_context=ECS, encoder=request.param)


def span(sampled: bool = True) -> NonRecordingSpan:
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    return NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=flags))


def test_plain_record(fmt: JsonFormatter) -> None:
    line = fmt.format(record("hello"))
    assert line == HEAD + ',"level":"INFO","logger":"app","message":"hello"' + STATIC + "}"


def test_percent_args_and_unicode_and_newlines(fmt: JsonFormatter) -> None:
    line = fmt.format(record("user %s said %s", "zoë", "a\nb\t\"c\"", level=logging.WARNING, name="app.db"))
    assert line == (
        HEAD + ',"level":"WARNING","logger":"app.db","message":"user zoë said a\\nb\\t\\"c\\""' + STATIC + "}"
    )


def test_inside_sampled_span(fmt: JsonFormatter) -> None:
    with trace.use_span(span()):
        line = fmt.format(record("in span"))
    assert line == (
        HEAD + ',"level":"INFO","logger":"app","message":"in span",'
        '"trace_id":"5759e988bd862e3fe1be46a994272793","span_id":"53995c3f42cd8ad8",'
        '"xray_trace_id":"1-5759e988-bd862e3fe1be46a994272793","trace_sampled":true' + STATIC + "}"
    )


def test_inside_unsampled_span_still_correlates(fmt: JsonFormatter) -> None:
    with trace.use_span(span(sampled=False)):
        obj = strict_loads(fmt.format(record("x")))
    assert obj["trace_id"] == "5759e988bd862e3fe1be46a994272793"
    assert obj["trace_sampled"] is False


def test_extras_at_top_level_with_collision_rule(fmt: JsonFormatter) -> None:
    extra = {"order_id": "o-1", "amount": 12.5, "count": 3, "ok": True, "none": None, "level": "mine",
             "service": "theirs", "trace_id": "not-a-span", "tags": ["a", 1]}  # fmt: skip
    line = fmt.format(record("order", extra=extra))
    assert line == (
        HEAD + ',"level":"INFO","logger":"app","message":"order","order_id":"o-1","amount":12.5,"count":3,'
        '"ok":true,"none":null,"extra.level":"mine","extra.service":"theirs","extra.trace_id":"not-a-span",'
        '"tags":["a",1]' + STATIC + "}"
    )


def test_redaction_in_extras(fmt: JsonFormatter) -> None:
    extra = {"password": "hunter2", "user": {"name": "ann", "API-Key": "k", "deep": [{"token": "t"}]},
             "url.full": "https://ann:pw@h/p?X-Amz-Signature=s&a=1", "gen_ai.usage.input_tokens": 7}  # fmt: skip
    line = fmt.format(record("login", extra=extra))
    assert line == (
        HEAD + ',"level":"INFO","logger":"app","message":"login","password":"[REDACTED]",'
        '"user":{"name":"ann","API-Key":"[REDACTED]","deep":[{"token":"[REDACTED]"}]},'
        '"url.full":"https://REDACTED:REDACTED@h/p?X-Amz-Signature=REDACTED&a=1","gen_ai.usage.input_tokens":7'
        + STATIC + "}"
    )


def test_exception(fmt: JsonFormatter) -> None:
    try:
        raise KeyError("missing")
    except KeyError:
        rec = record("failed", level=logging.ERROR, exc_info=sys.exc_info())
    obj = strict_loads(fmt.format(rec))
    assert list(obj)[:7] == ["timestamp", "level", "logger", "message", "exception.type", "exception.message",
                             "exception.stacktrace"]  # fmt: skip
    assert obj["exception.type"] == "KeyError"
    assert obj["exception.message"] == "'missing'"
    assert obj["exception.stacktrace"].startswith("Traceback (most recent call last):\n")
    assert obj["exception.stacktrace"].endswith("KeyError: 'missing'")


class BoomError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no str for you")


def test_exception_with_qualified_type_and_unprintable_message(fmt: JsonFormatter) -> None:
    try:
        raise BoomError()
    except BoomError:
        rec = record("failed", exc_info=sys.exc_info())
    obj = strict_loads(fmt.format(rec))
    assert obj["exception.type"] == f"{__name__}.BoomError"
    assert obj["exception.message"] == "BoomError()"
    assert "exception.stacktrace" in obj


def test_stack_info(fmt: JsonFormatter) -> None:
    line = fmt.format(record("where", sinfo="Stack (most recent call last):\n  File \"x.py\", line 1"))
    assert line == (
        HEAD + ',"level":"INFO","logger":"app","message":"where",'
        '"stack_info":"Stack (most recent call last):\\n  File \\"x.py\\", line 1"' + STATIC + "}"
    )


def test_unformattable_args_keep_the_record(fmt: JsonFormatter) -> None:
    obj = strict_loads(fmt.format(record("%d items", "many")))
    assert obj["message"].startswith("%d items [unformattable args ('many',)")


def test_non_string_message(fmt: JsonFormatter) -> None:
    obj = strict_loads(fmt.format(record({"a": 1})))
    assert obj["message"] == "{'a': 1}"


def test_static_fields_and_no_redaction_option() -> None:
    fmt = JsonFormatter(static_fields={"env": "prod", "region": "us-west-2"}, redact=False)
    line = fmt.format(record("x", extra={"password": "visible", "env": "clash"}))
    assert line == (
        HEAD + ',"level":"INFO","logger":"app","message":"x","password":"visible","extra.env":"clash",'
        '"env":"prod","region":"us-west-2"}'
    )
    with pytest.raises(ValueError, match="replace a key"):
        JsonFormatter(static_fields={"level": "x"})


def test_timestamp_is_utc_milliseconds_z_and_cached_prefix_updates() -> None:
    fmt = JsonFormatter()
    a = strict_loads(fmt.format(record("a", created=1767225600.999)))
    b = strict_loads(fmt.format(record("b", created=1767225601.0)))
    c = strict_loads(fmt.format(record("c", created=1767225601.5)))
    assert [a["timestamp"], b["timestamp"], c["timestamp"]] == [
        "2026-01-01T00:00:00.999Z",
        "2026-01-01T00:00:01.000Z",
        "2026-01-01T00:00:01.500Z",
    ]


def test_dict_config_with_factory() -> None:
    import io
    import logging.config

    stream = io.StringIO()
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "json": {
                    "()": "ecs_otel.logging.JsonFormatter",
                    "service": "dc",
                    "max_bytes": 4096,
                    "deny_list": ["pin"],
                }
            },
            "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "json", "stream": stream}},
            "loggers": {"dictcfg": {"handlers": ["out"], "level": "INFO", "propagate": False}},
        }
    )
    logger = logging.getLogger("dictcfg")
    try:
        logger.info("configured %d", 1, extra={"pin": "1234", "password": "not in custom list"})
    finally:
        logger.handlers.clear()
    obj = strict_loads(stream.getvalue().rstrip("\n"))
    assert obj["message"] == "configured 1"
    assert obj["service"] == "dc"
    assert obj["pin"] == "[REDACTED]"
    assert obj["password"] == "not in custom list"
