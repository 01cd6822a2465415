"""The size cap: every line fits ``max_bytes`` (newline included), is still valid JSON and says so."""

from __future__ import annotations

import sys

import pytest

from ecs_otel.logging import JsonFormatter
from ecs_otel.logging.formatter import DEFAULT_MAX_BYTES, max_bytes_from_env

from .support import record, strict_loads


def fits(fmt: JsonFormatter, line: str) -> dict:
    assert len(line.encode("utf-8")) + 1 <= fmt.max_bytes
    return strict_loads(line)


@pytest.mark.parametrize("encoder", ["orjson", "stdlib"])
def test_long_message_is_cut_and_marked(encoder: str) -> None:
    fmt = JsonFormatter(service="svc", encoder=encoder)
    obj = fits(fmt, fmt.format(record("x" * 100_000)))
    assert obj["truncated"] is True
    assert obj["message"].startswith("xxxx") and obj["message"].endswith("…")
    assert len(obj["message"]) > DEFAULT_MAX_BYTES - 400  # most of the budget went to the message
    assert obj["service"] == "svc"
    assert fmt.truncated_records == 1


def test_escape_heavy_and_multibyte_content_still_fits() -> None:
    fmt = JsonFormatter(max_bytes=2048)
    for text in ("\x00" * 5000, "😀" * 5000, '"\\' * 5000, "é\n" * 5000):
        obj = fits(fmt, fmt.format(record(text)))
        assert obj["truncated"] is True
        assert obj["message"]


def test_largest_extra_is_cut_first_and_small_fields_survive() -> None:
    fmt = JsonFormatter(max_bytes=4096)
    obj = fits(fmt, fmt.format(record("keep me", extra={"blob": "b" * 50_000, "small": 1, "nested": {"k": "v"}})))
    assert obj["message"] == "keep me"
    assert obj["small"] == 1 and obj["nested"] == {"k": "v"}
    assert obj["blob"].startswith("bbb") and obj["truncated"] is True


def test_big_nested_extra_becomes_cut_json_text() -> None:
    fmt = JsonFormatter(max_bytes=2048)
    obj = fits(fmt, fmt.format(record("m", extra={"rows": [{"id": i, "name": "n" * 20} for i in range(500)]})))
    assert isinstance(obj["rows"], str) and obj["rows"].startswith('[{"id":0')
    assert obj["truncated"] is True


def test_long_stack_trace_keeps_its_tail() -> None:
    def ping(n: int) -> None:
        if n == 0:
            raise RuntimeError("at the bottom")
        pong(n - 1)

    def pong(n: int) -> None:
        ping(n)

    try:
        ping(200)
    except RuntimeError:
        rec = record("failed", exc_info=sys.exc_info())
    fmt = JsonFormatter(max_bytes=4096)
    obj = fits(fmt, fmt.format(rec))
    assert obj["truncated"] is True
    assert obj["exception.stacktrace"].startswith("…")
    assert obj["exception.stacktrace"].endswith("RuntimeError: at the bottom")
    assert obj["exception.type"] == "RuntimeError"


def test_many_fields_fall_back_to_minimal_record() -> None:
    fmt = JsonFormatter(max_bytes=1024)
    extra = {f"k{i:04d}": i for i in range(2000)}
    obj = fits(fmt, fmt.format(record("many", extra=extra)))
    assert obj["truncated"] is True
    assert obj["message"] == "many"
    assert {"timestamp", "level", "logger"} <= set(obj)


def test_max_bytes_bounds_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in (0, 1023, 1024 * 1024 + 1):
        with pytest.raises(ValueError, match="between"):
            JsonFormatter(max_bytes=bad)
    assert JsonFormatter(max_bytes=1024 * 1024).max_bytes == 1024 * 1024
    monkeypatch.setenv("ECS_OTEL_LOG_MAX_BYTES", "65536")
    assert max_bytes_from_env() == 65536
    assert JsonFormatter().max_bytes == 65536
    monkeypatch.setenv("ECS_OTEL_LOG_MAX_BYTES", "lots")
    with pytest.raises(ValueError, match="ECS_OTEL_LOG_MAX_BYTES"):
        max_bytes_from_env()
    monkeypatch.delenv("ECS_OTEL_LOG_MAX_BYTES")
    assert JsonFormatter().max_bytes == DEFAULT_MAX_BYTES


def test_oversized_static_fields_are_refused() -> None:
    with pytest.raises(ValueError, match="static fields"):
        JsonFormatter(max_bytes=1024, static_fields={"big": "x" * 800})


@pytest.mark.parametrize("encoder", ["orjson", "stdlib"])
def test_a_record_that_breaks_the_formatter_is_still_emitted(encoder: str) -> None:
    fmt = JsonFormatter(service="svc", encoder=encoder, max_bytes=1024)
    rec = record("\x00" * 5000)
    rec.created = "not a number"  # type: ignore[assignment]
    obj = fits(fmt, fmt.format(rec))
    assert obj["formatter_error"].startswith("ValueError")
    assert obj["logger"] == "app" and obj["level"] == "INFO" and obj["service"] == "svc"
    assert fmt.format_errors == 1
