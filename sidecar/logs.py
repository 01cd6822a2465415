"""The sidecar's own logs: JSON lines on stderr (or plain text), levels per logger, lines capped.

Same keys as the app library's JSON logs (``timestamp``, ``level``, ``logger``, ``message``)
so one log query serves both containers; ``extra={...}`` fields become top-level keys.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sys
from collections.abc import Mapping
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
#: Environment variables whose values are masked wherever they show up in a log line.
SECRET_ENV_VARS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "ECS_OTEL_RECEIVER_TOKEN")
MASK = "***"

_SENSITIVE_NAMES = (
    r"authorization|proxy-authorization|x-amz-security-token|x-amz-credential|x-amz-signature|signature"
    r"|aws_secret_access_key|aws_session_token|aws_security_token|secret_?access_?key|session_?token"
)
#: ``'Authorization': b'AWS4-HMAC-SHA256 Credential=..., Signature=...'`` (a dict's repr): the whole quoted value.
_QUOTED_VALUE = re.compile(rf"(?i)((?:{_SENSITIVE_NAMES})['\"]?\s*[:=]\s*b?)(['\"])(?:(?!\2).)*\2")
#: ``x-amz-security-token:VALUE`` (canonical request lines), ``X-Amz-Signature=VALUE&`` (query strings),
#: ``Authorization: AWS4-HMAC-SHA256 ...`` (header lines): up to the end of the value.
_HEADER_LINE = re.compile(r"(?i)((?<![\w-])(?:authorization|proxy-authorization)\s*[:=]\s*)(?![\s'\"*])[^\r\n'\"]+")
_BARE_VALUE = re.compile(rf"(?i)((?<![\w-])(?:{_SENSITIVE_NAMES})\s*[:=]\s*)(?![\s'\"*])[^\s&'\",;}}\]]+")
#: STS session tokens (they begin with a base64-encoded ``origin``/``er/aws`` preamble), and
#: 40-character secret access keys (mixed case or ``/`` ``+``: a 40-hex SHA-1 is left alone).
_SESSION_TOKEN = re.compile(r"(?:IQoJb3JpZ2lu|AgoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz)[A-Za-z0-9/+]{20,}=*")
_SECRET_KEY = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")


def _looks_like_secret_key(match: re.Match[str]) -> str:
    text = match.group(0)
    upper = any(c.isupper() for c in text)
    lower = any(c.islower() for c in text)
    if "/" in text or "+" in text or (upper and lower and any(c.isdigit() for c in text)):
        return MASK
    return text


class SecretMaskingFilter(logging.Filter):
    """Masks credentials in every record that reaches the sidecar's handler.

    Defence in depth behind :data:`SENSITIVE_LOGGERS`: a library that logs a signed request
    from a logger nobody thought of still cannot put a token in the container's log stream.
    Masks the values (never the names) of ``Authorization``, ``X-Amz-Security-Token``,
    ``X-Amz-Credential`` and signatures, strings shaped like AWS secret keys or STS session
    tokens, and the literal values of the :data:`SECRET_ENV_VARS` the sidecar was started with.
    """

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        # Longest first, so a secret containing another is masked whole; short values would mask noise.
        self._secrets = sorted({s for s in secrets or [] if len(s) >= 8}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        text = _QUOTED_VALUE.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", text)
        text = _HEADER_LINE.sub(lambda m: f"{m.group(1)}{MASK}", text)
        text = _BARE_VALUE.sub(lambda m: f"{m.group(1)}{MASK}", text)
        text = _SESSION_TOKEN.sub(MASK, text)
        return _SECRET_KEY.sub(_looks_like_secret_key, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the formatter report it as it would anyway
            return True
        record.msg, record.args = self.mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and not key.startswith("_") and isinstance(value, str):
                setattr(record, key, self.mask(value))
        return True


def env_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    return [env[name] for name in SECRET_ENV_VARS if env.get(name)]


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


def configure(
    level_spec: str = "INFO",
    fmt: str = "json",
    max_bytes: int = 16384,
    stream: TextIO | None = None,
    secrets: list[str] | None = None,
) -> None:
    """Installs the one handler; ``secrets`` defaults to the values of :data:`SECRET_ENV_VARS`."""
    root_level, per_logger = parse_levels(level_spec)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLinesFormatter(max_bytes) if fmt == "json" else TextFormatter(max_bytes))
    handler.addFilter(SecretMaskingFilter(env_secrets() if secrets is None else secrets))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(root_level)
    for name, level in per_logger.items():
        logging.getLogger(name).setLevel(level)
    for name in SENSITIVE_LOGGERS:
        if name in per_logger:
            continue
        # Named through a parent (``botocore=DEBUG``): inherit that choice, even over an earlier configure().
        logging.getLogger(name).setLevel(logging.NOTSET if _named(name, per_logger) else max(logging.INFO, root_level))
    logging.captureWarnings(True)


def _named(logger: str, per_logger: dict[str, int]) -> bool:
    """Whether the level spec names ``logger`` or one of its parents (``botocore=DEBUG`` is a choice)."""
    return any(logger == name or logger.startswith(name + ".") for name in per_logger)
