"""The sidecar's own logs: JSON lines on stderr (or plain text), levels per logger, lines capped.

Same keys as the app library's JSON logs (``timestamp``, ``level``, ``logger``, ``message``)
so one log query serves both containers; ``extra={...}`` fields become top-level keys.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any, TextIO

import orjson

ROOT_LOGGER = "ecs_otel.sidecar"

#: LogRecord attributes that are not user extras.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonLinesFormatter(logging.Formatter):
    def __init__(self, max_bytes: int = 16384) -> None:
        super().__init__()
        self.max_bytes = max_bytes

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        doc: dict[str, Any] = {
            "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        line = orjson.dumps(doc, default=str).decode()
        if len(line) > self.max_bytes:
            doc = {k: doc[k] for k in ("timestamp", "level", "logger")}
            doc["message"] = message[: max(0, self.max_bytes - 200)]
            doc["truncated"] = True
            line = orjson.dumps(doc, default=str).decode()
        return line


class TextFormatter(logging.Formatter):
    def __init__(self, max_bytes: int = 16384) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.max_bytes = max_bytes

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in extras.items())
        return line[: self.max_bytes]


def parse_levels(spec: str) -> tuple[int, dict[str, int]]:
    """``INFO,botocore=WARNING`` → (root level, per-logger levels). Raises ValueError on a bad level."""
    root = logging.INFO
    per: dict[str, int] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, level = part.rpartition("=")
        value = logging.getLevelName(level.strip().upper())
        if not isinstance(value, int):
            raise ValueError(f"unknown log level {level!r}")
        if sep:
            per[name.strip()] = value
        else:
            root = value
    return root, per


def configure(level_spec: str = "INFO", fmt: str = "json", max_bytes: int = 16384, stream: TextIO | None = None) -> None:
    root_level, per_logger = parse_levels(level_spec)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLinesFormatter(max_bytes) if fmt == "json" else TextFormatter(max_bytes))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(root_level)
    for name, level in per_logger.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(True)
