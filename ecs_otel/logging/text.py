"""``TextFormatter``: the human-readable alternative (``ECS_OTEL_LOG_FORMAT=text``), still trace-correlated
and masked exactly like the JSON lines (message, exception text and stack go through the same masker)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from itertools import filterfalse

from ecs_otel.logging.correlation import TraceCorrelation
from ecs_otel.logging.encoder import safe_str
from ecs_otel.logging.fields import RECORD_ATTRIBUTES
from ecs_otel.redaction import KeyRedactor, TextMasker, redact_data, redact_value

DEFAULT_TEXT_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"
_IS_RECORD_ATTRIBUTE = RECORD_ATTRIBUTES.__contains__


class TextFormatter(logging.Formatter):
    """UTC ``asctime`` with milliseconds and ``Z``; appends ``trace_id=… span_id=…`` inside a span.

    ``redact`` (default on), ``deny_list``, ``secrets`` and ``masker`` as for
    :class:`~ecs_otel.logging.JsonFormatter`; ``extras=True`` appends the record's ``extra=`` fields as
    ``key=value`` (sensitive keys redacted, strings masked), as the sidecar's text logs do; ``max_bytes`` cuts
    longer lines.
    """

    converter = staticmethod(time.gmtime)
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        style: str = "%",
        *,
        redact: bool = True,
        deny_list: Iterable[str] | None = None,
        secrets: Iterable[str] | None = None,
        masker: TextMasker | None = None,
        extras: bool = False,
        max_bytes: int | None = None,
        **_: object,
    ) -> None:
        super().__init__(fmt or DEFAULT_TEXT_FORMAT, datefmt, style)  # type: ignore[arg-type]
        self._trace = TraceCorrelation()
        if redact and masker is None:
            masker = TextMasker(KeyRedactor(deny_list), secrets)
        self._masker = masker if redact else None
        self._extras = extras
        self._max_bytes = max_bytes

    def format(self, record: logging.LogRecord) -> str:
        text = self._format(record)
        return text if self._max_bytes is None else text[: self._max_bytes]

    def _format(self, record: logging.LogRecord) -> str:
        """``logging.Formatter.format`` with the message, the exception text and the stack masked on the way
        out (``record.exc_text`` keeps the unmasked traceback other handlers may use)."""
        masker = self._masker
        message = record.getMessage()
        record.message = masker.mask(message) if masker is not None else message
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if self._extras:
            text += self._format_extras(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text = f"{text}\n{masker.mask(record.exc_text) if masker is not None else record.exc_text}"
        if record.stack_info:
            stack = self.formatStack(record.stack_info)
            text = f"{text}\n{masker.mask(stack) if masker is not None else stack}"
        fields = self._trace()
        if fields is None:
            return text
        suffix = f" trace_id={fields[0]} span_id={fields[1]}"
        if "\n" in text:  # keep the ids on the first line, next to the message
            head, _, rest = text.partition("\n")
            return f"{head}{suffix}\n{rest}"
        return text + suffix

    def _format_extras(self, record: logging.LogRecord) -> str:
        masker = self._masker
        parts = []
        for key in filterfalse(_IS_RECORD_ATTRIBUTE, record.__dict__):
            if key.startswith("_"):
                continue
            value = record.__dict__[key]
            if masker is not None:
                if isinstance(value, Mapping | list | tuple) and not masker.redactor.is_sensitive(key):
                    value = redact_data(value, masker)
                value = redact_value(key, value, masker.redactor, masker)
            text = value if isinstance(value, str) else safe_str(value)
            if masker is not None and text is not value:
                text = masker.mask(text)
            parts.append(f" {key}={text}")
        return "".join(parts)
