"""configure_logging: idempotence, levels from the environment, format defaults, retrofit of servers."""

from __future__ import annotations

import datetime
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from ecs_otel.logging import (
    JsonFormatter,
    JsonStreamHandler,
    TextFormatter,
    configure_logging,
    parse_level_spec,
    retrofit_server_loggers,
)
from tests.support.paths import REPO_ROOT

from .support import strict_loads

ROOT = REPO_ROOT
pytestmark = pytest.mark.usefixtures("clean_logging")


def ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if isinstance(h, JsonStreamHandler)]


def lines(stream: io.StringIO) -> list[dict]:
    return [strict_loads(line) for line in stream.getvalue().splitlines()]


def test_idempotent_second_call_reconfigures_instead_of_adding() -> None:
    s1, s2 = io.StringIO(), io.StringIO()
    configure_logging(fmt="json", stream=s1, service="one")
    configure_logging(fmt="json", stream=s2, service="two")
    assert len(ours()) == 1
    logging.getLogger("app").warning("once")
    assert s1.getvalue() == ""
    [obj] = lines(s2)
    assert obj["service"] == "two" and obj["message"] == "once"


def test_level_spec_parsing() -> None:
    spec = parse_level_spec("info, botocore=WARNING ,myapp.db=debug,x=15")
    assert spec.root == logging.INFO
    assert spec.loggers == {"botocore": logging.WARNING, "myapp.db": logging.DEBUG, "x": 15}
    for bad in ("LOUD", "INFO,=DEBUG", "INFO,WARNING", "a=nope"):
        with pytest.raises(ValueError):
            parse_level_spec(bad)


def test_levels_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECS_OTEL_LOG_LEVEL", "WARNING,app.db=DEBUG,botocore=ERROR")
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    assert logging.getLogger().level == logging.WARNING
    assert logging.getLogger("app.db").level == logging.DEBUG
    logging.getLogger("app").info("hidden")
    logging.getLogger("app.db").debug("shown")
    logging.getLogger("botocore").warning("hidden too")
    assert [o["message"] for o in lines(out)] == ["shown"]


def test_bad_environment_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECS_OTEL_LOG_LEVEL", "VERBOSE")
    monkeypatch.setenv("ECS_OTEL_LOG_FORMAT", "xml")
    monkeypatch.setenv("ECS_OTEL_LOG_MAX_BYTES", "10")
    out = io.StringIO()
    configure_logging(stream=out, on_ecs=True)
    messages = [o["message"] for o in lines(out)]
    assert any("ECS_OTEL_LOG_LEVEL" in m for m in messages)
    assert any("ECS_OTEL_LOG_FORMAT" in m for m in messages)
    assert any("ECS_OTEL_LOG_MAX_BYTES" in m for m in messages)
    with pytest.raises(ValueError):
        configure_logging(level="VERBOSE")
    with pytest.raises(ValueError):
        configure_logging(fmt="xml")


def test_default_root_level_info_only_when_app_had_no_handler() -> None:
    logging.getLogger().setLevel(logging.WARNING)
    configure_logging(fmt="json", stream=io.StringIO())
    assert logging.getLogger().level == logging.INFO


def test_app_levels_left_alone_when_app_configured_first() -> None:
    root = logging.getLogger()
    app_handler = logging.StreamHandler(io.StringIO())
    root.addHandler(app_handler)
    root.setLevel(logging.ERROR)
    configure_logging(fmt="json", stream=io.StringIO())
    assert root.level == logging.ERROR
    assert app_handler in root.handlers and len(ours()) == 1


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_format_defaults_inside_and_outside_ecs(monkeypatch: pytest.MonkeyPatch) -> None:
    def formatter() -> logging.Formatter:
        return ours()[0].formatter  # type: ignore[return-value]

    configure_logging(stream=Tty(), on_ecs=True)
    assert isinstance(formatter(), JsonFormatter)
    configure_logging(stream=Tty(), on_ecs=False)
    assert isinstance(formatter(), TextFormatter)
    configure_logging(stream=io.StringIO(), on_ecs=False)
    assert isinstance(formatter(), JsonFormatter)
    monkeypatch.setenv("ECS_OTEL_LOG_FORMAT", "text")
    configure_logging(stream=io.StringIO(), on_ecs=True)
    assert isinstance(formatter(), TextFormatter)
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", "http://169.254.170.2/v4/x")
    monkeypatch.delenv("ECS_OTEL_LOG_FORMAT")
    configure_logging(stream=Tty())
    assert isinstance(formatter(), JsonFormatter)


def test_text_format_is_utc_and_trace_correlated() -> None:
    out = io.StringIO()
    configure_logging(fmt="text", stream=out)
    ctx = SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=TraceFlags(1))
    with trace.use_span(NonRecordingSpan(ctx)):
        logging.getLogger("app").warning("hello")
    line = out.getvalue().strip()
    assert line.endswith("WARNING [app] hello trace_id=00000000000000000000000000000abc span_id=0000000000000def")
    assert line[10] == "T" and line[23] == "Z"


def test_retrofit_gunicorn_loggers() -> None:
    from gunicorn.config import Config
    from gunicorn.glogging import Logger as GunicornLogger

    cfg = Config()
    cfg.set("accesslog", "-")
    glog = GunicornLogger(cfg)  # installs stream handlers on gunicorn.error/access, propagate=False
    assert logging.getLogger("gunicorn.error").handlers
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    assert logging.getLogger("gunicorn.error").handlers == []
    assert logging.getLogger("gunicorn.error").propagate
    glog.error("worker %s died", 7)
    glog.info("booting")
    glog.access(GunicornResponse(), GunicornRequest(), GUNICORN_ENVIRON, datetime.timedelta(milliseconds=12))
    got = lines(out)
    assert [(o["logger"], o["message"]) for o in got[:2]] == [
        ("gunicorn.error", "worker 7 died"),
        ("gunicorn.error", "booting"),
    ]
    access = got[2]
    assert access["logger"] == "gunicorn.access"
    assert '"GET /pay?token=REDACTED&page=2 HTTP/1.1" 201' in access["message"]
    assert access["http.request.method"] == "GET"
    assert access["url.path"] == "/pay"
    assert access["url.query"] == "token=REDACTED&page=2"
    assert access["http.response.status_code"] == 201
    assert access["client.address"] == "10.0.0.9"
    assert access["network.protocol.version"] == "1.1"
    assert access["user_agent.original"] == "curl/8"
    assert access["http.server.request.duration"] == 0.012
    assert "hunter" not in out.getvalue()
    assert retrofit_server_loggers() == []  # nothing left to change: idempotent


class GunicornRequest:
    headers = [("USER-AGENT", "curl/8")]
    method = "GET"
    path = "/pay"
    query = "token=hunter2&page=2"
    uri = "/pay?token=hunter2&page=2"
    version = (1, 1)


class GunicornResponse:
    status = "201 Created"
    response_length = 2
    sent = 2
    headers: list[tuple[str, str]] = []


GUNICORN_ENVIRON = {
    "REMOTE_ADDR": "10.0.0.9",
    "RAW_URI": "/pay?token=hunter2&page=2",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "QUERY_STRING": "token=hunter2&page=2",
    "PATH_INFO": "/pay",
    "REQUEST_METHOD": "GET",
}


def test_dict_config_after_configure_is_retrofitted() -> None:
    import logging.config

    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    from uvicorn.config import LOGGING_CONFIG

    logging.config.dictConfig(LOGGING_CONFIG)  # what uvicorn.Config does when started from a script
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 1)
    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d', "1.2.3.4:5", "POST", "/s3?X-Amz-Signature=abc&x=1", "1.1", 503
    )
    objs = lines(out)
    assert [(o["logger"], o["message"]) for o in objs] == [
        ("uvicorn.error", "Started server process [1]"),
        ("uvicorn.access", '1.2.3.4:5 - "POST /s3?X-Amz-Signature=REDACTED&x=1 HTTP/1.1" 503'),
    ]
    access = objs[1]
    assert (access["client.address"], access["client.port"]) == ("1.2.3.4", 5)
    assert (access["http.request.method"], access["url.path"]) == ("POST", "/s3")
    assert access["url.query"] == "X-Amz-Signature=REDACTED&x=1"
    assert access["http.response.status_code"] == 503
    assert "color_message" not in out.getvalue()


NEVER_CONFIGURED_APP = textwrap.dedent(
    """
    import logging, warnings
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    # What an OTLP logs set-up does: a LoggingHandler on the root. Alone, it hides warnings from stdout.
    logging.getLogger().addHandler(LoggingHandler(logger_provider=LoggerProvider()))
    from ecs_otel.logging import configure_logging
    configure_logging(service="plain-app", on_ecs=True)
    configure_logging(service="plain-app", on_ecs=True)  # twice: still one line per record
    logging.getLogger("app").warning("disk at %d%%", 91)
    logging.getLogger("app").info("info shows too")
    warnings.warn("old api", DeprecationWarning, stacklevel=1)
    """
)


def test_app_that_never_configured_logging_shows_warnings_as_json() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ECS_OTEL_", "OTEL_"))}
    proc = subprocess.run(
        [sys.executable, "-c", NEVER_CONFIGURED_APP], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    objs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(o["level"], o["message"]) for o in objs[:2]] == [("WARNING", "disk at 91%"), ("INFO", "info shows too")]
    assert all(o["service"] == "plain-app" for o in objs)
    assert objs[2]["logger"] == "py.warnings" and "old api" in objs[2]["message"]
    assert len(objs) == 3
    assert "disk at" not in proc.stderr and "old api" not in proc.stderr


def test_handler_writes_utf8_even_to_a_non_utf8_stream() -> None:
    raw = io.BytesIO()
    ascii_stream = io.TextIOWrapper(raw, encoding="ascii", write_through=True)
    configure_logging(fmt="json", stream=ascii_stream)
    logging.getLogger("app").warning("zoë ☃ %s", "😀")
    ascii_stream.flush()
    [line] = raw.getvalue().splitlines()
    assert strict_loads(line)["message"] == "zoë ☃ 😀"


def test_library_fallback_stderr_handler_is_replaced_not_duplicated() -> None:
    root = logging.getLogger()
    fallback = logging.StreamHandler(io.StringIO())
    fallback._ecs_otel = True  # type: ignore[attr-defined]  # how ecs_otel._setup marks its own
    root.addHandler(fallback)
    root.setLevel(logging.WARNING)
    out = io.StringIO()
    configure_logging(fmt="json", stream=out)
    assert fallback not in root.handlers
    assert root.level == logging.INFO  # the fallback was not the application's configuration
    logging.getLogger("app").warning("once")
    assert fallback.stream.getvalue() == ""
    assert [o["message"] for o in lines(out)] == ["once"]


def test_retrofit_keeps_handlers_that_do_not_write_to_stdout_or_stderr(tmp_path: Path) -> None:
    access = logging.getLogger("uvicorn.access")
    to_file = logging.FileHandler(tmp_path / "access.log")
    to_other = logging.StreamHandler(io.StringIO())
    to_stderr = logging.StreamHandler(sys.stderr)
    access.handlers[:] = [to_file, to_other, to_stderr]
    access.propagate = False
    try:
        configure_logging(fmt="json", stream=io.StringIO())
        assert access.handlers == [to_file, to_other]
        assert access.propagate
    finally:
        to_file.close()
