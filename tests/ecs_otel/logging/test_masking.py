"""Issue 14: every formatter masks the message, its fields, the exception message and the traceback alike."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from ecs_otel.logging import JsonFormatter, TextFormatter, configure_logging, unconfigure_logging
from tests.ecs_otel.logging.support import strict_loads

SECRET = "hunter2-" + "9f" * 8


def _record(exc: BaseException | None = None, msg: str = "login for %s", args: tuple[object, ...] = ("bob",),
            **extra: object) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    record = logging.LogRecord("app", logging.ERROR, __file__, 1, msg, args, exc_info)
    record.__dict__.update(extra)
    return record


def _failing_login() -> BaseException:
    try:
        raise PermissionError(f"login failed: password={SECRET} at https://u:{SECRET}@db.example/x?token={SECRET}")
    except PermissionError as exc:
        return exc


def test_json_formatter_masks_exception_message_and_traceback() -> None:
    line = JsonFormatter().format(_record(_failing_login()))
    assert SECRET not in line
    doc = strict_loads(line)
    assert doc["exception.type"] == "PermissionError"
    assert doc["exception.message"] == (
        "login failed: password=[REDACTED] at https://REDACTED:REDACTED@db.example/x?token=REDACTED"
    )
    assert "_failing_login" in doc["exception.stacktrace"] and "[REDACTED]" in doc["exception.stacktrace"]


def test_json_formatter_masks_a_cached_exc_text_and_stack_info() -> None:
    """Another handler may have formatted the traceback first (``record.exc_text``): it is masked on the way
    out and left as it was on the record."""
    record = _record(_failing_login())
    record.exc_text = logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]
    record.stack_info = f"Stack (most recent call last):\n  token={SECRET}"
    line = JsonFormatter().format(record)
    assert SECRET not in line
    assert SECRET in record.exc_text


def test_json_formatter_masks_message_and_string_fields() -> None:
    record = _record(msg="calling %s", args=(f"Authorization: Bearer {SECRET}",),
                     detail=f"api_key={SECRET}", nested={"headers": [f"Cookie: sid={SECRET}"]})
    doc = strict_loads(JsonFormatter().format(record))
    assert SECRET not in repr(doc)
    assert doc["message"] == "calling Authorization: [REDACTED]"
    assert doc["detail"] == "api_key=[REDACTED]"


def test_json_formatter_masks_credential_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECS_OTEL_RECEIVER_TOKEN", SECRET)
    record = _record(msg="token is %s", args=(SECRET,))
    assert SECRET not in JsonFormatter().format(record)
    assert SECRET in JsonFormatter(redact=False).format(record)  # opting out is possible


def test_text_formatter_masks_the_same_way() -> None:
    record = _record(_failing_login(), msg="bad %s", args=(f"password={SECRET}",))
    text = TextFormatter().format(record)
    assert SECRET not in text
    assert "bad password=[REDACTED]" in text and "Traceback (most recent call last)" in text


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    unconfigure_logging()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_configure_logging_masks_exceptions_in_both_formats(fmt: str, restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging(fmt=fmt, stream=out, on_ecs=True)
    try:
        raise ValueError(f"secret_key={SECRET}")
    except ValueError:
        logging.getLogger("app").exception("failed with %s", f"token={SECRET}")
    text = out.getvalue()
    assert "failed with token=[REDACTED]" in text and SECRET not in text
    assert ("exception.stacktrace" in text) == (fmt == "json")


def test_otlp_log_export_is_masked() -> None:
    """OpenTelemetry's handler formats ``exc_info`` and copies ``extra=`` fields itself: the library's
    bridge masks what it built, body and attributes."""
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

    from ecs_otel.logging.otlp import masked_logging_handler

    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    handler = masked_logging_handler(provider)
    logger = logging.getLogger("otlp-masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise RuntimeError(f"connect failed password={SECRET}")
        except RuntimeError:
            logger.exception("as %s", f"Bearer {SECRET}", extra={"user.password": SECRET, "note": f"sig=x&code={SECRET}"})
    finally:
        logger.removeHandler(handler)
        provider.shutdown()
    (record,) = exporter.get_finished_logs()
    exported = repr(record.log_record.body) + repr(dict(record.log_record.attributes or {}))
    assert SECRET not in exported
    attributes = dict(record.log_record.attributes or {})
    assert attributes["user.password"] == "[REDACTED]"
    assert attributes["exception.message"] == "connect failed password=[REDACTED]"
    assert "[REDACTED]" in str(attributes["exception.stacktrace"])
    assert record.log_record.body == "as Bearer [REDACTED]"


def test_masking_never_raises_into_logging() -> None:
    """A surrogate or other odd text still gives a line (masking runs on every record)."""
    record = _record(msg="x\udcff password=%s", args=(SECRET,))
    line = JsonFormatter().format(record)
    assert SECRET not in line and strict_loads(line)["message"].startswith("x")


def test_otlp_log_bridge_raises_no_deprecation_warning() -> None:
    """opentelemetry-sdk 1.39+ deprecates its own ``LoggingHandler``: which handler the bridge builds on is
    the library's choice, so the user's app must not see a warning for it (on any supported SDK)."""
    import warnings

    from opentelemetry.sdk._logs import LoggerProvider

    from ecs_otel.logging.otlp import masked_logging_handler

    provider = LoggerProvider()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        handler = masked_logging_handler(provider)
    provider.shutdown()
    assert isinstance(handler, logging.Handler)
    assert [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)] == []
