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
import warnings
from collections.abc import Mapping
from typing import Any

from ecs_otel.redaction import TextMasker, redact_data, redact_mapping


def _logging_handler_class() -> tuple[type[Any], bool]:
    """The OTLP ``LoggingHandler`` to build on, and whether it is the SDK's deprecated one.

    opentelemetry-sdk 1.39 moved the handler to opentelemetry-instrumentation-logging and deprecates its own
    (a ``DeprecationWarning`` per construction). The new one is used when installed; otherwise the SDK's,
    built without the warning: the choice is ours, not the user's, so it is not theirs to read.
    """
    try:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
    except ImportError:
        from opentelemetry.sdk._logs import LoggingHandler as SdkLoggingHandler

        return SdkLoggingHandler, True
    return LoggingHandler, False


def masked_logging_handler(logger_provider: Any, masker: TextMasker | None = None) -> logging.Handler:
    """A ``LoggingHandler`` for ``logger_provider`` whose records are masked (imports the SDK on call)."""
    base, deprecated = _logging_handler_class()

    class MaskedLoggingHandler(base):  # type: ignore[misc,valid-type]
        """``LoggingHandler`` whose translated body and attributes are masked; never raises into logging."""

        def __init__(self) -> None:
            with warnings.catch_warnings():
                if deprecated:
                    warnings.simplefilter("ignore", DeprecationWarning)
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
