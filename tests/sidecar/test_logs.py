"""The sidecar's own log lines: the library's formatters (JSON keys, extras on top, capped length) and masking."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from sidecar import logs


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("noisy").setLevel(logging.NOTSET)


def test_json_lines_with_extras_and_a_length_cap() -> None:
    stream = io.StringIO()
    logs.configure("INFO,noisy=ERROR", "json", 1024, stream)
    log = logging.getLogger("ecs_otel.sidecar.test")
    log.info("hello %s", "world", extra={"exporter": "otlp", "dropped_items": 3})
    log.warning("x" * 5000)
    logging.getLogger("noisy").warning("hidden")
    log.debug("hidden too")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "hello world" and first["level"] == "INFO"
    assert first["logger"] == "ecs_otel.sidecar.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["timestamp"])
    assert (first["exporter"], first["dropped_items"]) == ("otlp", 3)
    assert len(lines[1]) < 1024 and second["truncated"] is True and second["level"] == "WARNING"


def test_text_format() -> None:
    stream = io.StringIO()
    logs.configure("DEBUG", "text", 1000, stream)
    logging.getLogger("t").info("plain", extra={"k": "v"})
    assert stream.getvalue().rstrip().endswith("INFO t: plain k=v")


def test_signing_material_is_masked_and_signing_loggers_stay_at_info() -> None:
    stream = io.StringIO()
    logs.configure("DEBUG", "json", 4096, stream, secrets=["my-literal-secret-value"])
    try:
        assert logging.getLogger("botocore.auth").getEffectiveLevel() == logging.INFO
        log = logging.getLogger("ecs_otel.sidecar.test")
        log.debug("headers=%s", {"X-Amz-Security-Token": b"FwoGZXIvYXdzEabcdefghijklmnopqrstuvwxyz0123",
                                 "Authorization": b"AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/x, Signature=ab12"})
        log.debug("CanonicalRequest:\nx-amz-security-token:sess-tok-1\nX-Amz-Signature=beef&X-Amz-Credential=AKIA%2F")
        log.debug("key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, sha 356a192b7913b04c54574d18c28d46e6395428ab")
        log.debug("oops", extra={"detail": "my-literal-secret-value"})
        log.debug("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ")
    finally:
        logging.getLogger("botocore.auth").setLevel(logging.NOTSET)
    text = stream.getvalue()
    for secret in ("FwoGZXIvYXdz", "ab12", "sess-tok-1", "beef", "AKIA%2F", "wJalrXUtnFEMI", "my-literal-secret",
                   "IQoJb3JpZ2lu", "AKIAEXAMPLE"):
        assert secret not in text, secret
    assert "356a192b7913b04c54574d18c28d46e6395428ab" in text  # a hex digest is not a secret key
    assert text.count("[REDACTED]") >= 6  # one per value (a whole Authorization header is one)


def test_naming_a_signing_logger_lets_it_log_at_debug() -> None:
    logs.configure("DEBUG,botocore=DEBUG", "json", 4096, io.StringIO(), secrets=[])
    try:
        assert logging.getLogger("botocore.auth").getEffectiveLevel() == logging.DEBUG
    finally:
        logging.getLogger("botocore").setLevel(logging.NOTSET)


def _raise_with_secrets(token: str) -> None:
    """What aiohttp did with a bad request: the raw header line, token included, in the exception."""
    raise ValueError(f"400, message: Invalid header value char: b'Authorization: Bearer {token}\\x01' (token {token})")


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_exception_message_and_traceback_are_masked_in_both_formats(fmt: str) -> None:
    """Issue 14: the JSON formatter re-formatted ``exc_info`` itself and printed the live receiver token;
    now the message, ``exception.message`` and the traceback go through the same masker in both formats."""
    token = "tok-" + "7f3a9c" * 4
    env_secret = "aws-secret-" + "b" * 24
    stream = io.StringIO()
    logs.configure("INFO", fmt, 16384, stream, secrets=[token, env_secret])
    log = logging.getLogger("ecs_otel.sidecar.test")
    try:
        _raise_with_secrets(token)
    except ValueError:
        log.exception("bad request from %s", "client", extra={"detail": f"key was {env_secret}"})
    try:
        raise RuntimeError(f"signing with {env_secret} failed")
    except RuntimeError as exc:
        log.error("upload failed", exc_info=exc)
    text = stream.getvalue()
    assert token not in text and env_secret not in text
    assert "Traceback (most recent call last)" in text and "_raise_with_secrets" in text  # the traceback is there
    assert text.count("[REDACTED]") >= 5
    if fmt == "json":
        first, second = (json.loads(line) for line in text.splitlines())
        assert first["exception.type"] == "ValueError" and "[REDACTED]" in first["exception.message"]
        assert "[REDACTED]" in first["exception.stacktrace"] and first["detail"] == "key was [REDACTED]"
        assert second["exception.message"] == "signing with [REDACTED] failed"


class FakeClock:
    """A clock the test moves by hand, so window boundaries never depend on timing."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_repeat_limiter_passes_n_per_window_then_summarises_and_counts() -> None:
    stream = io.StringIO()
    logs.configure("INFO", "json", 16384, stream, repeat_limit=3, repeat_interval_s=60)
    clock = FakeClock()
    logs.limiter.clock = clock
    log = logging.getLogger("ecs_otel.sidecar.test")
    for i in range(50):
        log.warning("client aborted request %d", i)  # one template, fifty messages: one kind
    log.warning("another kind")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [r["message"] for r in lines] == [
        "client aborted request 0", "client aborted request 1", "client aborted request 2", "another kind"]
    assert logs.limiter.suppressed_total == 47
    clock.now += 60  # the window closes: the next line of that kind brings the summary first
    log.warning("client aborted request %d", 50)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()][4:]
    assert lines[0]["level"] == "WARNING" and lines[0]["suppressed"] == 47
    assert lines[0]["message"].startswith("suppressed 47 similar log lines in 60 s (logger ecs_otel.sidecar.test")
    assert lines[1]["message"] == "client aborted request 50"
    for i in range(5):
        log.warning("client aborted request %d", i)
    logs.limiter.flush()  # at shutdown, the open window's count is summarised too
    last = json.loads(stream.getvalue().splitlines()[-1])
    assert last["suppressed"] == 3 and logs.limiter.suppressed_total == 50


def test_aiohttp_client_faults_become_one_warning_line_without_traceback() -> None:
    stream = io.StringIO()
    logs.configure("INFO", "json", 16384, stream)
    try:
        raise ConnectionResetError("Connection lost")
    except ConnectionResetError:
        logging.getLogger("aiohttp.server").exception("Error handling request from %s", "127.0.0.1")
    try:
        raise KeyError("our bug")
    except KeyError:
        logging.getLogger("aiohttp.server").exception("Error handling request from %s", "127.0.0.1")
    fault, bug = (json.loads(line) for line in stream.getvalue().splitlines())
    assert fault["level"] == "WARNING" and "exception.stacktrace" not in fault
    assert fault["message"] == ("Error handling request from 127.0.0.1 "
                                "(client fault: ConnectionResetError: Connection lost)")
    assert bug["level"] == "ERROR" and "KeyError" in bug["exception.stacktrace"]
