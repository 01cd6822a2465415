"""The sidecar's own logs: set-up only. Formatting and masking are the library's (:mod:`ecs_otel.logging`).

One handler on stderr with :class:`ecs_otel.logging.JsonFormatter` (or its ``TextFormatter``), so the
sidecar's lines have the app's keys (``timestamp``, ``level``, ``logger``, ``message``, ``extra=`` fields on
top, ``exception.*``) and go through the same :class:`~ecs_otel.redaction.TextMasker` as the app's: the
message, every string field, the exception message and the traceback. The sidecar's masker also knows the
secrets in its own environment (:data:`~ecs_otel.redaction.SECRET_ENV_VARS`) and the shapes of AWS secret
keys and session tokens, because botocore prints signing material at DEBUG.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from ecs_otel.logging import JsonFormatter, JsonStreamHandler, TextFormatter, parse_level_spec
from ecs_otel.redaction import SECRET_ENV_VARS, KeyRedactor, TextMasker, env_secrets

ROOT_LOGGER = "ecs_otel.sidecar"

#: Loggers that print request headers, signing material or credentials at DEBUG (botocore's
#: CanonicalRequest carries x-amz-security-token verbatim). They stay at INFO even when the level
#: is DEBUG, unless ``ECS_OTEL_LOG_LEVEL`` names them, or a parent of theirs, explicitly.
SENSITIVE_LOGGERS = (
    "botocore.auth",
    "botocore.endpoint",
    "botocore.credentials",
    "botocore.parsers",
    "botocore.httpsession",
    "urllib3.connectionpool",
    "aiohttp.client",
)

#: Exceptions that reach aiohttp's server logger because a *client* misbehaved (hung up mid-request, sent
#: something that is not HTTP): a warning without a traceback, not an ERROR (a traceback is for our bugs).
CLIENT_FAULTS: tuple[type[BaseException], ...] = (ConnectionError, EOFError, TimeoutError)

__all__ = ["CLIENT_FAULTS", "ROOT_LOGGER", "SECRET_ENV_VARS", "SENSITIVE_LOGGERS", "RepeatLimiter", "configure",
           "limiter", "masker"]


class RepeatLimiter(logging.Filter):
    """Lets at most ``limit`` records of one kind through per ``interval_s``; counts the rest.

    A kind is logger + level + message *template* (``record.msg`` before ``%`` formatting), so a
    flood of "aborted request from %s" lines with a thousand addresses is one kind. When a kind's
    window closes with suppressed records, one WARNING summary says how many ("suppressed K similar
    log lines"), and :attr:`suppressed_total` (the ``ecs_otel_sidecar_log_lines_suppressed_total``
    self-metric) counts every one, so a client-made flood costs bounded log volume, never silence.

    It also demotes client faults that aiohttp's server logger reports as ``ERROR`` with a traceback
    (see :data:`CLIENT_FAULTS`) to a one-line WARNING: the traceback would point at aiohttp, not at a bug.
    """

    SUMMARY = "suppressed %d similar log lines in %.0f s (logger %s, level %s): %s"

    def __init__(self, limit: int = 10, interval_s: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 max_kinds: int = 1024) -> None:
        super().__init__()
        self.limit = limit
        self.interval_s = interval_s
        self.clock = clock
        self.max_kinds = max_kinds
        #: Records dropped so far, over the process's life.
        self.suppressed_total = 0
        #: kind -> [window start, records seen in the window, suppressed in the window]
        self._windows: dict[tuple[str, int, str], list[float]] = {}
        self._lock = threading.Lock()
        self._emit: Callable[[logging.LogRecord], object] | None = None

    def attach(self, handler: logging.Handler) -> None:
        """Filter ``handler``'s records; summaries go out through the same handler."""
        handler.addFilter(self)
        self._emit = handler.handle

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_repeat_summary", False):
            return True
        _demote_client_fault(record)
        now = self.clock()
        key = (record.name, record.levelno, str(record.msg))
        due: list[tuple[tuple[str, int, str], int]] = []
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now - window[0] >= self.interval_s:
                if window[2]:
                    due.append((key, int(window[2])))
                window = None
            if window is None:
                if len(self._windows) >= self.max_kinds:
                    due.extend(self._expire(now))
                window = self._windows[key] = [now, 0, 0]
            window[1] += 1
            allowed = window[1] <= self.limit
            if not allowed:
                window[2] += 1
                self.suppressed_total += 1
        for kind, count in due:
            self._summary(kind, count)
        return allowed

    def flush(self) -> None:
        """Summarise every window that still holds suppressed records (at shutdown)."""
        with self._lock:
            due = [(k, int(w[2])) for k, w in self._windows.items() if w[2]]
            self._windows.clear()
        for kind, count in due:
            self._summary(kind, count)

    def _expire(self, now: float) -> list[tuple[tuple[str, int, str], int]]:
        """Forget closed windows (returning those to summarise); if none closed, the oldest kind goes."""
        closed = [k for k, w in self._windows.items() if now - w[0] >= self.interval_s]
        if not closed:
            closed = [min(self._windows, key=lambda k: self._windows[k][0])]
        due = [(k, int(self._windows[k][2])) for k in closed if self._windows[k][2]]
        for k in closed:
            del self._windows[k]
        return due

    def _summary(self, kind: tuple[str, int, str], count: int) -> None:
        if self._emit is None:
            return
        name, level, template = kind
        record = logging.LogRecord(ROOT_LOGGER, logging.WARNING, __file__, 0, self.SUMMARY,
                                   (count, self.interval_s, name, logging.getLevelName(level), template), None)
        record._repeat_summary = True
        record.suppressed = count
        self._emit(record)


def _demote_client_fault(record: logging.LogRecord) -> None:
    """aiohttp logs a peer that hung up mid-request as ERROR + traceback: make it one WARNING line."""
    if not record.name.startswith("aiohttp.") or record.levelno < logging.ERROR or not record.exc_info:
        return
    exc = record.exc_info[1]
    if not isinstance(exc, CLIENT_FAULTS):
        return
    record.levelno, record.levelname = logging.WARNING, "WARNING"
    record.msg = f"{record.msg} (client fault: %s: %s)"
    record.args = (*(record.args if isinstance(record.args, tuple) else ()), type(exc).__name__, exc)
    record.exc_info, record.exc_text = None, None


#: The one limiter of the sidecar's handler (``configure`` installs it), read by the self-metrics.
limiter = RepeatLimiter()


def masker(secrets: list[str] | None = None) -> TextMasker:
    """The sidecar's masker: the default rules, its environment's secrets, AWS credential shapes."""
    return TextMasker(KeyRedactor(), env_secrets() if secrets is None else secrets, aws_shapes=True)


def configure(
    level_spec: str = "INFO",
    fmt: str = "json",
    max_bytes: int = 16384,
    stream: TextIO | None = None,
    secrets: list[str] | None = None,
    repeat_limit: int = 10,
    repeat_interval_s: float = 60.0,
) -> None:
    """Installs the one handler; ``secrets`` defaults to the values of :data:`SECRET_ENV_VARS`.

    ``repeat_limit`` records of one kind pass per ``repeat_interval_s`` (:class:`RepeatLimiter`).
    ``level_spec`` is parsed by the library's parser (``INFO,botocore=WARNING``); a bad spec raises
    ``ValueError`` (the configuration check reports it before this runs).
    """
    spec = parse_level_spec(level_spec)
    root_level = spec.root if spec.root is not None else logging.INFO
    mask = masker(secrets)
    formatter: logging.Formatter
    if fmt == "json":
        formatter = JsonFormatter(masker=mask, max_bytes=max_bytes, access_fields=False)
    else:
        formatter = TextFormatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", masker=mask, extras=True, max_bytes=max_bytes
        )
    handler = JsonStreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    global limiter
    limiter = RepeatLimiter(repeat_limit, repeat_interval_s)
    limiter.attach(handler)
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(root_level)
    for name, level in spec.loggers.items():
        logging.getLogger(name).setLevel(level)
    for name in SENSITIVE_LOGGERS:
        if name in spec.loggers:
            continue
        # Named through a parent (``botocore=DEBUG``): inherit that choice, even over an earlier configure().
        level = logging.NOTSET if _named(name, spec.loggers) else max(logging.INFO, root_level)
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(True)


def _named(logger: str, per_logger: dict[str, int]) -> bool:
    """Whether the level spec names ``logger`` or one of its parents (``botocore=DEBUG`` is a choice)."""
    return any(logger == name or logger.startswith(name + ".") for name in per_logger)
