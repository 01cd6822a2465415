"""``JsonFormatter``: one JSON object per line, trace-correlated, redacted, size-capped, never failing.

Most of the cost of a log call is the ``logging`` module itself, so the formatter aims to be close to
free: static fields (service, ECS context, ``static_fields``) are encoded once and spliced in as bytes;
the timestamp's ``YYYY-MM-DDTHH:MM:SS`` prefix is cached per second; a record without ``extra=`` fields
or exception is one small dict and one encoder call.

Line shape (keys in this order; optional ones only when they apply)::

    {"timestamp":"2026-01-01T00:00:00.123Z","level":"INFO","logger":"app","message":"…",
     "trace_id":"…32 hex…","span_id":"…16 hex…","xray_trace_id":"1-…","trace_sampled":true,
     <extra= fields>,"exception.type":"…","exception.message":"…","exception.stacktrace":"…",
     "stack_info":"…","truncated":true,"service":"…","ecs":{…},<static_fields>}
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Mapping
from itertools import filterfalse
from typing import Any

from ecs_otel import environment_variables as V
from ecs_otel._setting import SettingError
from ecs_otel.logging import fields as F
from ecs_otel.logging.access import ACCESS_LOGGERS, access_fields
from ecs_otel.logging.correlation import TraceCorrelation
from ecs_otel.logging.encoder import (
    WalkState,
    exception_type_name,
    get_dumps,
    safe_str,
    scrub_surrogates,
    stdlib_dumps,
    strip_escapes,
    to_jsonable,
)
from ecs_otel.redaction import (
    REDACTED,
    KeyRedactor,
    TextMasker,
    is_db_statement_key,
    is_url_key,
    scrub_statement,
    scrub_url,
)
from ecs_otel.settings import parse_variable

DEFAULT_MAX_BYTES = 16384
"""The awslogs driver (Docker's 16 KiB line buffer) splits longer lines into several CloudWatch events."""
MAX_MAX_BYTES = 1024 * 1024
"""CloudWatch Logs' event size limit."""
MIN_MAX_BYTES = 1024
MAX_BYTES_ENV = V.ECS_OTEL_LOG_MAX_BYTES

_MS_SUFFIX = tuple(f".{i:03d}Z" for i in range(1000))
_SHRINK_FIXED = frozenset(
    {F.TIMESTAMP, F.LEVEL, F.TRACE_ID, F.SPAN_ID, F.XRAY_TRACE_ID, F.TRACE_SAMPLED, F.TRUNCATED}
)
_TAIL_FIRST = frozenset({F.EXCEPTION_STACKTRACE, F.STACK_INFO})
_ELLIPSIS = "…"
_IS_RECORD_ATTRIBUTE = F.RECORD_ATTRIBUTES.__contains__
_PLAIN_RECORD_SIZE = F.PLAIN_RECORD_SIZE
_PLAN_LIMIT = 4096
_I64_MIN = -(2**63)
_U64_MAX = 2**64 - 1


def _level_name(record: logging.LogRecord) -> str:
    """``level`` for a record whose ``levelname`` was replaced by something that is not a name."""
    levelno = getattr(record, "levelno", None)
    if type(levelno) is int:
        name = logging.getLevelName(levelno)
        if type(name) is str:
            return name
    return safe_str(getattr(record, "levelname", ""))[:64] or "NOTSET"


def max_bytes_from_env(default: int = DEFAULT_MAX_BYTES) -> int:
    """``ECS_OTEL_LOG_MAX_BYTES``, parsed as :mod:`ecs_otel.settings` declares it (bounds included); ValueError
    naming the variable when it is not an integer within the bounds (the caller decides how to react)."""
    raw = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not raw:
        return default
    try:
        return int(parse_variable(MAX_BYTES_ENV, raw))
    except SettingError as exc:
        raise ValueError(str(exc)) from None


def validate_max_bytes(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"max_bytes must be an integer, got {value!r}")
    if not MIN_MAX_BYTES <= value <= MAX_MAX_BYTES:
        raise ValueError(f"max_bytes must be between {MIN_MAX_BYTES} and {MAX_MAX_BYTES}, got {value}")
    return value


class JsonFormatter(logging.Formatter):
    """A ``logging.Formatter`` writing one JSON object per record (see the module docstring for the shape).

    Usable from ``logging.config.dictConfig``::

        "formatters": {"json": {"()": "ecs_otel.logging.JsonFormatter", "service": "checkout"}}

    Options: ``service`` (written as ``service``), ``ecs`` / ``ecs_context`` (mapping written under ``ecs``,
    see :func:`ecs_otel.logging.fields.ecs_log_context`), ``static_fields`` (more constant top-level
    fields), ``redact`` (default on: the rules of :mod:`ecs_otel.redaction` for keys, URL and statement
    values, and masking of the message, string fields, exception message and traceback), ``deny_list``
    (replaces the default list), ``secrets`` (literal values to mask; default: those of the credential
    environment variables), ``masker`` (a ready :class:`~ecs_otel.redaction.TextMasker`, overriding
    ``deny_list``/``secrets``), ``max_bytes`` (line
    cap including the newline; default ``ECS_OTEL_LOG_MAX_BYTES`` or 16384), ``encoder`` (``auto``,
    ``orjson``, ``stdlib``), ``access_fields`` (default on: uvicorn/gunicorn access records also get
    ``http.request.method``, ``url.path``, ``http.response.status_code``, ``client.address``...).
    ``fmt``/``datefmt``/``style`` are accepted for compatibility and ignored.

    ``extra=`` fields go to the top level; one whose key equals a key the formatter writes itself is
    written as ``extra.<key>`` instead, so ``timestamp``, ``level``, ``logger`` and ``message`` (and the
    trace, exception and static keys) are always the formatter's own: a search on ``level`` must never meet
    a user's value. ``logging`` itself refuses ``extra=`` keys that name ``LogRecord`` attributes
    (``levelname``, ``msg``, ``message``, ``asctime``...); when a filter or record factory sets such an
    attribute directly, the record's own attribute is what is written, except a ``levelname`` that is not
    a non-empty string, for which ``level`` is the name of ``levelno`` (a level name is a string; a filter
    that renames ``WARNING`` to ``WARN`` is respected). Counters: ``truncated_records``, ``format_errors``, ``plans_uncached``
    (distinct ``extra=`` keys beyond the 4096 whose handling is memoised).
    """

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        style: str = "%",
        validate: bool = True,
        *,
        service: str | None = None,
        ecs: Mapping[str, Any] | None = None,
        ecs_context: Mapping[str, Any] | None = None,
        static_fields: Mapping[str, Any] | None = None,
        redact: bool = True,
        deny_list: Iterable[str] | None = None,
        secrets: Iterable[str] | None = None,
        masker: TextMasker | None = None,
        max_bytes: int | None = None,
        encoder: str = "auto",
        trace_correlation: bool = True,
        access_fields: bool = True,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(datefmt=datefmt)
        self._dumps = get_dumps(encoder)
        self.encoder = "stdlib" if self._dumps is stdlib_dumps else "orjson"
        self._max_bytes = max_bytes_from_env() if max_bytes is None else validate_max_bytes(max_bytes)
        self._max_str = self._max_bytes  # a longer string cannot fit anyway: cut before encoding it
        if redact and masker is None:
            masker = TextMasker(KeyRedactor(deny_list), secrets)
        self._masker: TextMasker | None = masker if redact else None
        self._redactor: KeyRedactor | None = masker.redactor if masker is not None and redact else None
        self._trace = TraceCorrelation() if trace_correlation else None
        self._access_fields = access_fields
        self._ts: tuple[int, str] = (-1, "")
        self._plans: dict[str, tuple[str, int]] = {}
        self.truncated_records = 0
        self.format_errors = 0
        self.plans_uncached = 0

        static: dict[str, Any] = {}
        if service:
            static[F.SERVICE] = str(service)
        ecs_fields = F.ecs_log_context(ecs if ecs is not None else ecs_context)
        if ecs_fields:
            static[F.ECS] = ecs_fields
        for key, value in (static_fields or {}).items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"static_fields keys must be non-empty strings, got {key!r}")
            if key in F.RESERVED_OUTPUT_KEYS:
                raise ValueError(f"static field {key!r} would replace a key the formatter writes itself")
            static[key] = value
        st = WalkState(self._redactor, self._max_str, self._masker)
        static_obj = {k: to_jsonable(v, st) for k, v in static.items()}
        if self._redactor is not None:
            static_obj = {k: (REDACTED if self._redactor.is_sensitive(k) else v) for k, v in static_obj.items()}
        encoded = self._dumps(scrub_surrogates(static_obj)) if static_obj else b"{}"
        self._static = b"," + encoded[1:-1] if static_obj else b""
        self._static_text = self._static.decode("utf-8") + "}"
        if len(self._static) > self._max_bytes // 2:
            raise ValueError(
                f"static fields take {len(self._static)} bytes, more than half of max_bytes={self._max_bytes}"
            )
        self._budget = self._max_bytes - 1 - len(self._static)  # the newline counts against the cap
        self._taken = F.RESERVED_OUTPUT_KEYS | frozenset(static)

    @property
    def max_bytes(self) -> int:
        return self._max_bytes

    # -- public entry points ---------------------------------------------------------------------------

    def format(self, record: logging.LogRecord) -> str:
        try:
            raw = self._render(record)
        except Exception as exc:
            self.format_errors += 1
            raw = self._emergency(record, exc)
        if self._static:
            return raw.decode("utf-8")[:-1] + self._static_text
        return raw.decode("utf-8")

    def format_bytes(self, record: logging.LogRecord) -> bytes:
        """The line as UTF-8 bytes, without the trailing newline. Never raises."""
        try:
            raw = self._render(record)
        except Exception as exc:  # a bug or a hostile record: still emit the record
            self.format_errors += 1
            raw = self._emergency(record, exc)
        if self._static:
            return raw[:-1] + self._static + b"}"
        return raw

    # -- the hot path ----------------------------------------------------------------------------------

    def _render(self, record: logging.LogRecord) -> bytes:
        """The record's own fields as one JSON object (static fields are spliced in by the caller).

        Key names are literals here (the same as in :mod:`ecs_otel.logging.fields`): constants cost
        nothing, module attribute lookups cost a dict probe each, on every record.
        """
        msg = record.msg
        if record.args or type(msg) is not str:
            msg = self._message(record)
        if "\x1b" in msg:  # terminal colours (werkzeug's status codes): a C-level scan, no call otherwise
            msg = strip_escapes(msg)
        masker = self._masker
        # TextMasker.quick_skip inlined: most messages hold no separator and no scheme word.
        if masker is not None and (masker.always or ":" in msg or "=" in msg or "earer " in msg or "asic " in msg):
            msg = masker.mask(msg)
        truncated = False
        if len(msg) > self._max_str:
            msg = msg[: self._max_str]
            truncated = True
        level = record.levelname
        if type(level) is not str or not level:
            level = _level_name(record)
        name = record.name
        if type(name) is not str:
            name = safe_str(name)

        created = record.created
        sec = int(created)
        ts_sec, prefix = self._ts
        if sec != ts_sec:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            self._ts = (sec, prefix)
        trace_fields = self._trace
        tf = trace_fields() if trace_fields is not None else None
        if tf is None:
            d: dict[str, Any] = {
                "timestamp": prefix + _MS_SUFFIX[int((created - sec) * 1000)],
                "level": level,
                "logger": name,
                "message": msg,
            }
        else:
            d = {
                "timestamp": prefix + _MS_SUFFIX[int((created - sec) * 1000)],
                "level": level,
                "logger": name,
                "message": msg,
                "trace_id": tf[0],
                "span_id": tf[1],
                "xray_trace_id": tf[2],
                "trace_sampled": tf[3],
            }
        if name in ACCESS_LOGGERS and self._access_fields:
            self._add_access(record, d)
        rd = record.__dict__
        if len(rd) > _PLAIN_RECORD_SIZE and self._add_extras(rd, d):
            truncated = True
        if record.exc_info or record.exc_text:
            self._add_exception(record, d)
        if record.stack_info:
            stack = self.formatStack(record.stack_info)
            stack = stack if type(stack) is str else safe_str(stack)
            d["stack_info"] = masker.mask(stack) if masker is not None else stack
        if truncated:
            d["truncated"] = True

        try:
            raw = self._dumps(d)
        except Exception:
            d = self._careful(d)
            raw = self._dumps(d)
        if truncated or len(raw) > self._budget:
            raw = self._fit(d, raw)
        return raw

    def _message(self, record: logging.LogRecord) -> str:
        try:
            msg = record.getMessage()
        except Exception as exc:  # wrong %-args: keep the template and the args rather than lose the line
            msg = f"{safe_str(record.msg)} [unformattable args {safe_str(record.args)}: {safe_str(exc)}]"
        return msg if type(msg) is str else safe_str(msg)

    def _add_access(self, record: logging.LogRecord, d: dict[str, Any]) -> None:
        fields = access_fields(record.name, record.args)
        if not fields:
            return
        if self._redactor is not None:
            d["message"] = scrub_url(d["message"], self._redactor, text=True)  # the request line carries the query
            for key in ("url.query", "url.full", "url.original", "http.target"):
                if type(fields.get(key)) is str:
                    fields[key] = scrub_url(fields[key], self._redactor)
        for key, value in fields.items():
            d[key] = value if type(value) is not str or len(value) <= self._max_str else value[: self._max_str]

    def _plan_for(self, key: str) -> tuple[str, int]:
        """How an ``extra=`` key is written: (output key, 0 plain / 1 redacted / 2 URL-scrubbed /
        3 statement-scrubbed), memoised."""
        out_key = F.EXTRA_PREFIX + key if key in self._taken else key
        action = 0
        if self._redactor is not None:
            if self._redactor.is_sensitive(key):
                action = 1
            elif is_url_key(key):
                action = 2
            elif is_db_statement_key(key):
                action = 3
        plan = (out_key, action)
        if len(self._plans) < _PLAN_LIMIT:
            self._plans[key] = plan
        else:
            self.plans_uncached += 1
        return plan

    def _add_extras(self, rd: dict[str, Any], d: dict[str, Any]) -> bool:
        plans = self._plans
        max_str = self._max_str
        masker = self._masker
        st: WalkState | None = None
        # filterfalse over the builtin __contains__ runs in C: only the (few) extra keys reach Python code.
        for key in filterfalse(_IS_RECORD_ATTRIBUTE, rd):
            plan = plans.get(key)
            out_key, action = plan if plan is not None else self._plan_for(key)
            value = rd[key]
            if action:
                if action == 1:
                    d[out_key] = REDACTED
                    continue
                if type(value) is str:
                    value = (scrub_url(value, self._redactor) if action == 2
                             else scrub_statement(value, "credentials", self._redactor))
            t = type(value)
            if t is str:
                if masker is not None and len(value) > 5:
                    value = masker.mask(value)
                if len(value) <= max_str:
                    d[out_key] = value
                    continue
            elif (
                (t is int and _I64_MIN <= value <= _U64_MAX)
                or (t is float and value - value == 0.0)
                or t is bool
                or value is None
            ):
                d[out_key] = value
                continue
            if st is None:
                st = WalkState(self._redactor, max_str, masker)
            d[out_key] = to_jsonable(value, st)
        return st is not None and st.truncated

    def _add_exception(self, record: logging.LogRecord, d: dict[str, Any]) -> None:
        """``exception.*`` fields; the message and the traceback go through the same masking as the message
        (the record's own ``exc_text`` cache keeps the unmasked text other handlers may format themselves)."""
        masker = self._masker
        ei = record.exc_info
        if isinstance(ei, tuple) and len(ei) == 3 and ei[0] is not None:
            d[F.EXCEPTION_TYPE] = exception_type_name(ei[0])
            message = safe_str(ei[1])
            d[F.EXCEPTION_MESSAGE] = masker.mask(message) if masker is not None else message
            if not record.exc_text:
                try:
                    record.exc_text = self.formatException(ei)
                except Exception as exc:
                    record.exc_text = f"<traceback unavailable: {safe_str(exc)}>"
        if record.exc_text:
            text = record.exc_text
            text = text if type(text) is str else safe_str(text)
            d[F.EXCEPTION_STACKTRACE] = masker.mask(text) if masker is not None else text

    # -- slow paths --------------------------------------------------------------------------------------

    def _careful(self, d: dict[str, Any]) -> dict[str, Any]:
        """Make every value JSON-model and UTF-8-safe; used when the fast encode raised."""
        st = WalkState(None, self._max_str)  # values were redacted and masked before the encode failed
        clean = scrub_surrogates({k: to_jsonable(v, st) for k, v in d.items()})
        if st.truncated:
            clean[F.TRUNCATED] = True
        return clean

    def _encoded_size(self, value: Any) -> int:
        return len(self._dumps(value))

    def _fit(self, d: dict[str, Any], raw: bytes) -> bytes:
        """Cut the largest fields until the line fits ``max_bytes``; mark it ``"truncated": true``."""
        self.truncated_records += 1
        if len(raw) <= self._budget:  # marked truncated earlier (string cut before encoding) and fits
            return raw
        original = d
        d = dict(d)
        d.pop(F.TRUNCATED, None)
        d[F.TRUNCATED] = True
        for _ in range(12):
            raw = self._dumps(d)
            over = len(raw) - self._budget
            if over <= 0:
                return raw
            best_key, best_size = None, 0
            for key, value in d.items():
                if key in _SHRINK_FIXED:
                    continue
                size = self._encoded_size(value)
                if size > best_size:
                    best_key, best_size = key, size
            if best_key is None or best_size * 4 < over:
                break  # many small fields: cutting one at a time would not converge
            value = d[best_key]
            text = value if type(value) is str else self._dumps(value).decode("utf-8")
            target = max(best_size - over - 16, 0)
            d[best_key] = self._cut(text, best_size, target, tail=best_key in _TAIL_FIRST)
        return self._minimal(original)

    @staticmethod
    def _cut(text: str, encoded_size: int, target: int, *, tail: bool) -> str:
        if target <= 2 or not text:
            return ""
        keep = int(len(text) * (target - 2) / max(encoded_size, 1)) - 1
        if keep <= 0:
            return ""
        return _ELLIPSIS + text[-keep:] if tail else text[:keep] + _ELLIPSIS

    def _minimal(self, d: dict[str, Any]) -> bytes:
        core = {k: d[k] for k in (F.TIMESTAMP, F.LEVEL, F.LOGGER) if k in d}
        for k in (F.LEVEL, F.LOGGER):
            if k in core:
                core[k] = str(core[k])[:64]
        core[F.MESSAGE] = ""
        for k in (F.TRACE_ID, F.SPAN_ID, F.XRAY_TRACE_ID, F.TRACE_SAMPLED):
            if k in d:
                core[k] = d[k]
        if type(d.get(F.EXCEPTION_TYPE)) is str:
            core[F.EXCEPTION_TYPE] = d[F.EXCEPTION_TYPE][:256]
        core[F.TRUNCATED] = True
        room = self._budget - len(self._dumps(core))
        message = d.get(F.MESSAGE, "")
        message = message if type(message) is str else ""
        for _ in range(6):
            size = self._encoded_size(message)
            if size <= room:
                break
            message = self._cut(message, size, room, tail=False)
        core[F.MESSAGE] = message
        raw = self._dumps(core)
        if len(raw) > self._budget:
            core[F.MESSAGE] = ""
            raw = self._dumps(core)
        return raw

    def _emergency(self, record: logging.LogRecord, exc: BaseException) -> bytes:
        try:
            created = float(getattr(record, "created", time.time()))
        except Exception:
            created = time.time()
        sec = int(created)
        message = safe_str(getattr(record, "msg", ""))[: self._max_bytes // 4]
        error = f"{exception_type_name(type(exc))}: {safe_str(exc)}"[:512]
        if self._masker is not None:
            message, error = self._masker.mask(message), self._masker.mask(error)
        obj = {
            F.TIMESTAMP: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
            + _MS_SUFFIX[min(max(int((created - sec) * 1000), 0), 999)],
            F.LEVEL: safe_str(getattr(record, "levelname", "ERROR"))[:64],
            F.LOGGER: safe_str(getattr(record, "name", "root"))[:256],
            F.MESSAGE: message,
            "formatter_error": error,
        }
        raw = stdlib_dumps(scrub_surrogates(obj))
        while len(raw) > self._budget and obj[F.MESSAGE]:
            obj[F.MESSAGE] = obj[F.MESSAGE][: len(obj[F.MESSAGE]) // 2]
            raw = stdlib_dumps(scrub_surrogates(obj))
        return raw
