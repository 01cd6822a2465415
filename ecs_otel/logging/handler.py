"""``JsonStreamHandler``: a ``StreamHandler`` that always writes UTF-8, one whole line per write.

stdout is the source of truth: this handler only ever writes to a local stream (the container's stdout,
read by the log driver); it never waits on the network. OTLP export of log records, when enabled, is a
separate handler with its own bounded queue.
"""

from __future__ import annotations

import codecs
import logging
from typing import IO, Any


def _utf8_stream(stream: Any) -> bool:
    encoding = getattr(stream, "encoding", None)
    if not encoding:
        return True  # StringIO and friends take str as is
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


class JsonStreamHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Writes each formatted record plus ``\\n`` in one ``write`` call, then flushes.

    When the stream's text encoding is not UTF-8 (an old ``C`` locale), the line goes to the stream's
    binary buffer as UTF-8 instead of failing on the first non-ASCII character.
    """

    ecs_otel_managed = True
    """Marks the handler ``configure_logging`` installed, so a second call replaces rather than adds."""
    _ecs_otel = True
    """The marker ``ecs_otel._setup`` uses for handlers the library (not the app) installed."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)
        self._binary = self._binary_for(self.stream)

    @staticmethod
    def _binary_for(stream: Any) -> Any:
        if _utf8_stream(stream):
            return None
        return getattr(stream, "buffer", None)

    def setStream(self, stream: IO[str]) -> IO[str] | None:
        old = super().setStream(stream)
        self._binary = self._binary_for(self.stream)
        return old

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            binary = self._binary
            if binary is None:
                self.stream.write(line)
            else:
                self.stream.flush()
                binary.write(line.encode("utf-8", "backslashreplace"))
            self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)
