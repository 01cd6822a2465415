"""The OTLP log bridge with the same masking as the stdout lines.

OpenTelemetry's ``LoggingHandler`` turns a record into an OTLP log record itself: the body from
``getMessage()``, every ``extra=`` field as an attribute, and ``exception.message`` /
``exception.stacktrace`` formatted from ``exc_info``. None of that passes through a formatter, so without
this subclass a secret masked on stdout would still be exported. Here the translated record's body and
attributes go through the rules of :mod:`ecs_otel.redaction` (the same :class:`TextMasker` the
formatters use) before it reaches the exporter.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from ecs_otel.redaction import TextMasker, redact_data, redact_mapping


def masked_logging_handler(logger_provider: Any, masker: TextMasker | None = None) -> logging.Handler:
    """A ``LoggingHandler`` for ``logger_provider`` whose records are masked (imports the SDK on call)."""
    from opentelemetry.sdk._logs import LoggingHandler

    class MaskedLoggingHandler(LoggingHandler):
        """``LoggingHandler`` whose translated body and attributes are masked; never raises into logging."""

        def __init__(self) -> None:
            super().__init__(level=logging.NOTSET, logger_provider=logger_provider)
            self.masker = masker if masker is not None else TextMasker()

        def _translate(self, record: logging.LogRecord) -> Any:
            translated = super()._translate(record)
            try:
                body = translated.body
                if isinstance(body, str):
                    translated.body = self.masker.mask(body)
                elif isinstance(body, Mapping | list | tuple):
                    translated.body = redact_data(body, self.masker)
                attributes = translated.attributes
                if attributes:
                    translated.attributes = dict(
                        redact_mapping(dict(attributes), self.masker.redactor, masker=self.masker)
                    )
            except Exception:  # keep the record; drop what could not be checked rather than send it
                translated.body = "[unmasked record withheld]"
                translated.attributes = {}
            return translated

    return MaskedLoggingHandler()
