"""``TextFormatter``: the human-readable alternative (``ECS_OTEL_LOG_FORMAT=text``), still trace-correlated."""

from __future__ import annotations

import logging
import time

from ecs_otel.logging.correlation import TraceCorrelation

DEFAULT_TEXT_FORMAT = "%(asctime)s %(levelname)s [%(name)s] %(message)s"


class TextFormatter(logging.Formatter):
    """UTC ``asctime`` with milliseconds and ``Z``; appends ``trace_id=… span_id=…`` inside a span."""

    converter = staticmethod(time.gmtime)
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def __init__(self, fmt: str | None = None, datefmt: str | None = None, style: str = "%", **_: object) -> None:
        super().__init__(fmt or DEFAULT_TEXT_FORMAT, datefmt, style)  # type: ignore[arg-type]
        self._trace = TraceCorrelation()

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = self._trace()
        if fields is None:
            return text
        suffix = f" trace_id={fields[0]} span_id={fields[1]}"
        if "\n" in text:  # keep the ids on the first line, next to the message
            head, _, rest = text.partition("\n")
            return f"{head}{suffix}\n{rest}"
        return text + suffix
