"""``configure_logging``: JSON lines on stdout for the whole process, applied once by ``ecs_otel.auto``.

Decisions (documented in docs/getting-started.md):

* The handler goes on the *root* logger, so an application that never configured logging still shows its
  warnings, as JSON lines. (Python's "last resort" stderr handler is only used while the root has no
  handler at all; an OTLP ``LoggingHandler`` alone on the root would swallow them.)
* Format: ``json`` inside ECS; outside ECS ``text`` when the stream is a terminal and ``json`` otherwise
  (pipes, ``docker compose``, CI), so local runs stay readable and anything machine-read stays parseable.
* Level: ``ECS_OTEL_LOG_LEVEL`` when set. Otherwise, if the application had configured no root handler
  (OpenTelemetry's OTLP ``LoggingHandler`` does not count) and left the root at its ``WARNING`` default, the
  root level becomes ``INFO`` (because after our handler exists ``logging.basicConfig(level=…)`` is a no-op);
  if it had, its levels are left alone.
* Idempotent: a second call reconfigures the handler it installed instead of adding another.
* Server loggers (uvicorn, gunicorn, hypercorn) that install their own stream handlers and stop propagation
  are retrofitted: their stream handlers are removed and propagation restored, so each of their lines is
  written once, as JSON, by the root handler. Because uvicorn may configure its loggers *after* us
  (``uvicorn.run()`` from a script), ``logging.config.dictConfig`` is wrapped to re-apply the retrofit after
  it runs; pass ``retrofit_servers=False`` to opt out of both.
"""

from __future__ import annotations

import logging
import logging.config
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

from ecs_otel import environment_variables as V
from ecs_otel._setting import SettingError
from ecs_otel.logging.formatter import (
    DEFAULT_MAX_BYTES,
    JsonFormatter,
    max_bytes_from_env,
    validate_max_bytes,
)
from ecs_otel.logging.handler import JsonStreamHandler
from ecs_otel.logging.levels import LevelSpec, parse_level, parse_level_spec
from ecs_otel.logging.text import TextFormatter
from ecs_otel.metadata.client import on_ecs
from ecs_otel.redaction import KeyRedactor, TextMasker
from ecs_otel.settings import parse_variable

LEVEL_ENV = V.ECS_OTEL_LOG_LEVEL
FORMAT_ENV = V.ECS_OTEL_LOG_FORMAT
FORMATS = ("json", "text")
SERVER_LOGGERS: tuple[str, ...] = (
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "gunicorn",
    "gunicorn.error",
    "gunicorn.access",
    "hypercorn.error",
    "hypercorn.access",
)

_lock = threading.RLock()
_state: dict[str, Any] = {"retrofit": False, "wrapped": None}
_log = logging.getLogger("ecs_otel.logging")


def running_on_ecs() -> bool:
    """The logging defaults' "on ECS?" (JSON on stdout there): the same answer as :func:`ecs_otel.metadata.on_ecs`."""
    return on_ecs(os.environ)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except Exception:
        return False


def default_format(on_ecs: bool, stream: Any) -> str:
    if on_ecs:
        return "json"
    return "text" if _isatty(stream) else "json"


def _our_handler(root: logging.Logger) -> JsonStreamHandler | None:
    for handler in root.handlers:
        if getattr(handler, "ecs_otel_managed", False):
            return handler  # type: ignore[return-value]
    return None


def _infrastructure(handler: logging.Handler) -> bool:
    """Handlers that are not the application's choice of output (OTLP export, the library's own, pytest's)."""
    if getattr(handler, "_ecs_otel", False):
        return True
    module = type(handler).__module__
    return module.startswith(("opentelemetry.", "_pytest."))


def _superseded_fallback(handler: logging.Handler) -> bool:
    """The library's last-resort stderr handler (``ecs_otel._setup``): ours replaces it."""
    return (
        getattr(handler, "_ecs_otel", False)
        and not getattr(handler, "ecs_otel_managed", False)
        and type(handler) is logging.StreamHandler
    )


def configure_logging(
    level: str | None = None,
    fmt: str | None = None,
    stream: IO[str] | None = None,
    service: str | None = None,
    ecs_context: Mapping[str, Any] | None = None,
    *,
    on_ecs: bool | None = None,
    max_bytes: int | None = None,
    redact: bool = True,
    deny_list: Iterable[str] | None = None,
    static_fields: Mapping[str, Any] | None = None,
    retrofit_servers: bool = True,
    capture_warnings: bool | None = None,
) -> None:
    """Install (or update) the process-wide stdout log handler. Safe to call more than once.

    ``level``: a level spec like ``ECS_OTEL_LOG_LEVEL`` (``"INFO,botocore=WARNING"``); ``fmt``: ``"json"`` or
    ``"text"``; ``stream``: default ``sys.stdout``; ``service``/``ecs_context``/``static_fields``/
    ``redact``/``deny_list``/``max_bytes``: passed to :class:`JsonFormatter`; ``on_ecs``: default detected
    from the environment; ``capture_warnings``: route ``warnings.warn`` through logging (default: on for
    JSON, so no multi-line text lands between JSON lines).

    Explicit arguments that are invalid raise ``ValueError``; invalid environment values are reported once
    as a warning record and replaced by the defaults, so a typo in a task definition cannot stop the app.
    """
    problems: list[str] = []
    spec = _level_spec(level, problems)
    env_fmt = os.environ.get(FORMAT_ENV, "").strip()
    if fmt is not None:
        chosen = fmt.strip().lower()
        if chosen not in FORMATS:
            raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    elif env_fmt:
        try:
            chosen = parse_variable(FORMAT_ENV, env_fmt)
        except SettingError:
            problems.append(f"{FORMAT_ENV}={env_fmt.lower()!r} is not one of {FORMATS}; using the default")
            chosen = ""
    else:
        chosen = ""
    if max_bytes is not None:
        validate_max_bytes(max_bytes)
    else:
        try:
            max_bytes = max_bytes_from_env()
        except ValueError as exc:
            problems.append(f"{exc}; using the default")
            max_bytes = DEFAULT_MAX_BYTES

    with _lock:
        root = logging.getLogger()
        out = stream if stream is not None else sys.stdout
        if not chosen:
            chosen = default_format(running_on_ecs() if on_ecs is None else on_ecs, out)
        formatter: logging.Formatter
        # One masker, whichever the format: the same rules for the line, its fields and its traceback.
        masker = TextMasker(KeyRedactor(deny_list)) if redact else None
        if chosen == "json":
            formatter = JsonFormatter(
                service=service,
                ecs_context=ecs_context,
                static_fields=static_fields,
                redact=redact,
                masker=masker,
                max_bytes=max_bytes,
            )
        else:
            formatter = TextFormatter(redact=redact, masker=masker)
        for old in [h for h in root.handlers if _superseded_fallback(h)]:
            root.removeHandler(old)
        handler = _our_handler(root)
        had_app_handlers = any(h is not handler and not _infrastructure(h) for h in root.handlers)
        if handler is None:
            handler = JsonStreamHandler(out)
            root.addHandler(handler)
        elif handler.stream is not out:
            handler.setStream(out)
        handler.setFormatter(formatter)

        if spec is not None:
            spec.apply()
        elif not had_app_handlers and root.level in (logging.WARNING, logging.NOTSET):
            root.setLevel(logging.INFO)

        if capture_warnings if capture_warnings is not None else chosen == "json":
            logging.captureWarnings(True)
        if retrofit_servers:
            _state["retrofit"] = True
            _wrap_dict_config()
            retrofit_server_loggers()
        else:
            _state["retrofit"] = False
    for problem in problems:
        _log.warning("ecs_otel logging: %s", problem)


def _level_spec(level: str | None, problems: list[str]) -> LevelSpec | None:
    if level is not None:
        return parse_level_spec(level)
    raw = os.environ.get(LEVEL_ENV, "").strip()
    if not raw:
        return None
    try:
        return parse_level_spec(raw)
    except ValueError as exc:
        problems.append(f"{LEVEL_ENV}: {exc}; levels left unchanged")
        return None


def retrofit_server_loggers(names: Iterable[str] = SERVER_LOGGERS) -> list[str]:
    """Make server loggers write through the root handler: drop their stdout/stderr stream handlers and
    restore propagation. Only loggers that already exist are touched; returns the names changed."""
    changed: list[str] = []
    root = logging.getLogger()
    if _our_handler(root) is None:
        return changed
    existing = logging.Logger.manager.loggerDict
    for name in names:
        logger = existing.get(name)
        if not isinstance(logger, logging.Logger):
            continue
        std = (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)
        streams = [
            h
            for h in logger.handlers
            if isinstance(h, logging.StreamHandler)
            and not isinstance(h, logging.FileHandler)
            and getattr(h, "stream", None) in std
        ]
        for h in streams:
            logger.removeHandler(h)
        if streams or not logger.propagate:
            logger.propagate = True
            changed.append(name)
    return changed


def _wrap_dict_config() -> None:
    if _state["wrapped"] is not None:
        return
    original: Callable[[dict[str, Any]], None] = logging.config.dictConfig

    def dictConfig(config: dict[str, Any]) -> None:
        original(config)
        if _state["retrofit"]:
            try:
                retrofit_server_loggers()
            except Exception:  # never fail the application's own logging set-up
                pass

    dictConfig.__wrapped__ = original  # type: ignore[attr-defined]
    dictConfig.__doc__ = original.__doc__
    _state["wrapped"] = original
    logging.config.dictConfig = dictConfig  # type: ignore[assignment]


def unconfigure_logging() -> None:
    """Remove the handler ``configure_logging`` installed and undo the ``dictConfig`` wrapper."""
    with _lock:
        root = logging.getLogger()
        handler = _our_handler(root)
        if handler is not None:
            root.removeHandler(handler)
        original = _state["wrapped"]
        if original is not None:
            logging.config.dictConfig = original
            _state["wrapped"] = None
        _state["retrofit"] = False
        logging.captureWarnings(False)


__all__ = [
    "FORMAT_ENV",
    "LEVEL_ENV",
    "SERVER_LOGGERS",
    "configure_logging",
    "default_format",
    "parse_level",
    "retrofit_server_loggers",
    "running_on_ecs",
    "unconfigure_logging",
]
